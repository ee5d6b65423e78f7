-- =============================================================================
-- RADAR Interrupcoes: synonyms that let the one portable SQL text
-- (sql/interrupcoes_ativas.sql) name the OMS tables without schema or database link.
--
-- Run by : the service's user itself (RADAR_ORACLE_USER), in the SERVICE's database,
--          connected to the same service the service uses (in a multitenant database, the
--          PDB service), after 00_service_user.sql (CREATE SYNONYM) and after the OMS side
--          has run 01_grants.sql.
-- When   : once; again whenever the OMS schema or the database link changes.
--          CREATE OR REPLACE makes re-running safe.
-- How    : two positional parameters, the OMS schema and the database link, e.g.
--            sqlplus -S -L "RADAR@//db-host:1521/SERVICE_PDB" @sql/oracle/02_synonyms.sql INSERVICE DBLINK_INSERVICE </dev/null
--          or, inside SQL*Plus, DEFINE 1 = INSERVICE and DEFINE 2 = DBLINK_INSERVICE
--          before @. It never prompts; a missing or invalid parameter stops it.
--
-- Parameters:
--   1  owner of the InService OMS tables in the OMS database, e.g. INSERVICE
--   2  database link from this schema to the OMS database, e.g. DBLINK_INSERVICE
--      (a private link of this schema or a PUBLIC link; a dotted global name is accepted)
--
-- Result: AGENCY_EVENT means INSERVICE.AGENCY_EVENT at DBLINK_INSERVICE, and so on.
-- Note the double dot below: in SQL*Plus the first dot ends the substitution variable.
-- =============================================================================
WHENEVER OSERROR EXIT FAILURE
WHENEVER SQLERROR EXIT FAILURE
SET VERIFY OFF

DEFINE oms_schema = "&1"
DEFINE oms_dblink = "&2"

-- Refuse empty or malformed names.
DECLARE
  checked VARCHAR2(128);
BEGIN
  checked := DBMS_ASSERT.SIMPLE_SQL_NAME('&oms_schema');
  checked := DBMS_ASSERT.QUALIFIED_SQL_NAME('&oms_dblink');
END;
/

CREATE OR REPLACE SYNONYM AGENCY_EVENT      FOR &oms_schema..AGENCY_EVENT@&oms_dblink;
CREATE OR REPLACE SYNONYM SWITCH_PLAN_TASKS FOR &oms_schema..SWITCH_PLAN_TASKS@&oms_dblink;
CREATE OR REPLACE SYNONYM OMS_CONNECTIVITY  FOR &oms_schema..OMS_CONNECTIVITY@&oms_dblink;
CREATE OR REPLACE SYNONYM CISPERSL          FOR &oms_schema..CISPERSL@&oms_dblink;

-- Resolve each synonym now (reads no row): fails here with ORA-00942 / ORA-02019 /
-- ORA-01031 instead of at the first ANEEL poll.
SELECT COUNT(*) AS agency_event      FROM AGENCY_EVENT      WHERE ROWNUM = 0;
SELECT COUNT(*) AS switch_plan_tasks FROM SWITCH_PLAN_TASKS WHERE ROWNUM = 0;
SELECT COUNT(*) AS oms_connectivity  FROM OMS_CONNECTIVITY  WHERE ROWNUM = 0;
SELECT COUNT(*) AS cispersl          FROM CISPERSL          WHERE ROWNUM = 0;

PROMPT Synonyms created and resolved. Next: radar-interrupcoes check-oracle
EXIT SUCCESS
