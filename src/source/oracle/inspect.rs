//! What `check-oracle` reports beyond "it works": where each synonym points (owner, table,
//! database link) and whether Oracle's plan for the aggregation runs at the remote site or
//! pulls rows across the link to join them locally.

use std::fmt;

use oracle::Connection;

use super::binds::{text_binds, with_named};
use super::error::translate;
use crate::db::oracle::session::statement_text;
use crate::domain::QueryBinds;
use crate::source::{AGGREGATION_SQL, OMS_TABLES, SourceError};

/// Where a name the query reads points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynonymTarget {
    /// The synonym's owner: the service's schema or `PUBLIC`.
    pub owner: String,
    /// Owner of the object it names (the OMS schema).
    pub table_owner: String,
    /// The object it names.
    pub table_name: String,
    /// The database link, if any.
    pub db_link: Option<String>,
}

impl fmt::Display for SynonymTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table_owner, self.table_name)?;
        match &self.db_link {
            Some(link) => write!(f, "@{link}")?,
            None => write!(f, " (no database link)")?,
        }
        if self.owner == "PUBLIC" {
            write!(f, " [public synonym]")?;
        }
        Ok(())
    }
}

/// The private synonyms of the current schema and the public ones, for the OMS tables. A
/// private synonym hides a public one of the same name, so it sorts first.
const SYNONYMS_SQL: &str = "SELECT s.synonym_name, s.owner, s.table_owner, s.table_name, s.db_link \
       FROM all_synonyms s \
      WHERE s.synonym_name IN ('AGENCY_EVENT', 'SWITCH_PLAN_TASKS', 'OMS_CONNECTIVITY', 'CISPERSL') \
        AND s.owner IN (SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA'), 'PUBLIC') \
      ORDER BY s.synonym_name, CASE s.owner WHEN 'PUBLIC' THEN 1 ELSE 0 END";

/// Each OMS table with the synonym it resolves through; `None` when the name is not a
/// synonym (a table or view of the service's own schema, as in the test fixtures).
pub fn synonyms(conn: &Connection) -> Result<Vec<(String, Option<SynonymTarget>)>, SourceError> {
    let rows = conn
        .query_as::<(String, String, String, String, Option<String>)>(SYNONYMS_SQL, &[])
        .map_err(|e| translate(&e))?;
    let mut found: Vec<(String, SynonymTarget)> = Vec::new();
    for row in rows {
        let (name, owner, table_owner, table_name, db_link) = row.map_err(|e| translate(&e))?;
        if !found.iter().any(|(n, _)| *n == name) {
            found.push((
                name,
                SynonymTarget {
                    owner,
                    table_owner,
                    table_name,
                    db_link,
                },
            ));
        }
    }
    Ok(OMS_TABLES
        .iter()
        .map(|table| {
            let target = found
                .iter()
                .find(|(n, _)| n == table)
                .map(|(_, t)| t.clone());
            ((*table).to_owned(), target)
        })
        .collect())
}

/// One line of `PLAN_TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanLine {
    /// `OPERATION`, e.g. `SELECT STATEMENT`, `HASH JOIN`, `REMOTE`.
    pub operation: String,
    /// `OPTIONS`, e.g. `REMOTE` on a fully remote `SELECT STATEMENT`.
    pub options: Option<String>,
    /// `OBJECT_NODE`: the database link a remote operation runs at.
    pub object_node: Option<String>,
    /// `OBJECT_NAME`.
    pub object_name: Option<String>,
    /// `OTHER`: for a `REMOTE` operation, the SQL text Oracle sends through the link.
    pub remote_sql: Option<String>,
}

/// Where Oracle runs the aggregation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushdown {
    /// The whole statement is sent to the remote site (`SELECT STATEMENT REMOTE`): only the
    /// answer rows cross the link. What the operator wants.
    FullyRemote {
        /// The link it runs at, when the plan names it.
        link: Option<String>,
    },
    /// The local database joins rows that `REMOTE` operations fetch through the link: each
    /// remote row source sends its rows (or is probed per row) across the network.
    Split {
        /// How many `REMOTE` row sources.
        remote_sources: usize,
        /// Their links and objects, as the plan names them.
        sources: Vec<String>,
        /// Whether a remote row source's SQL computes rule 5's `COUNT(DISTINCT ...)`: the
        /// per-pair count then runs at the remote site and one number per pair crosses the
        /// link; otherwise the premise rows cross it to be counted locally.
        counts_remotely: bool,
    },
    /// No remote operation: the tables are local (a test schema, or synonyms without link).
    Local,
}

