//! The ANEEL endpoint's query: `dthRecuperacao`, spelt exactly so, once, or nothing.
//!
//! A parameter whose name differs from `dthRecuperacao` only in case is refused: answering
//! it with the current data would answer a question about the past with the present. Other
//! parameters are ignored, since a poller may add one of its own (a cache-buster), but
//! counted, so that a client sending something the endpoint does not read can be noticed.

/// The one parameter the endpoint reads.
pub const DTH_RECUPERACAO: &str = "dthRecuperacao";

/// What a query asks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AneelQuery {
    /// `dthRecuperacao` as received; `None` (or an empty value, as in gRPC, where an empty
    /// field is an absent one) asks for the current answer.
    pub dth_recuperacao: Option<String>,
    /// How many parameters were ignored (names the endpoint does not know).
    pub ignored: u64,
}

/// Why a query is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// A parameter spelt like `dthRecuperacao` in another case (the name as received).
    Misspelled(String),
    /// `dthRecuperacao` given more than once.
    Repeated,
}

/// Reads the decoded `(name, value)` pairs of a query.
pub fn read(pairs: Vec<(String, String)>) -> Result<AneelQuery, QueryError> {
    let mut query = AneelQuery::default();
    for (name, value) in pairs {
        if name == DTH_RECUPERACAO {
            if query.dth_recuperacao.is_some() {
                return Err(QueryError::Repeated);
            }
            query.dth_recuperacao = Some(value);
        } else if name.eq_ignore_ascii_case(DTH_RECUPERACAO) {
            return Err(QueryError::Misspelled(name));
        } else {
            query.ignored += 1;
        }
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_exact_name_is_read_and_other_names_are_counted() {
        let query = read(pairs(&[
            ("_", "1733400000"),
            ("dthRecuperacao", "06/12/2026 07:07"),
            ("x", ""),
        ]))
        .unwrap();
        assert_eq!(query.dth_recuperacao.as_deref(), Some("06/12/2026 07:07"));
        assert_eq!(query.ignored, 2);
        assert_eq!(read(Vec::new()).unwrap(), AneelQuery::default());
    }

    #[test]
    fn another_case_or_twice_is_refused() {
        for name in ["dthrecuperacao", "DTHRECUPERACAO", "DthRecuperacao"] {
            assert_eq!(
                read(pairs(&[(name, "06/12/2026 07:07")])),
                Err(QueryError::Misspelled(name.to_owned()))
            );
        }
        assert_eq!(
            read(pairs(&[("dthRecuperacao", "a"), ("dthRecuperacao", "a")])),
            Err(QueryError::Repeated)
        );
        // A name that only contains it is someone else's parameter.
        assert_eq!(read(pairs(&[("dthRecuperacao2", "x")])).unwrap().ignored, 1);
    }
}
