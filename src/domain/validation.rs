//! Validation of source rows: a bad row is left out and reported, never served.

use std::fmt;

use super::{InterrupcaoAtiva, RawInterrupcaoRow};

/// Smallest and largest 7-digit IBGE code.
const IBGE_RANGE: std::ops::RangeInclusive<i64> = 1_000_000..=9_999_999;

/// A source row that failed validation, with the key that identifies it and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowRejection {
    /// The row's (conjunto, município) as the source gave them (either may be null).
    pub conjunto: Option<i64>,
    /// IBGE code as the source gave it.
    pub municipio: Option<i64>,
    /// What was wrong, naming the ANEEL field.
    pub reason: String,
}

impl fmt::Display for RowRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: Option<i64>| v.map_or_else(|| "null".to_owned(), |v| v.to_string());
        write!(
            f,
            "conjunto={} municipio={}: {}",
            show(self.conjunto),
            show(self.municipio),
            self.reason
        )
    }
}

/// The outcome of validating a batch of rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidatedRows {
    /// Rows that may be served, in ANEEL's order: by conjunto, then município.
    pub items: Vec<InterrupcaoAtiva>,
    /// Rows left out, with the reason, in the source's order.
    pub rejected: Vec<RowRejection>,
}

/// Every row of a non-empty answer failed validation: a systematic problem (a column's type
/// or meaning changed), not a few bad rows. Serving the empty rest would tell ANEEL there
/// are no outages, so the answer must not replace the one being served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "all {count} rows from the source failed validation, keeping the last snapshot \
     (first: {first})"
)]
pub struct EveryRowRejected {
    /// How many rows were rejected.
    pub count: usize,
    /// The first rejection.
    pub first: RowRejection,
}

impl ValidatedRows {
    /// The rows, if they may replace the answer being served: an empty answer (no outage
    /// anywhere) may, an answer whose every row was rejected may not.
    pub fn servable(self) -> Result<Self, EveryRowRejected> {
        match self.rejected.first() {
            Some(first) if self.items.is_empty() => Err(EveryRowRejected {
                count: self.rejected.len(),
                first: first.clone(),
            }),
            _ => Ok(self),
        }
    }
}

/// Splits raw rows into valid items, in ANEEL's order, and rejections.
pub fn validate_rows(rows: impl IntoIterator<Item = RawInterrupcaoRow>) -> ValidatedRows {
    let mut out = ValidatedRows::default();
    for row in rows {
        match validate_row(&row) {
            Ok(item) => out.items.push(item),
            Err(reason) => out.rejected.push(RowRejection {
                conjunto: row.conjunto,
                municipio: row.municipio,
                reason,
            }),
        }
    }
    // ANEEL's order, whatever the source's column types made of ORDER BY (a VARCHAR2
    // conjunto sorts '10' before '9').
    out.items
        .sort_unstable_by_key(|i| (i.ide_conjunto, i.ide_municipio));
    out
}

fn validate_row(row: &RawInterrupcaoRow) -> Result<InterrupcaoAtiva, String> {
    let municipio = required("ideMunicipio", row.municipio)?;
    if !IBGE_RANGE.contains(&municipio) {
        return Err(format!(
            "ideMunicipio {municipio} is not a 7-digit IBGE code"
        ));
    }
    Ok(InterrupcaoAtiva {
        ide_conjunto: count("ideConjuntoUnidadeConsumidora", row.conjunto)?,
        ide_municipio: municipio as i32,
        qtd_ucs_atendidas: count("qtdUCsAtendidas", row.qtd_ucs_atendidas)?,
        qtd_ocorrencia_programada: count("qtdOcorrenciaProgramada", row.qtd_programada)?,
        qtd_ocorrencia_nao_programada: count("qtdOcorrenciaNaoProgramada", row.qtd_nao_programada)?,
    })
}

fn required(field: &str, value: Option<i64>) -> Result<i64, String> {
    value.ok_or_else(|| format!("{field} is null"))
}

