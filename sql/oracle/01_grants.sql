-- =============================================================================
-- RADAR Interrupcoes: read-only grants on the OMS tables, in the OMS database.
--
-- Run by : the owner of the OMS schema or a DBA of the OMS database, connected to the OMS
--          database's own service (in a multitenant database, its PDB service, never the
--          container root: the script refuses to run there).
-- When   : once, before 02_synonyms.sql. Re-running is harmless.
-- How    : two positional parameters, the OMS schema and the user the database link
--          connects as, e.g.
--            sqlplus -S -L "INSERVICE@//oms-host:1521/OMS_PDB" @sql/oracle/01_grants.sql INSERVICE RADAR_LINK </dev/null
--          or, inside SQL*Plus, DEFINE 1 = INSERVICE and DEFINE 2 = RADAR_LINK before @.
--          It never prompts; a missing or invalid parameter stops it with an error.
--
-- Parameters:
--   1  owner of the OMS tables, e.g. INSERVICE
--   2  the user the database link connects as (USER_DB_LINKS.USERNAME or
--      DBA_DB_LINKS.USERNAME in the service's database). If the link connects as the OMS
--      owner itself, this script is not needed.
--
-- READ (Oracle 12c and later) allows queries only: unlike SELECT it does not allow
-- SELECT ... FOR UPDATE, so the service cannot lock OMS rows. On 11g use SELECT instead.
-- Nothing else is granted: the service never writes to the OMS.
-- =============================================================================
WHENEVER OSERROR EXIT FAILURE
WHENEVER SQLERROR EXIT FAILURE
SET VERIFY OFF

DEFINE oms_schema = "&1"
DEFINE link_user = "&2"

-- Refuse empty or malformed names, and the container root.
DECLARE
  checked VARCHAR2(128);
BEGIN
  checked := DBMS_ASSERT.SIMPLE_SQL_NAME('&oms_schema');
  checked := DBMS_ASSERT.SIMPLE_SQL_NAME('&link_user');
  IF SYS_CONTEXT('USERENV', 'CON_NAME') = 'CDB$ROOT' THEN
    RAISE_APPLICATION_ERROR(-20001, 'connected to CDB$ROOT: connect to the PDB service '
      || '(host:port/pdb_service_name), not with / AS SYSDBA');
  END IF;
END;
/

GRANT READ ON &oms_schema..AGENCY_EVENT      TO &link_user;
GRANT READ ON &oms_schema..SWITCH_PLAN_TASKS TO &link_user;
GRANT READ ON &oms_schema..OMS_CONNECTIVITY  TO &link_user;
GRANT READ ON &oms_schema..CISPERSL          TO &link_user;

PROMPT READ granted on the four OMS tables to &link_user..
EXIT SUCCESS
