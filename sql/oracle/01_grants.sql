-- =============================================================================
-- RADAR Interrupcoes: read-only grants on the OMS tables, in the OMS database.
--
-- Run by : the owner of the OMS schema or a DBA of the OMS database, connected to the OMS
--          database's own service (in a multitenant database, its PDB service, never the
--          container root: the script refuses to run there).
-- When   : once, before 02_synonyms.sql. Re-running is harmless.
-- How    : the password of the user who runs it on standard input (never on the command
--          line), then the OMS schema and the user the database link connects as, e.g.
--            printf '%s\n' "$PW" | sqlplus -S -L "INSERVICE@//oms-host:1521/OMS_PDB" @sql/oracle/01_grants.sql INSERVICE RADAR_LINK
--          or, inside SQL*Plus, DEFINE 1 = INSERVICE and DEFINE 2 = RADAR_LINK before @.
--          It never prompts: a parameter left out is empty, and an empty or invalid one
--          stops the script with an error (exit status 1).
--
-- Parameters:
--   1  owner of the OMS tables, e.g. INSERVICE
--   2  the user the database link connects as (USER_DB_LINKS.USERNAME or
--      DBA_DB_LINKS.USERNAME in the service's database). If the link connects as the OMS
--      owner itself, skip this script: that user reads its own tables already (a grant
--      to oneself fails with ORA-01749; the script refuses it with that advice).
--
-- READ (Oracle 12c and later) allows queries only: unlike SELECT it does not allow
-- SELECT ... FOR UPDATE, so the service cannot lock OMS rows. On 11g use SELECT instead.
-- Nothing else is granted: the service never writes to the OMS.
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
DEFINE link_user = "&2"

-- Refuse the container root, empty or malformed names, and a grant to the owner itself.
DECLARE
  checked VARCHAR2(128);
BEGIN
  IF SYS_CONTEXT('USERENV', 'CON_NAME') = 'CDB$ROOT' THEN
    RAISE_APPLICATION_ERROR(-20001, 'connected to CDB$ROOT: connect to the PDB service '
      || '(host:port/pdb_service_name), not with / AS SYSDBA');
  END IF;
  IF '&oms_schema' IS NULL OR '&link_user' IS NULL THEN
    RAISE_APPLICATION_ERROR(-20002, 'two parameters needed: the OMS schema and the user the '
      || 'database link connects as, e.g. @sql/oracle/01_grants.sql INSERVICE RADAR_LINK');
  END IF;
  checked := DBMS_ASSERT.SIMPLE_SQL_NAME('&oms_schema');
  checked := DBMS_ASSERT.SIMPLE_SQL_NAME('&link_user');
  IF UPPER('&oms_schema') = UPPER('&link_user') THEN
    RAISE_APPLICATION_ERROR(-20005, 'the database link connects as the OMS owner '
      || UPPER('&oms_schema') || ' itself, which reads its own tables already: nothing to '
      || 'grant, skip 01_grants.sql (a grant to oneself fails with ORA-01749)');
  END IF;
END;
/

GRANT READ ON &oms_schema..AGENCY_EVENT      TO &link_user;
GRANT READ ON &oms_schema..SWITCH_PLAN_TASKS TO &link_user;
GRANT READ ON &oms_schema..OMS_CONNECTIVITY  TO &link_user;
GRANT READ ON &oms_schema..CISPERSL          TO &link_user;

PROMPT READ granted on the four OMS tables to &link_user..
EXIT SUCCESS
