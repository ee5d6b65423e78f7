-- =============================================================================
-- RADAR Interrupções: synonyms that let the one portable SQL text
-- (sql/interrupcoes_ativas.sql) name the OMS tables without schema or database link.
--
-- Run by : the service's user itself (RADAR_ORACLE_USER), in the SERVICE's database,
--          after 00_service_user.sql (CREATE SYNONYM) and after the OMS side has run
--          01_grants.sql.
-- When   : once; again whenever the OMS schema or the database link changes.
--          CREATE OR REPLACE makes re-running safe.
-- How    : sqlplus RADAR@//db-host:1521/SERVICE @sql/oracle/02_synonyms.sql
--          (prompts for the two parameters; or DEFINE them before @ to skip the prompts)
--
-- Substitution parameters (SQL*Plus):
--   &&oms_schema  owner of the InService OMS tables in the OMS database, e.g. INSERVICE
--   &&oms_dblink  database link from this schema to the OMS database, e.g. DBLINK_INSERVICE
--                 (a private link of this schema or a PUBLIC link)
--
-- Result: AGENCY_EVENT means &&oms_schema..AGENCY_EVENT@&&oms_dblink, and so on.
-- Note the double dot: in SQL*Plus the first dot ends the substitution variable's name.
-- =============================================================================
WHENEVER SQLERROR EXIT SQL.SQLCODE
SET VERIFY OFF

ACCEPT oms_schema CHAR PROMPT 'OMS schema (e.g. INSERVICE): '
ACCEPT oms_dblink CHAR PROMPT 'Database link to the OMS (e.g. DBLINK_INSERVICE): '

CREATE OR REPLACE SYNONYM AGENCY_EVENT      FOR &&oms_schema..AGENCY_EVENT@&&oms_dblink;
CREATE OR REPLACE SYNONYM SWITCH_PLAN_TASKS FOR &&oms_schema..SWITCH_PLAN_TASKS@&&oms_dblink;
CREATE OR REPLACE SYNONYM OMS_CONNECTIVITY  FOR &&oms_schema..OMS_CONNECTIVITY@&&oms_dblink;
CREATE OR REPLACE SYNONYM CISPERSL          FOR &&oms_schema..CISPERSL@&&oms_dblink;

-- Resolve each synonym now (reads no row): fails here with ORA-00942 / ORA-02019 /
-- ORA-01031 instead of at the first ANEEL poll.
SELECT COUNT(*) AS agency_event      FROM AGENCY_EVENT      WHERE ROWNUM = 0;
SELECT COUNT(*) AS switch_plan_tasks FROM SWITCH_PLAN_TASKS WHERE ROWNUM = 0;
SELECT COUNT(*) AS oms_connectivity  FROM OMS_CONNECTIVITY  WHERE ROWNUM = 0;
SELECT COUNT(*) AS cispersl          FROM CISPERSL          WHERE ROWNUM = 0;

PROMPT Synonyms created and resolved. Next: radar-interrupcoes check-oracle
