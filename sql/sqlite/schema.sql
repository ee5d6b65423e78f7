-- The four OMS tables that sql/interrupcoes_ativas.sql reads, as the SQLite adapter (demo
-- database and contract-suite fixtures) creates them. Column names are the OMS ones
-- (docs/domain.md); types are the nearest SQLite affinities. Indexes live in indexes.sql so
-- the demo generator can bulk-load first and index afterwards.

-- One row per outage event.
CREATE TABLE AGENCY_EVENT (
  NUM_1          INTEGER NOT NULL PRIMARY KEY, -- event number
  AG_ID          INTEGER,                      -- agency (370)
  IS_OPEN        TEXT,                         -- T while not restored, F once closed
  NUM_CUST       INTEGER,                      -- UCs affected
  DEV_ID         INTEGER,                      -- device id; null or 0 means no device
  DEV_NAME       TEXT,                         -- device name (a transformer for placement)
  TYCOD          TEXT,                         -- event type code
  HXGN_DT_ORACLE TEXT                          -- confirmation timestamp, ISO-8601; null = unconfirmed
);

-- Switching-plan tasks; an event with at least one task is planned.
CREATE TABLE SWITCH_PLAN_TASKS (
  ID         INTEGER NOT NULL PRIMARY KEY,
  OUTAGE_NUM INTEGER                             -- AGENCY_EVENT.NUM_1
);

-- Network devices, with their conjunto and distributor.
CREATE TABLE OMS_CONNECTIVITY (
  DEV_NAME TEXT,
  CONJ     INTEGER,                              -- conjunto eletrico code
  DIST     TEXT                                  -- distributor, text: 370
);

-- Consumer premises (UCs) and the transformer that feeds each one.
CREATE TABLE CISPERSL (
  PREMISE                 INTEGER,               -- UC id (not unique: the OMS has duplicates)
  XFMR                    TEXT,                  -- OMS_CONNECTIVITY.DEV_NAME of its transformer
  HXGN_COD_MUNICIPIO_IBGE INTEGER                -- 7-digit IBGE code of the municipio
);
