-- Rule 5 as one grouped pass that SQLite streams without sorting (benches/aggregation_shapes.rs
-- puts this after rules 1 to 4 of sql/interrupcoes_ativas.sql, with ORDER BY CONJ, IBGE added
-- to the afetados block). The fastest grouped shape found for SQLite 3.54:
-- - afetados delivers its pairs in (conjunto, municipio) order and drives the loop (CROSS
--   JOIN fixes the join order in SQLite; in Oracle it is an inner join filtered by WHERE),
--   so the GROUP BY sees each pair's rows together and needs no sorter;
-- - it groups by the two key columns only and joins the sums back afterwards, so each
--   premise row costs one two-column comparison more than the correlated subquery does.
, atendidas AS (
  SELECT af.CONJUNTO,
         af.MUNICIPIO,
         COUNT(DISTINCT p2.PREMISE) AS QTD
    FROM afetados af
   CROSS JOIN OMS_CONNECTIVITY c2
   CROSS JOIN CISPERSL p2
   WHERE c2.CONJ = af.CONJUNTO
     AND c2.DIST = :dist
     AND p2.XFMR = c2.DEV_NAME
     AND p2.HXGN_COD_MUNICIPIO_IBGE = af.MUNICIPIO
   GROUP BY af.CONJUNTO, af.MUNICIPIO
)
SELECT af.CONJUNTO AS conjunto,
       af.MUNICIPIO AS municipio,
       at.QTD AS qtd_ucs_atendidas,
       af.QTD_PROGRAMADA AS qtd_programada,
       af.QTD_NAO_PROGRAMADA AS qtd_nao_programada
  FROM afetados af
  JOIN atendidas at
    ON at.CONJUNTO = af.CONJUNTO
   AND at.MUNICIPIO = af.MUNICIPIO
 ORDER BY af.CONJUNTO, af.MUNICIPIO
