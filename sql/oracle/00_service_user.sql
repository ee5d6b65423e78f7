-- =============================================================================
-- RADAR Interrupcoes: privileges of the service's own user, in the SERVICE's database.
--
-- Run by : a DBA of the database the service connects to (RADAR_ORACLE_CONNECT_STRING),
--          connected to that database's own service: in a multitenant database, the PDB
--          service, never the container root (grants made in CDB$ROOT to a PDB user fail
--          with ORA-01917; the script refuses to run there).
-- When   : once, after the DBA has created the user (CREATE USER), before 02_synonyms.sql.
--          Re-running is harmless.
-- How    : the DBA's password on standard input (never on the command line), then the
--          parameters, e.g.
--            printf '%s\n' "$PW" | sqlplus -S -L "DBA_USER@//db-host:1521/SERVICE_PDB" @sql/oracle/00_service_user.sql RADAR
--          or, inside SQL*Plus, DEFINE 1 = RADAR before running it with @. It never
--          prompts: a parameter left out is empty, and an empty or invalid one stops the
--          script with an error (exit status 1).
--
-- Parameters:
--   1  the service's user (RADAR_ORACLE_USER), e.g. RADAR. It must exist.
--   2  (optional) CREATE_DATABASE_LINK: also grant CREATE DATABASE LINK, when the
--      service's schema must own its database link to the OMS database itself. Left
--      out: no such grant (the link exists already, or a DBA creates a PUBLIC one).
--
-- The service only reads the OMS. It needs to log in, its schema needs the synonyms that
-- 02_synonyms.sql creates (CREATE SYNONYM) over a database link to the OMS database, and
-- the snapshot store's tables of 03_store.sql (CREATE TABLE and a quota of 1G on the
-- user's DEFAULT_TABLESPACE, where 03_store.sql creates them; a larger or unlimited quota
-- is left as it is). About 7 days x 48 ticks x a few hundred rows: megabytes.
-- =============================================================================
WHENEVER OSERROR EXIT FAILURE
WHENEVER SQLERROR EXIT FAILURE
SET VERIFY OFF
SET SERVEROUTPUT ON

-- A parameter left out becomes empty instead of prompting: a query that returns no row
-- still defines its NEW_VALUE variables, and leaves the ones given untouched.
SET FEEDBACK OFF
COLUMN 1 NEW_VALUE 1 NOPRINT
COLUMN 2 NEW_VALUE 2 NOPRINT
SELECT '' "1", '' "2" FROM dual WHERE ROWNUM = 0;
SET FEEDBACK ON

DEFINE radar_user = "&1"
DEFINE link_privilege = "&2"

-- Refuse the container root, an empty or malformed user name, a user that does not
-- exist, and an unknown second parameter.
DECLARE
  checked    VARCHAR2(128);
  user_count NUMBER;
BEGIN
  IF SYS_CONTEXT('USERENV', 'CON_NAME') = 'CDB$ROOT' THEN
    RAISE_APPLICATION_ERROR(-20001, 'connected to CDB$ROOT: connect to the PDB service '
      || '(host:port/pdb_service_name), not with / AS SYSDBA');
  END IF;
  IF '&radar_user' IS NULL THEN
    RAISE_APPLICATION_ERROR(-20002, 'parameter 1 is missing: the service''s user '
      || '(RADAR_ORACLE_USER), e.g. @sql/oracle/00_service_user.sql RADAR');
  END IF;
  checked := DBMS_ASSERT.SIMPLE_SQL_NAME('&radar_user');
  SELECT COUNT(*) INTO user_count FROM dba_users WHERE username = UPPER('&radar_user');
  IF user_count = 0 THEN
    RAISE_APPLICATION_ERROR(-20003, 'user ' || UPPER('&radar_user') || ' does not exist '
      || 'in ' || SYS_CONTEXT('USERENV', 'CON_NAME') || ': CREATE USER it first');
  END IF;
  IF '&link_privilege' IS NOT NULL AND UPPER('&link_privilege') <> 'CREATE_DATABASE_LINK' THEN
    RAISE_APPLICATION_ERROR(-20004, 'parameter 2 must be CREATE_DATABASE_LINK or left out, '
      || 'not &link_privilege');
  END IF;
END;
/

GRANT CREATE SESSION TO &radar_user;
GRANT CREATE SYNONYM TO &radar_user;
-- The snapshot store (03_store.sql): the service's own tables, in its default tablespace.
GRANT CREATE TABLE TO &radar_user;

DECLARE
  ts_name  VARCHAR2(128);
  ts_quota NUMBER;
BEGIN
  SELECT default_tablespace INTO ts_name
    FROM dba_users WHERE username = UPPER('&radar_user');
  SELECT MAX(max_bytes) INTO ts_quota
    FROM dba_ts_quotas
   WHERE username = UPPER('&radar_user') AND tablespace_name = ts_name;
  IF ts_quota = -1 OR ts_quota >= 1024 * 1024 * 1024 THEN
    DBMS_OUTPUT.PUT_LINE('Quota on ' || ts_name || ' kept: '
      || CASE WHEN ts_quota = -1 THEN 'unlimited' ELSE ts_quota || ' bytes' END);
  ELSE
    EXECUTE IMMEDIATE 'ALTER USER ' || DBMS_ASSERT.SIMPLE_SQL_NAME('&radar_user')
      || ' QUOTA 1G ON ' || DBMS_ASSERT.ENQUOTE_NAME(ts_name, FALSE);
    DBMS_OUTPUT.PUT_LINE('Quota on ' || ts_name || ': 1G');
  END IF;
  IF UPPER('&link_privilege') = 'CREATE_DATABASE_LINK' THEN
    EXECUTE IMMEDIATE 'GRANT CREATE DATABASE LINK TO '
      || DBMS_ASSERT.SIMPLE_SQL_NAME('&radar_user');
    DBMS_OUTPUT.PUT_LINE('CREATE DATABASE LINK granted');
  END IF;
END;
/

PROMPT Privileges granted to &radar_user.. Next: the database link, 01_grants.sql in the OMS database, then 02_synonyms.sql and 03_store.sql as &radar_user..
EXIT SUCCESS
