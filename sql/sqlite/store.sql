-- The snapshot store in the service's own SQLite file (RADAR_STORE_SQLITE_PATH): the history
-- that answers dthRecuperacao, and the per-tick claims through which replicas sharing the
-- file agree on which one queries the source. Schema version 1: the service runs it as the
-- first migration step (src/store/sqlite/schema.rs), at start-up and whenever it finds the
-- schema missing, and records it in radar_schema_version. Every statement is idempotent, so
-- a file created before versions were kept is brought to version 1 with its rows. Same
-- tables and columns as sql/oracle/03_store.sql. Instants are milliseconds since the Unix
-- epoch (UTC).

-- One row per stored snapshot.
CREATE TABLE IF NOT EXISTS radar_snapshot (
  snapshot_id     TEXT    NOT NULL PRIMARY KEY, -- UUID chosen by the writer
  collected_at_ms INTEGER NOT NULL,             -- when the source was queried
  tick_at_ms      INTEGER,                      -- cron tick it belongs to; null for start-up and manual runs
  run_trigger     TEXT    NOT NULL,             -- startup, cron, manual
  source_name     TEXT    NOT NULL,             -- sqlite, oracle
  instance_id     TEXT    NOT NULL,             -- the replica that queried the source
  item_count      INTEGER NOT NULL,
  rejected_count  INTEGER NOT NULL
);
-- One snapshot per tick, cluster-wide: a second insert fails with SQLITE_CONSTRAINT.
CREATE UNIQUE INDEX IF NOT EXISTS radar_snapshot_tick_uk ON radar_snapshot (tick_at_ms);
CREATE INDEX IF NOT EXISTS radar_snapshot_collected_ix ON radar_snapshot (collected_at_ms);

-- The items of a snapshot, in ANEEL's order.
CREATE TABLE IF NOT EXISTS radar_snapshot_item (
  snapshot_id        TEXT    NOT NULL,
  item_position      INTEGER NOT NULL,
  ide_conjunto       INTEGER NOT NULL,
  ide_municipio      INTEGER NOT NULL,
  qtd_ucs_atendidas  INTEGER NOT NULL,
  qtd_programada     INTEGER NOT NULL,
  qtd_nao_programada INTEGER NOT NULL,
  PRIMARY KEY (snapshot_id, item_position)
);

-- Source rows a snapshot left out (validation), so every replica reports the same missing
-- pairs.
CREATE TABLE IF NOT EXISTS radar_snapshot_rejection (
  snapshot_id   TEXT    NOT NULL,
  item_position INTEGER NOT NULL,
  conjunto      INTEGER,
  municipio     INTEGER,
  reason        TEXT    NOT NULL,
  PRIMARY KEY (snapshot_id, item_position)
);

-- Who owns a cron tick of a job: the first replica to insert the row.
CREATE TABLE IF NOT EXISTS radar_job_claim (
  job_name      TEXT    NOT NULL,
  fire_at_ms    INTEGER NOT NULL,  -- the tick's scheduled fire time
  instance_id   TEXT    NOT NULL,
  claimed_at_ms INTEGER NOT NULL,
  PRIMARY KEY (job_name, fire_at_ms)
);
