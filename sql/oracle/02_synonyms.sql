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
-- How    : the service user's password on standard input (never on the command line),
--          then the OMS schema and the database link, e.g.
--            printf '%s\n' "$PW" | sqlplus -S -L "RADAR@//db-host:1521/SERVICE_PDB" @sql/oracle/02_synonyms.sql INSERVICE DBLINK_INSERVICE
--          or, inside SQL*Plus, DEFINE 1 = INSERVICE and DEFINE 2 = DBLINK_INSERVICE
--          before @. It never prompts: a parameter left out is empty, and an empty or
--          invalid one stops the script with an error (exit status 1).
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

-- A parameter left out becomes empty instead of prompting: a query that returns no row
-- still defines its NEW_VALUE variables, and leaves the ones given untouched.
SET FEEDBACK OFF
COLUMN 1 NEW_VALUE 1 NOPRINT
COLUMN 2 NEW_VALUE 2 NOPRINT
SELECT '' "1", '' "2" FROM dual WHERE ROWNUM = 0;
SET FEEDBACK ON

DEFINE oms_schema = "&1"
DEFINE oms_dblink = "&2"

-- Refuse empty or malformed names.
DECLARE
  checked VARCHAR2(128);
BEGIN
  IF '&oms_schema' IS NULL OR '&oms_dblink' IS NULL THEN
    RAISE_APPLICATION_ERROR(-20002, 'two parameters needed: the OMS schema and the database '
      || 'link, e.g. @sql/oracle/02_synonyms.sql INSERVICE DBLINK_INSERVICE');
  END IF;
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
