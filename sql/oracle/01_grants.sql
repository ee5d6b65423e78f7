-- =============================================================================
-- RADAR Interrupções: read-only grants on the OMS tables, in the OMS database.
--
-- Run by : the owner of the OMS schema (&&oms_schema) or a DBA of the OMS database.
-- When   : once, before 02_synonyms.sql. Re-running is harmless.
-- How    : sqlplus INSERVICE@//oms-host:1521/OMS @sql/oracle/01_grants.sql
--
-- Substitution parameters:
--   &&oms_schema  owner of the OMS tables, e.g. INSERVICE
--   &&link_user   the user the database link &&oms_dblink connects as (see
--                 USER_DB_LINKS.USERNAME / DBA_DB_LINKS.USERNAME in the service's database).
--                 If the link connects as &&oms_schema itself, nothing here is needed.
--
-- READ (Oracle 12c and later) allows queries only: unlike SELECT it does not allow
-- SELECT ... FOR UPDATE, so the service cannot lock OMS rows. On 11g use SELECT instead.
-- Nothing else is granted: the service never writes to the OMS.
-- =============================================================================
WHENEVER SQLERROR EXIT SQL.SQLCODE
SET VERIFY OFF

ACCEPT oms_schema CHAR PROMPT 'OMS schema (e.g. INSERVICE): '
ACCEPT link_user  CHAR PROMPT 'User the database link connects as: '

GRANT READ ON &&oms_schema..AGENCY_EVENT      TO &&link_user;
GRANT READ ON &&oms_schema..SWITCH_PLAN_TASKS TO &&link_user;
GRANT READ ON &&oms_schema..OMS_CONNECTIVITY  TO &&link_user;
GRANT READ ON &&oms_schema..CISPERSL          TO &&link_user;

PROMPT READ granted on the four OMS tables to &&link_user..