/// A non-negative value that fits ANEEL's signed 32-bit integer.
fn count(field: &str, value: Option<i64>) -> Result<i32, String> {
    let value = required(field, value)?;
    if value < 0 {
        return Err(format!("{field} is negative ({value})"));
    }
    i32::try_from(value).map_err(|_| format!("{field} {value} does not fit a 32-bit integer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> RawInterrupcaoRow {
        RawInterrupcaoRow {
            conjunto: Some(12),
            municipio: Some(1_400_100),
            qtd_ucs_atendidas: Some(5000),
            qtd_programada: Some(10),
            qtd_nao_programada: Some(0),
        }
    }

    fn reason_of(row: RawInterrupcaoRow) -> String {
        let out = validate_rows([row]);
        assert!(out.items.is_empty(), "row should be rejected");
        out.rejected[0].reason.clone()
    }

    #[test]
    fn a_good_row_becomes_an_item() {
        let out = validate_rows([good()]);
        assert_eq!(
            out.items,
            vec![InterrupcaoAtiva {
                ide_conjunto: 12,
                ide_municipio: 1_400_100,
                qtd_ucs_atendidas: 5000,
                qtd_ocorrencia_programada: 10,
                qtd_ocorrencia_nao_programada: 0,
            }]
        );
        assert!(out.rejected.is_empty());
    }

    #[test]
    fn ibge_code_must_have_seven_digits() {
        for bad in [140_010, 14_001_000, 0, -1_400_100] {
            let reason = reason_of(RawInterrupcaoRow {
                municipio: Some(bad),
                ..good()
            });
            assert!(reason.contains("ideMunicipio"), "{reason}");
            assert!(reason.contains(&bad.to_string()), "{reason}");
        }
    }

    #[test]
    fn negative_counts_are_rejected_naming_the_field() {
        let reason = reason_of(RawInterrupcaoRow {
            qtd_nao_programada: Some(-3),
            ..good()
        });
        assert_eq!(reason, "qtdOcorrenciaNaoProgramada is negative (-3)");
    }

    #[test]
    fn counts_beyond_i32_are_rejected() {
        let reason = reason_of(RawInterrupcaoRow {
            qtd_ucs_atendidas: Some(i64::from(i32::MAX) + 1),
            ..good()
        });
        assert!(reason.starts_with("qtdUCsAtendidas 2147483648"), "{reason}");
    }

    #[test]
    fn nulls_are_rejected_naming_the_field() {
        assert_eq!(
            reason_of(RawInterrupcaoRow {
                conjunto: None,
                ..good()
            }),
            "ideConjuntoUnidadeConsumidora is null"
        );
        assert_eq!(
            reason_of(RawInterrupcaoRow {
                qtd_programada: None,
                ..good()
            }),
            "qtdOcorrenciaProgramada is null"
        );
    }

    #[test]
    fn items_come_in_aneel_order_whatever_the_source_order() {
        let row = |conjunto, municipio| RawInterrupcaoRow {
            conjunto: Some(conjunto),
            municipio: Some(municipio),
            ..good()
        };
        let out = validate_rows([row(10, 1_400_100), row(9, 1_400_175), row(9, 1_400_100)]);
        let keys: Vec<_> = out
            .items
            .iter()
            .map(|i| (i.ide_conjunto, i.ide_municipio))
            .collect();
        assert_eq!(keys, vec![(9, 1_400_100), (9, 1_400_175), (10, 1_400_100)]);
    }

    #[test]
    fn an_answer_whose_every_row_is_rejected_is_not_servable() {
        let bad = RawInterrupcaoRow {
            municipio: Some(140_010),
            ..good()
        };
        let e = validate_rows([bad.clone(), bad.clone()])
            .servable()
            .unwrap_err();
        assert_eq!(e.count, 2);
        assert!(e.to_string().contains("140010"), "{e}");
        // Some good rows, or none at all (no outage anywhere), may be served.
        assert!(validate_rows([good(), bad]).servable().is_ok());
        assert!(validate_rows([]).servable().is_ok());
    }

    #[test]
    fn bad_rows_do_not_hide_good_ones_and_keep_their_key() {
        let bad = RawInterrupcaoRow {
            conjunto: Some(99),
            municipio: None,
            ..good()
        };
        let out = validate_rows([good(), bad, good()]);
        assert_eq!(out.items.len(), 2);
        assert_eq!(out.rejected.len(), 1);
        assert_eq!(
            out.rejected[0].to_string(),
            "conjunto=99 municipio=null: ideMunicipio is null"
        );
    }
}
