-- Active power interruptions per (conjunto, municipio), as ANEEL asks for them.
-- Implements docs/domain.md rules 1 to 6 over AGENCY_EVENT, SWITCH_PLAN_TASKS,
-- OMS_CONNECTIVITY and CISPERSL.
--
-- Portability: this one text runs unchanged on SQLite (rusqlite) and on Oracle 12c+
-- (ODPI-C / python-oracledb). Hence: unqualified table names (Oracle reaches the OMS
-- through synonyms), two named binds only (ag_id, the agency of the events, and dist, the
-- distributor of the devices), standard joins, COALESCE and CASE, no AS before a table
-- alias, no LIMIT, no boolean literals, no trailing semicolon. Comments name the binds
-- without their colon and avoid quotes, so that no bind parser can trip on them.
--
-- Output columns, in this order: conjunto, municipio, qtd_ucs_atendidas, qtd_programada,
-- qtd_nao_programada.
WITH
-- Rule 1: the active events of the agency.
--   IS_OPEN = T (not restored), HXGN_DT_ORACLE set (confirmed), DEV_ID > 0 with a null
--   DEV_ID counted as 0, and TYCOD <> UC_NOXFMR. A NULL TYCOD is EXCLUDED: in both engines
--   NULL <> x is unknown, not true, which is exactly what the distributor Oracle view does;
--   we keep that behaviour on purpose instead of adding an OR TYCOD IS NULL.
--   A null NUM_CUST counts as 0 (it adds nothing to either sum).
-- Rule 2: planned (PLANNED = 1) when NUM_1 appears as an OUTAGE_NUM in SWITCH_PLAN_TASKS.
--   EXISTS, not a join, so several tasks of one outage never multiply NUM_CUST.
ativos AS (
  SELECT e.NUM_1,
         e.DEV_NAME,
         COALESCE(e.NUM_CUST, 0) AS NUM_CUST,
         CASE
           WHEN EXISTS (SELECT 1
                          FROM SWITCH_PLAN_TASKS t
                         WHERE t.OUTAGE_NUM = e.NUM_1) THEN 1
           ELSE 0
         END AS PLANNED
    FROM AGENCY_EVENT e
   WHERE e.AG_ID = :ag_id
     AND e.IS_OPEN = 'T'
     AND e.HXGN_DT_ORACLE IS NOT NULL
     AND e.TYCOD <> 'UC_NOXFMR'
     AND COALESCE(e.DEV_ID, 0) > 0
),
-- Rule 3: where a device sits. The DISTINCT triples (DEV_NAME, CONJ, IBGE) from
--   OMS_CONNECTIVITY.DEV_NAME = CISPERSL.XFMR, for the distributor (dist bind), with
--   non-null transformer and IBGE code. DISTINCT keeps the many premises of one transformer
--   from multiplying NUM_CUST; a device feeding two municipios yields two triples, so its
--   event counts in both. Restricted to the devices of active events: same result, but it
--   never scans the whole network.
posicoes AS (
  SELECT DISTINCT c.DEV_NAME,
         c.CONJ,
         p.HXGN_COD_MUNICIPIO_IBGE AS IBGE
    FROM OMS_CONNECTIVITY c
    JOIN CISPERSL p
      ON p.XFMR = c.DEV_NAME
   WHERE c.DIST = :dist
     AND p.XFMR IS NOT NULL
     AND p.HXGN_COD_MUNICIPIO_IBGE IS NOT NULL
     AND c.DEV_NAME IN (SELECT a.DEV_NAME FROM ativos a)
),
-- Rule 4: NUM_CUST of each placed event added to the planned or the unplanned sum of its
--   (conjunto, municipio). Two events on one device both add.
-- Rule 6 (first half): only pairs with a planned or unplanned sum above 0.
afetados AS (
  SELECT ps.CONJ AS CONJUNTO,
         ps.IBGE AS MUNICIPIO,
         SUM(CASE WHEN a.PLANNED = 1 THEN a.NUM_CUST ELSE 0 END) AS QTD_PROGRAMADA,
         SUM(CASE WHEN a.PLANNED = 0 THEN a.NUM_CUST ELSE 0 END) AS QTD_NAO_PROGRAMADA
    FROM ativos a
    JOIN posicoes ps
      ON ps.DEV_NAME = a.DEV_NAME
   GROUP BY ps.CONJ, ps.IBGE
  HAVING SUM(CASE WHEN a.PLANNED = 1 THEN a.NUM_CUST ELSE 0 END) > 0
      OR SUM(CASE WHEN a.PLANNED = 0 THEN a.NUM_CUST ELSE 0 END) > 0
)
-- Rule 5: qtd_ucs_atendidas is the number of DISTINCT premises of the whole pair (every
--   transformer of the conjunto in that municipio, not only the affected ones), over the
--   same join and filters as rule 3. A correlated subquery, so it is computed only for
--   the few affected pairs (at most a few hundred), never for the whole network, and
--   returns one number per pair. Over a database link this is the cheapest shape: with all
--   four synonyms through one link Oracle sends the whole statement to the OMS site, where
--   the subquery runs next to the data; if it ever had to split the statement, each pair
--   would cost one remote round trip returning one row, where a grouped join would pull
--   the premises of every affected pair across the link. On SQLite every grouped shape
--   measured is slower: 2.84 times for a plain grouped join, 1.15 times for the best one,
--   which streams the pairs in order (benches/aggregation_shapes.rs, docs/oracle.md
--   section 8). check-oracle shows which plan Oracle chose.
-- Rule 6 (second half): ordered by conjunto, then municipio.
SELECT af.CONJUNTO AS conjunto,
       af.MUNICIPIO AS municipio,
       (SELECT COUNT(DISTINCT p2.PREMISE)
          FROM OMS_CONNECTIVITY c2
          JOIN CISPERSL p2
            ON p2.XFMR = c2.DEV_NAME
         WHERE c2.DIST = :dist
           AND c2.CONJ = af.CONJUNTO
           AND p2.HXGN_COD_MUNICIPIO_IBGE = af.MUNICIPIO
           AND p2.XFMR IS NOT NULL) AS qtd_ucs_atendidas,
       af.QTD_PROGRAMADA AS qtd_programada,
       af.QTD_NAO_PROGRAMADA AS qtd_nao_programada
  FROM afetados af
 ORDER BY af.CONJUNTO, af.MUNICIPIO
