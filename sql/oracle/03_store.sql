-- =============================================================================
-- RADAR Interrupcoes: the snapshot store, in the SERVICE's own schema (never in the OMS).
--
-- Run by : the service's user itself (RADAR_ORACLE_USER), in the SERVICE's database,
--          connected to the same service the service uses (in a multitenant database, the
--          PDB service), after 00_service_user.sql (CREATE TABLE and a quota).
-- When   : once, for RADAR_STORE=oracle. Not idempotent: re-running stops at the first
--          existing object (ORA-00955), with exit status 1, changing nothing.
-- How    : the service user's password on standard input (never on the command line),
--          no parameter, e.g.
--            printf '%s\n' "$PW" | sqlplus -S -L "RADAR@//db-host:1521/SERVICE_PDB" @sql/oracle/03_store.sql
--          It never prompts.
--
-- The history that answers dthRecuperacao, and the per-tick claims through which the
-- replicas agree on which one queries the OMS. Same tables and columns as
-- sql/sqlite/store.sql; instants are milliseconds since the Unix epoch (UTC), so the
-- service's SQL is the same on both engines. The service inserts, reads and deletes
-- (retention purge) rows; it never alters these tables.
-- =============================================================================
WHENEVER OSERROR EXIT FAILURE
WHENEVER SQLERROR EXIT FAILURE

CREATE TABLE radar_snapshot (
  snapshot_id     VARCHAR2(36)  NOT NULL,
  collected_at_ms NUMBER(19)    NOT NULL,
  tick_at_ms      NUMBER(19),
  run_trigger     VARCHAR2(16)  NOT NULL,
  source_name     VARCHAR2(16)  NOT NULL,
  instance_id     VARCHAR2(128) NOT NULL,
  item_count      NUMBER(10)    NOT NULL,
  rejected_count  NUMBER(10)    NOT NULL,
  CONSTRAINT radar_snapshot_pk PRIMARY KEY (snapshot_id)
);
-- One snapshot per tick, cluster-wide: a second insert fails with ORA-00001. Rows with a
-- null tick (start-up and manual runs) are not indexed, so any number of them may exist.
CREATE UNIQUE INDEX radar_snapshot_tick_uk ON radar_snapshot (tick_at_ms);
CREATE INDEX radar_snapshot_collected_ix ON radar_snapshot (collected_at_ms);

CREATE TABLE radar_snapshot_item (
  snapshot_id        VARCHAR2(36) NOT NULL,
  item_position      NUMBER(10)   NOT NULL,
  ide_conjunto       NUMBER(10)   NOT NULL,
  ide_municipio      NUMBER(10)   NOT NULL,
  qtd_ucs_atendidas  NUMBER(10)   NOT NULL,
  qtd_programada     NUMBER(10)   NOT NULL,
  qtd_nao_programada NUMBER(10)   NOT NULL,
  CONSTRAINT radar_snapshot_item_pk PRIMARY KEY (snapshot_id, item_position)
);

CREATE TABLE radar_snapshot_rejection (
  snapshot_id   VARCHAR2(36)   NOT NULL,
  item_position NUMBER(10)     NOT NULL,
  conjunto      NUMBER(19),
  municipio     NUMBER(19),
  reason        VARCHAR2(1000) NOT NULL,
  CONSTRAINT radar_snapshot_rejection_pk PRIMARY KEY (snapshot_id, item_position)
);

CREATE TABLE radar_job_claim (
  job_name      VARCHAR2(64)  NOT NULL,
  fire_at_ms    NUMBER(19)    NOT NULL,
  instance_id   VARCHAR2(128) NOT NULL,
  claimed_at_ms NUMBER(19)    NOT NULL,
  CONSTRAINT radar_job_claim_pk PRIMARY KEY (job_name, fire_at_ms)
);

PROMPT Snapshot store created. The service's user needs no other privilege on it (it owns it).
EXIT SUCCESS