impl fmt::Display for Pushdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FullyRemote { link } => write!(
                f,
                "pushed to the remote site{} (SELECT STATEMENT REMOTE): only the answer crosses \
                 the link",
                link.as_deref().map(|l| format!(" {l}")).unwrap_or_default()
            ),
            Self::Split {
                remote_sources,
                sources,
                counts_remotely,
            } => write!(
                f,
                "NOT pushed: {remote_sources} REMOTE row source(s) joined locally ({}): rows \
                 cross the link, {}; check that all four synonyms use one link (docs/oracle.md)",
                sources.join(", "),
                if *counts_remotely {
                    "the per-pair premise count runs at the remote site"
                } else {
                    "premise rows are counted locally"
                }
            ),
            Self::Local => write!(f, "local: no database link in the plan"),
        }
    }
}

/// Reads a plan, in `PLAN_TABLE.ID` order.
pub fn pushdown(plan: &[PlanLine]) -> Pushdown {
    if let Some(top) = plan.first()
        && top.operation == "SELECT STATEMENT"
        && top.options.as_deref() == Some("REMOTE")
    {
        let link = plan.iter().find_map(|l| l.object_node.clone());
        return Pushdown::FullyRemote { link };
    }
    let sources: Vec<String> = plan
        .iter()
        .filter(|l| l.operation == "REMOTE")
        .map(|l| {
            format!(
                "{}@{}",
                l.object_name.as_deref().unwrap_or("?"),
                l.object_node.as_deref().unwrap_or("?")
            )
        })
        .collect();
    if sources.is_empty() {
        return Pushdown::Local;
    }
    let counts_remotely = plan
        .iter()
        .filter(|l| l.operation == "REMOTE")
        .filter_map(|l| l.remote_sql.as_deref())
        .any(|sql| {
            sql.to_ascii_uppercase()
                .split_whitespace()
                .collect::<String>()
                .contains("COUNT(DISTINCT")
        });
    Pushdown::Split {
        remote_sources: sources.len(),
        sources,
        counts_remotely,
    }
}

/// `EXPLAIN PLAN` of the aggregation with its binds, read back and rolled back (the plan
/// rows are the only thing written, in the session's own `PLAN_TABLE`).
pub fn explain(conn: &Connection, binds: &QueryBinds) -> Result<Vec<PlanLine>, SourceError> {
    let id = format!("radar-{}", std::process::id());
    let explain = format!(
        "EXPLAIN PLAN SET STATEMENT_ID = '{id}' FOR {}",
        statement_text(AGGREGATION_SQL)
    );
    let text = text_binds(binds);
    let result = with_named(&text, |named| conn.execute_named(&explain, named))
        .map_err(|e| translate(&e))
        .and_then(|_| read_plan(conn, &id));
    // Leave nothing behind, whatever happened.
    let _ = conn.rollback();
    result
}

