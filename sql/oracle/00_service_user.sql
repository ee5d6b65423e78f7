-- =============================================================================
-- RADAR Interrupcoes: privileges of the service's own user, in the SERVICE's database.
--
-- Run by : a DBA of the database the service connects to (RADAR_ORACLE_CONNECT_STRING),
--          connected to that database's own service: in a multitenant database, the PDB
--          service, never the container root (grants made in CDB$ROOT to a PDB user fail
--          with ORA-01917; the script refuses to run there).
-- When   : once, before 02_synonyms.sql. Re-running is harmless.
-- How    : one positional parameter, the service's user (RADAR_ORACLE_USER), e.g.
--            sqlplus -S -L "DBA_USER@//db-host:1521/SERVICE_PDB" @sql/oracle/00_service_user.sql RADAR </dev/null
--          or, inside SQL*Plus, DEFINE 1 = RADAR before running it with @. It never
--          prompts; a missing or invalid parameter stops it with an error (exit status 1).
--
-- The service only reads the OMS. It needs to log in, its schema needs the synonyms that
-- 02_synonyms.sql creates (CREATE SYNONYM) over a database link to the OMS database, and
-- the snapshot store's tables of 03_store.sql (CREATE TABLE and a quota; adjust the
-- tablespace USERS to the site's). About 7 days x 48 ticks x a few hundred rows: megabytes.
-- The database link itself (e.g. DBLINK_INSERVICE) normally exists already; if it does not,
-- also grant CREATE DATABASE LINK, or create a PUBLIC link as DBA.
-- =============================================================================
WHENEVER OSERROR EXIT FAILURE
WHENEVER SQLERROR EXIT FAILURE
SET VERIFY OFF

DEFINE radar_user = "&1"

-- Refuse an empty or malformed user name, and the container root.
DECLARE
  checked VARCHAR2(128);
BEGIN
  checked := DBMS_ASSERT.SIMPLE_SQL_NAME('&radar_user');
  IF SYS_CONTEXT('USERENV', 'CON_NAME') = 'CDB$ROOT' THEN
    RAISE_APPLICATION_ERROR(-20001, 'connected to CDB$ROOT: connect to the PDB service '
      || '(host:port/pdb_service_name), not with / AS SYSDBA');
  END IF;
END;
/

GRANT CREATE SESSION TO &radar_user;
GRANT CREATE SYNONYM TO &radar_user;
-- The snapshot store (03_store.sql): the service's own tables, in its own tablespace.
GRANT CREATE TABLE TO &radar_user;
ALTER USER &radar_user QUOTA 1G ON USERS;

-- Uncomment only if the service's schema must own the database link itself:
-- GRANT CREATE DATABASE LINK TO the service user;

PROMPT Privileges granted to &radar_user.. Next: 01_grants.sql in the OMS database, then 02_synonyms.sql (and 03_store.sql for RADAR_STORE=oracle) as &radar_user..
EXIT SUCCESS
