-- =============================================================================
-- RADAR Interrupcoes: the snapshot store, in the SERVICE's own schema (never in the OMS).
--
-- Run by : the service's user itself (RADAR_ORACLE_USER), in the SERVICE's database,
--          connected to the same service the service uses (in a multitenant database, the
--          PDB service), after 00_service_user.sql (CREATE TABLE and a quota).
-- When   : for RADAR_STORE=oracle, before the first start, and again after every upgrade
--          of the service (the service checks at start-up that the schema has the version
--          it needs, and says so in its log when it has not). Re-runnable: a step already
--          applied is skipped, and a run stopped half way is simply run again.
-- How    : the service user's password on standard input (never on the command line),
--          no parameter, e.g.
--            printf '%s\n' "$PW" | sqlplus -S -L "RADAR@//db-host:1521/SERVICE_PDB" @sql/oracle/03_store.sql
--          It never prompts, and exits with status 1 on any error other than the ones a
--          re-run meets on purpose (below).
--
-- The history that answers dthRecuperacao, and the per-tick claims through which the
-- replicas agree on which one queries the OMS. Same tables, columns and schema versions
-- as the SQLite store (src/store/sqlite/schema.rs, sql/sqlite/store.sql); instants are
-- milliseconds since the Unix epoch (UTC), so the service's SQL is the same on both
-- engines. The service inserts, reads and deletes (retention purge) rows; it never alters
-- these tables.
--
-- Schema versions. radar_schema_version lists the steps applied (version, description,
-- when). Each step below is one PL/SQL block that runs only while its version is not
-- listed, and lists it at its end. Oracle 12c to 21c have no CREATE ... IF NOT EXISTS, so
-- each DDL statement of a step runs through ddl(), which ignores ORA-00955 ("name is
-- already used by an existing object": created by an earlier, interrupted run, or by the
-- first version of this script, which kept no version) and nothing else.
-- The next schema change is a new block at the end: the next version, its DDL through
-- ddl() (an ALTER TABLE ... ADD also ignoring ORA-01430, "column being added already
-- exists"), the same step for SQLite, and the version the service needs raised
-- (store::schema::LATEST). Steps only add, so a replica of the previous version keeps
-- working during a rolling upgrade.
-- =============================================================================
WHENEVER OSERROR EXIT FAILURE
WHENEVER SQLERROR EXIT FAILURE

-- The applied steps.
DECLARE
  name_in_use EXCEPTION;
  PRAGMA EXCEPTION_INIT(name_in_use, -955);
BEGIN
  EXECUTE IMMEDIATE 'CREATE TABLE radar_schema_version (
    version       NUMBER(10)    NOT NULL,
    description   VARCHAR2(200) NOT NULL,
    applied_at_ms NUMBER(19)    NOT NULL,
    CONSTRAINT radar_schema_version_pk PRIMARY KEY (version)
  )';
EXCEPTION
  WHEN name_in_use THEN NULL;
END;
/

-- Version 1: snapshots, their items and the source rows they left out, tick claims.
DECLARE
  name_in_use EXCEPTION;
  PRAGMA EXCEPTION_INIT(name_in_use, -955);
  applied NUMBER;
  PROCEDURE ddl(statement IN VARCHAR2) IS
  BEGIN
    EXECUTE IMMEDIATE statement;
  EXCEPTION
    WHEN name_in_use THEN NULL;
  END;
BEGIN
  SELECT COUNT(*) INTO applied FROM radar_schema_version WHERE version = 1;
  IF applied = 0 THEN
    ddl('CREATE TABLE radar_snapshot (
      snapshot_id     VARCHAR2(36)  NOT NULL,
      collected_at_ms NUMBER(19)    NOT NULL,
      tick_at_ms      NUMBER(19),
      run_trigger     VARCHAR2(16)  NOT NULL,
      source_name     VARCHAR2(16)  NOT NULL,
      instance_id     VARCHAR2(128) NOT NULL,
      item_count      NUMBER(10)    NOT NULL,
      rejected_count  NUMBER(10)    NOT NULL,
      CONSTRAINT radar_snapshot_pk PRIMARY KEY (snapshot_id)
    )');
    -- One snapshot per tick, cluster-wide: a second insert fails with ORA-00001. Rows
    -- with a null tick (start-up and manual runs) are not indexed, so any number may exist.
    ddl('CREATE UNIQUE INDEX radar_snapshot_tick_uk ON radar_snapshot (tick_at_ms)');
    ddl('CREATE INDEX radar_snapshot_collected_ix ON radar_snapshot (collected_at_ms)');
    ddl('CREATE TABLE radar_snapshot_item (
      snapshot_id        VARCHAR2(36) NOT NULL,
      item_position      NUMBER(10)   NOT NULL,
      ide_conjunto       NUMBER(10)   NOT NULL,
      ide_municipio      NUMBER(10)   NOT NULL,
      qtd_ucs_atendidas  NUMBER(10)   NOT NULL,
      qtd_programada     NUMBER(10)   NOT NULL,
      qtd_nao_programada NUMBER(10)   NOT NULL,
      CONSTRAINT radar_snapshot_item_pk PRIMARY KEY (snapshot_id, item_position)
    )');
    ddl('CREATE TABLE radar_snapshot_rejection (
      snapshot_id   VARCHAR2(36)   NOT NULL,
      item_position NUMBER(10)     NOT NULL,
      conjunto      NUMBER(19),
      municipio     NUMBER(19),
      reason        VARCHAR2(1000) NOT NULL,
      CONSTRAINT radar_snapshot_rejection_pk PRIMARY KEY (snapshot_id, item_position)
    )');
    ddl('CREATE TABLE radar_job_claim (
      job_name      VARCHAR2(64)  NOT NULL,
      fire_at_ms    NUMBER(19)    NOT NULL,
      instance_id   VARCHAR2(128) NOT NULL,
      claimed_at_ms NUMBER(19)    NOT NULL,
      CONSTRAINT radar_job_claim_pk PRIMARY KEY (job_name, fire_at_ms)
    )');
    INSERT INTO radar_schema_version (version, description, applied_at_ms)
    VALUES (1, 'snapshots, items, rejected rows, tick claims',
            ROUND((CAST(SYS_EXTRACT_UTC(SYSTIMESTAMP) AS DATE) - DATE '1970-01-01') * 86400000));
    COMMIT;
  END IF;
END;
/

PROMPT Snapshot store ready. The service's user needs no other privilege on it (it owns it).
EXIT SUCCESS
