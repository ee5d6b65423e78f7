-- Rule 5 as one grouped join of the affected pairs to the network (benches/aggregation_shapes.rs
-- puts this after rules 1 to 4 of sql/interrupcoes_ativas.sql). The plain way to write it:
-- SQLite sorts every premise row of every affected pair for the GROUP BY.
SELECT af.CONJUNTO AS conjunto,
       af.MUNICIPIO AS municipio,
       COUNT(DISTINCT p2.PREMISE) AS qtd_ucs_atendidas,
       af.QTD_PROGRAMADA AS qtd_programada,
       af.QTD_NAO_PROGRAMADA AS qtd_nao_programada
  FROM afetados af
  JOIN OMS_CONNECTIVITY c2
    ON c2.CONJ = af.CONJUNTO
   AND c2.DIST = :dist
  JOIN CISPERSL p2
    ON p2.XFMR = c2.DEV_NAME
   AND p2.HXGN_COD_MUNICIPIO_IBGE = af.MUNICIPIO
 GROUP BY af.CONJUNTO, af.MUNICIPIO, af.QTD_PROGRAMADA, af.QTD_NAO_PROGRAMADA
 ORDER BY af.CONJUNTO, af.MUNICIPIO
