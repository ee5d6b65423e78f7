//! The values bound to `:ag_id` and `:dist`, as Oracle must receive them: text, as VARCHAR2.
//!
//! The OMS compares `AG_ID = '370'` and `DIST = '370'`: both columns may be VARCHAR2. A NUMBER
//! bind against a VARCHAR2 column makes Oracle convert the column (`TO_NUMBER(AG_ID)`), not
//! the bind: the index on it is not used (a full scan through the database link) and any
//! non-numeric value in the column raises ORA-01722. A VARCHAR2 bind is safe either way: on a
//! NUMBER column Oracle converts the bind, once. The type is given explicitly because the
//! driver binds a Rust string as NVARCHAR2, which has the higher precedence: Oracle would then
//! convert the VARCHAR2 column to NVARCHAR2 (`SYS_OP_C2C`), again losing the index.

use oracle::sql_type::{OracleType, ToSql};

use crate::domain::QueryBinds;

/// One named bind of the aggregation, with its text value and its Oracle type.
#[derive(Debug, Clone, PartialEq)]
pub struct TextBind {
    /// The bind's name in the SQL, without its colon.
    pub name: &'static str,
    /// The value, as text.
    pub value: String,
    /// Always `VARCHAR2(len)`.
    pub oratype: OracleType,
}

impl TextBind {
    fn new(name: &'static str, value: String) -> Self {
        // VARCHAR2(0) is not a valid bind size; an empty value is still bound as one byte.
        let size = u32::try_from(value.len()).unwrap_or(u32::MAX).max(1);
        Self {
            name,
            value,
            oratype: OracleType::Varchar2(size),
        }
    }

    /// The pair the driver binds: the value with its explicit type.
    pub fn typed(&self) -> (&String, &OracleType) {
        (&self.value, &self.oratype)
    }
}

/// The binds of the aggregation SQL, in the order they appear in it.
pub fn text_binds(binds: &QueryBinds) -> [TextBind; 2] {
    [
        TextBind::new("ag_id", binds.ag_id.to_string()),
        TextBind::new("dist", binds.dist.clone()),
    ]
}

/// Runs `f` with the binds in the form `query_named` takes.
pub fn with_named<R>(binds: &[TextBind], f: impl FnOnce(&[(&str, &dyn ToSql)]) -> R) -> R {
    let typed: Vec<(&String, &OracleType)> = binds.iter().map(TextBind::typed).collect();
    let named: Vec<(&str, &dyn ToSql)> = binds
        .iter()
        .zip(&typed)
        .map(|(b, t)| (b.name, t as &dyn ToSql))
        .collect();
    f(&named)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_binds_are_varchar2_text() {
        let binds = QueryBinds {
            ag_id: 370,
            dist: "370".into(),
        };
        let text = text_binds(&binds);
        assert_eq!(
            text,
            [
                TextBind {
                    name: "ag_id",
                    value: "370".into(),
                    oratype: OracleType::Varchar2(3),
                },
                TextBind {
                    name: "dist",
                    value: "370".into(),
                    oratype: OracleType::Varchar2(3),
                },
            ]
        );
    }

    #[test]
    fn the_values_handed_to_the_driver_are_the_typed_text() {
        let binds = QueryBinds {
            ag_id: 7019,
            dist: String::new(),
        };
        let text = text_binds(&binds);
        let names = with_named(&text, |named| {
            named
                .iter()
                .map(|(name, _)| name.to_string())
                .collect::<Vec<_>>()
        });
        assert_eq!(names, ["ag_id", "dist"]);
        assert_eq!(
            text[0].typed(),
            (&"7019".to_owned(), &OracleType::Varchar2(4))
        );
        // An empty distributor is still a (one-byte) VARCHAR2, never NVARCHAR2 or NUMBER.
        assert_eq!(text[1].oratype, OracleType::Varchar2(1));
    }

    #[test]
    fn every_bind_is_named_in_the_shared_sql() {
        for bind in text_binds(&QueryBinds::default()) {
            assert!(
                crate::source::AGGREGATION_SQL.contains(&format!(":{}", bind.name)),
                "{}",
                bind.name
            );
        }
    }
}