fn read_plan(conn: &Connection, id: &str) -> Result<Vec<PlanLine>, SourceError> {
    let rows = conn
        .query_as_named::<(
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        )>(
            "SELECT operation, options, object_node, object_name, other FROM plan_table \
              WHERE statement_id = :id ORDER BY id",
            &[("id", &id)],
        )
        .map_err(|e| translate(&e))?;
    rows.map(|row| {
        row.map(
            |(operation, options, object_node, object_name, remote_sql)| PlanLine {
                operation,
                options,
                object_node,
                object_name,
                remote_sql,
            },
        )
        .map_err(|e| translate(&e))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(
        operation: &str,
        options: Option<&str>,
        node: Option<&str>,
        name: Option<&str>,
    ) -> PlanLine {
        PlanLine {
            operation: operation.into(),
            options: options.map(Into::into),
            object_node: node.map(Into::into),
            object_name: name.map(Into::into),
            remote_sql: None,
        }
    }

    #[test]
    fn a_fully_remote_statement_is_pushed_down() {
        let plan = [
            line("SELECT STATEMENT", Some("REMOTE"), None, None),
            line("SORT", Some("GROUP BY"), None, None),
            line("HASH JOIN", None, None, None),
            line(
                "TABLE ACCESS",
                Some("BY INDEX ROWID"),
                Some("DBLINK_INSERVICE"),
                Some("AGENCY_EVENT"),
            ),
        ];
        let verdict = pushdown(&plan);
        assert_eq!(
            verdict,
            Pushdown::FullyRemote {
                link: Some("DBLINK_INSERVICE".into())
            }
        );
        assert!(
            verdict
                .to_string()
                .starts_with("pushed to the remote site DBLINK_INSERVICE")
        );
    }

    #[test]
    fn remote_row_sources_joined_locally_are_not() {
        let plan = [
            line("SELECT STATEMENT", None, None, None),
            line("HASH JOIN", None, None, None),
            line(
                "REMOTE",
                None,
                Some("DBLINK_INSERVICE"),
                Some("AGENCY_EVENT"),
            ),
            line("REMOTE", None, Some("DBLINK_INSERVICE"), Some("CISPERSL")),
        ];
        let verdict = pushdown(&plan);
        assert_eq!(
            verdict,
            Pushdown::Split {
                remote_sources: 2,
                sources: vec![
                    "AGENCY_EVENT@DBLINK_INSERVICE".into(),
                    "CISPERSL@DBLINK_INSERVICE".into()
                ],
                counts_remotely: false,
            }
        );
        let said = verdict.to_string();
        assert!(said.starts_with("NOT pushed: 2 REMOTE"), "{said}");
        assert!(said.contains("premise rows are counted locally"), "{said}");
    }

    #[test]
    fn a_split_plan_that_sends_the_count_through_the_link_says_so() {
        // The remote SQL as Oracle writes it in PLAN_TABLE.OTHER: quoted, aliased, with
        // spaces where it pleases.
        let mut count = line("REMOTE", None, Some("DBLINK_INSERVICE"), None);
        count.remote_sql = Some(
            "SELECT count( DISTINCT \"A1\".\"PREMISE\") FROM \"CISPERSL\" \"A1\",\
             \"OMS_CONNECTIVITY\" \"A2\" WHERE \"A2\".\"CONJ\"=:1"
                .into(),
        );
        let mut events = line(
            "REMOTE",
            None,
            Some("DBLINK_INSERVICE"),
            Some("AGENCY_EVENT"),
        );
        events.remote_sql = Some("SELECT \"NUM_1\" FROM \"AGENCY_EVENT\" \"E\"".into());
        let plan = [line("SELECT STATEMENT", None, None, None), events, count];
        let verdict = pushdown(&plan);
        assert!(
            matches!(
                verdict,
                Pushdown::Split {
                    remote_sources: 2,
                    counts_remotely: true,
                    ..
                }
            ),
            "{verdict:?}"
        );
        assert!(
            verdict
                .to_string()
                .contains("the per-pair premise count runs at the remote site"),
            "{verdict}"
        );
    }

    #[test]
    fn a_plan_without_links_is_local() {
        let plan = [
            line("SELECT STATEMENT", None, None, None),
            line("TABLE ACCESS", Some("FULL"), None, Some("CISPERSL")),
        ];
        assert_eq!(pushdown(&plan), Pushdown::Local);
    }

    #[test]
    fn a_synonym_reads_as_owner_table_and_link() {
        let target = SynonymTarget {
            owner: "RADAR".into(),
            table_owner: "INSERVICE".into(),
            table_name: "CISPERSL".into(),
            db_link: Some("DBLINK_INSERVICE".into()),
        };
        assert_eq!(target.to_string(), "INSERVICE.CISPERSL@DBLINK_INSERVICE");
        let public = SynonymTarget {
            owner: "PUBLIC".into(),
            db_link: None,
            ..target
        };
        assert_eq!(
            public.to_string(),
            "INSERVICE.CISPERSL (no database link) [public synonym]"
        );
    }

    #[test]
    fn the_synonym_query_names_every_oms_table() {
        for table in OMS_TABLES {
            assert!(SYNONYMS_SQL.contains(&format!("'{table}'")), "{table}");
        }
    }
}
