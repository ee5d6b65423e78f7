-- =============================================================================
-- RADAR Interrupções: privileges of the service's own user, in the SERVICE's database.
--
-- Run by : a DBA of the database the service connects to (RADAR_ORACLE_CONNECT_STRING).
-- When   : once, before 02_synonyms.sql. Re-running is harmless.
-- How    : sqlplus / as sysdba @sql/oracle/00_service_user.sql
--          (or: DEFINE radar_user = RADAR  before @, to skip the prompt)
--
-- Substitution parameter:
--   &&radar_user  the service's user (RADAR_ORACLE_USER), e.g. RADAR
--
-- The service only reads the OMS. It needs to log in, its schema needs the synonyms that
-- 02_synonyms.sql creates (CREATE SYNONYM) over a database link to the OMS database, and
-- the snapshot store's tables of 03_store.sql (CREATE TABLE and a quota; adjust the
-- tablespace USERS to the site's). About 7 days x 48 ticks x a few hundred rows: megabytes.
-- The database link itself (e.g. DBLINK_INSERVICE) normally exists already; if it does not,
-- also grant CREATE DATABASE LINK, or create a PUBLIC link as DBA.
-- =============================================================================
WHENEVER SQLERROR EXIT SQL.SQLCODE
SET VERIFY OFF

ACCEPT radar_user CHAR PROMPT 'Service user (RADAR_ORACLE_USER): '

GRANT CREATE SESSION TO &&radar_user;
GRANT CREATE SYNONYM TO &&radar_user;
-- The snapshot store (03_store.sql): the service's own tables, in its own tablespace.
GRANT CREATE TABLE TO &&radar_user;
ALTER USER &&radar_user QUOTA 1G ON USERS;

-- Uncomment only if the service's schema must own the database link itself:
-- GRANT CREATE DATABASE LINK TO &&radar_user;

PROMPT Privileges granted to &&radar_user.. Next: 01_grants.sql in the OMS database, then 02_synonyms.sql as &&radar_user..
