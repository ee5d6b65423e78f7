//! The aggregated interruption row, as the source returns it and as ANEEL receives it.

/// Roraima Energia's `AGENCY_EVENT.AG_ID`: the default of the agency bind.
pub const AG_ID_RORAIMA: i64 = 370;

/// Roraima Energia's `OMS_CONNECTIVITY.DIST`: the default of the distributor bind.
pub const DIST_RORAIMA: &str = "370";

/// Longest `emailIndisponibilidade` ANEEL accepts.
pub const MAX_EMAIL_LEN: usize = 50;

/// Whether `email` may be the answer's `emailIndisponibilidade`: an address (`local@host.tld`,
/// no blanks) of at most [`MAX_EMAIL_LEN`] characters.
pub fn is_contact_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, host)) => {
            email.chars().count() <= MAX_EMAIL_LEN
                && !local.is_empty()
                && host.contains('.')
                && !host.starts_with('.')
                && !host.ends_with('.')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// Values bound into the aggregation SQL (`:ag_id`, `:dist`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryBinds {
    /// `AGENCY_EVENT.AG_ID` of the distributor's events (Roraima: 370).
    pub ag_id: i64,
    /// `OMS_CONNECTIVITY.DIST` of the distributor's devices (Roraima: `"370"`).
    pub dist: String,
}

impl Default for QueryBinds {
    fn default() -> Self {
        Self {
            ag_id: AG_ID_RORAIMA,
            dist: DIST_RORAIMA.to_owned(),
        }
    }
}

/// One row of the aggregation query, before validation. Every column may be null or out of
/// range in a real database, so every field is an optional wide integer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawInterrupcaoRow {
    /// `CONJ`: code of the conjunto elétrico.
    pub conjunto: Option<i64>,
    /// `HXGN_COD_MUNICIPIO_IBGE`: IBGE code of the município.
    pub municipio: Option<i64>,
    /// Distinct premises served in the (conjunto, município).
    pub qtd_ucs_atendidas: Option<i64>,
    /// Sum of `NUM_CUST` of active planned events.
    pub qtd_programada: Option<i64>,
    /// Sum of `NUM_CUST` of active unplanned events.
    pub qtd_nao_programada: Option<i64>,
}

impl From<[Option<i64>; 5]> for RawInterrupcaoRow {
    /// The five columns in the order of the aggregation SQL (`AGGREGATION_COLUMNS`).
    fn from(
        [
            conjunto,
            municipio,
            qtd_ucs_atendidas,
            qtd_programada,
            qtd_nao_programada,
        ]: [Option<i64>; 5],
    ) -> Self {
        Self {
            conjunto,
            municipio,
            qtd_ucs_atendidas,
            qtd_programada,
            qtd_nao_programada,
        }
    }
}

/// One item of ANEEL's `interrupcaoFornecimento`: UCs without power in one conjunto and
/// município. Built only by [`crate::domain::validate_rows`], so every value is in range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InterrupcaoAtiva {
    /// `ideConjuntoUnidadeConsumidora`.
    pub ide_conjunto: i32,
    /// `ideMunicipio`: 7-digit IBGE code.
    pub ide_municipio: i32,
    /// `qtdUCsAtendidas`.
    pub qtd_ucs_atendidas: i32,
    /// `qtdOcorrenciaProgramada`.
    pub qtd_ocorrencia_programada: i32,
    /// `qtdOcorrenciaNaoProgramada`.
    pub qtd_ocorrencia_nao_programada: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_email_is_an_address_of_at_most_50_characters() {
        let fifty = format!("{}@roraimaenergia.com.br", "a".repeat(50 - 22));
        for good in ["cop@roraimaenergia.com.br", fifty.as_str()] {
            assert!(is_contact_email(good), "{good}");
        }
        let long = format!("a{fifty}");
        for bad in [
            long.as_str(),
            "nobody",
            "@roraimaenergia.com.br",
            "cop@localhost",
            "cop@.com",
            "cop@roraima.",
            "c op@roraimaenergia.com.br",
        ] {
            assert!(!is_contact_email(bad), "{bad}");
        }
    }
}
