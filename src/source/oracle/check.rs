//! The read-only connectivity check an operator runs before deploying
//! (`radar-interrupcoes check-oracle`): connect, look at every table the query reads, run the
//! query once, and say how long each step took.

use std::fmt;
use std::time::{Duration, Instant};

use std::sync::Arc;

use oracle::Connection;

use super::error::translate;
use super::inspect::{self, Pushdown, SynonymTarget};
use super::session;
use crate::db::blocking::{CancelSlot, Lane, run_blocking};
use crate::db::oracle::OracleSettings;
use crate::domain::{QueryBinds, validate_rows};
use crate::source::{OMS_TABLES, SourceError};

/// What the check found. `Display` gives the few lines an operator reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// Where it connected (no credentials in it).
    pub connect_string: String,
    /// As whom.
    pub user: String,
    /// Oracle Client library version.
    pub client_version: String,
    /// Database version banner.
    pub server_version: String,
    /// Loading the client library, creating the pool and taking a session.
    pub connect_time: Duration,
    /// Each table or synonym, with the time its probe took.
    pub tables: Vec<(String, Duration)>,
    /// Binds the aggregation ran with.
    pub binds: QueryBinds,
    /// Running the aggregation and fetching every row.
    pub query_time: Duration,
    /// Rows the aggregation returned.
    pub rows: usize,
    /// Of those, rows validation would leave out, with the first reasons.
    pub rejected: usize,
    /// Up to three rejection reasons.
    pub rejections: Vec<String>,
    /// Each OMS table and the synonym it resolves through (`None`: not a synonym), or why
    /// they could not be read.
    pub synonyms: Result<Vec<(String, Option<SynonymTarget>)>, String>,
    /// Where Oracle runs the aggregation, from `EXPLAIN PLAN`, or why it is unknown.
    pub plan: Result<Pushdown, String>,
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_millis();
        writeln!(f, "Oracle connectivity check: OK")?;
        writeln!(
            f,
            "  database    : {} as {}",
            self.connect_string, self.user
        )?;
        writeln!(
            f,
            "  versions    : client {}, server {}",
            self.client_version, self.server_version
        )?;
        writeln!(f, "  connect     : {} ms", ms(self.connect_time))?;
        let tables: Vec<String> = self
            .tables
            .iter()
            .map(|(t, d)| format!("{t} {} ms", ms(*d)))
            .collect();
        writeln!(f, "  tables      : {}", tables.join(", "))?;
        write!(
            f,
            "  aggregation : {} rows in {} ms (ag_id={}, dist={}), {} rejected by validation",
            self.rows,
            ms(self.query_time),
            self.binds.ag_id,
            self.binds.dist,
            self.rejected
        )?;
        for reason in &self.rejections {
            write!(f, "\n    rejected  : {reason}")?;
        }
        match &self.synonyms {
            Ok(synonyms) => {
                for (table, target) in synonyms {
                    match target {
                        Some(target) => write!(f, "\n  synonym     : {table} -> {target}")?,
                        None => write!(f, "\n  synonym     : {table} -> not a synonym (local)")?,
                    }
                }
                write!(f, "\n  links       : {}", links_summary(synonyms))?;
            }
            Err(e) => write!(f, "\n  synonyms    : not read ({e})")?,
        }
        match &self.plan {
            Ok(plan) => write!(f, "\n  plan        : {plan}"),
            Err(e) => write!(f, "\n  plan        : not available ({e})"),
        }
    }
}

/// Connects with `settings`, probes every table in [`OMS_TABLES`] (naming the first that
/// fails), runs the aggregation once with `binds` and reports timings. Reads only.
pub async fn connectivity_check(
    settings: &OracleSettings,
    binds: &QueryBinds,
) -> Result<CheckReport, SourceError> {
    let settings = settings.clone();
    let binds = binds.clone();
    // Nothing to cancel: the operator's command ends with the check.
    run_blocking(
        "Oracle check",
        Lane::Pool,
        move |_: &CancelSlot<Arc<Connection>>| check_blocking(&settings, binds),
    )
    .await
}

fn check_blocking(
    settings: &OracleSettings,
    binds: QueryBinds,
) -> Result<CheckReport, SourceError> {
    let started = Instant::now();
    let pool = session::build_pool(settings).map_err(|e| step("connecting", e))?;
    let conn = session::connection(&pool, settings).map_err(|e| step("taking a session", e))?;
    let connect_time = started.elapsed();

    let client_version = oracle::Version::client()
        .map(|v| v.to_string())
        .map_err(|e| step("reading the client version", translate(&e)))?;
    let server_version = conn
        .server_version()
        .map(|(v, _banner)| v.to_string())
        .map_err(|e| step("reading the server version", translate(&e)))?;

    let mut tables = Vec::with_capacity(OMS_TABLES.len());
    for table in OMS_TABLES {
        let started = Instant::now();
        conn.query(&probe_sql(table), &[])
            .map_err(|e| step(&format!("reading table or synonym {table}"), translate(&e)))?;
        tables.push((table.to_owned(), started.elapsed()));
    }

    let started = Instant::now();
    let rows = session::fetch(&conn, &binds).map_err(|e| step("running the aggregation", e))?;
    let query_time = started.elapsed();
    let rows_len = rows.len();
    let validated = validate_rows(rows);
    let synonyms = inspect::synonyms(&conn).map_err(|e| e.to_string());
    let plan = inspect::explain(&conn, &binds)
        .map(|plan| inspect::pushdown(&plan))
        .map_err(|e| e.to_string());

    Ok(CheckReport {
        connect_string: settings.connect_string.clone(),
        user: settings.user.clone(),
        client_version,
        server_version,
        connect_time,
        tables,
        binds,
        query_time,
        rows: rows_len,
        rejected: validated.rejected.len(),
        rejections: validated
            .rejected
            .iter()
            .take(3)
            .map(ToString::to_string)
            .collect(),
        synonyms,
        plan,
    })
}

/// Whether the four synonyms go through one database link, as the plan needs to run at
/// the remote site.
fn links_summary(synonyms: &[(String, Option<SynonymTarget>)]) -> String {
    let mut links: Vec<Option<&str>> = synonyms
        .iter()
        .map(|(_, t)| t.as_ref().and_then(|t| t.db_link.as_deref()))
        .collect();
    links.sort_unstable();
    links.dedup();
    match links.as_slice() {
        [Some(link)] => format!("all through {link}"),
        [None] => "none: the tables are reached without a database link".into(),
        _ => format!(
            "WARNING: mixed ({}); Oracle cannot run the whole query at one remote site",
            links
                .iter()
                .map(|l| l.unwrap_or("no link"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Reads no row, but fails with ORA-00942/ORA-01031/ORA-02019 when the table, the grant or
/// the database link behind the synonym is missing.
fn probe_sql(table: &str) -> String {
    format!("SELECT 1 FROM {table} WHERE ROWNUM = 0")
}

/// Says which step failed, keeping code and kind.
fn step(what: &str, mut err: SourceError) -> SourceError {
    err.message = format!("{what}: {}", err.message);
    err
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::source::SourceErrorKind;

    fn report() -> CheckReport {
        CheckReport {
            connect_string: "db:1521/OMS".into(),
            user: "RADAR".into(),
            client_version: "23.7.0.25.1".into(),
            server_version: "19.22.0.0.0".into(),
            connect_time: Duration::from_millis(120),
            tables: OMS_TABLES
                .iter()
                .map(|t| ((*t).to_owned(), Duration::from_millis(3)))
                .collect(),
            binds: QueryBinds::default(),
            query_time: Duration::from_millis(850),
            rows: 42,
            rejected: 1,
            rejections: vec!["conjunto=1 municipio=null: ideMunicipio is null".into()],
            synonyms: Ok(OMS_TABLES
                .iter()
                .map(|t| {
                    let target = SynonymTarget {
                        owner: "RADAR".into(),
                        table_owner: "INSERVICE".into(),
                        table_name: (*t).to_owned(),
                        db_link: Some("DBLINK_INSERVICE".into()),
                    };
                    ((*t).to_owned(), Some(target))
                })
                .collect()),
            plan: Ok(Pushdown::FullyRemote {
                link: Some("DBLINK_INSERVICE".into()),
            }),
        }
    }

    #[test]
    fn the_report_reads_in_a_few_lines() {
        let text = report().to_string();
        assert!(
            text.starts_with("Oracle connectivity check: OK\n"),
            "{text}"
        );
        assert!(text.contains("db:1521/OMS as RADAR"), "{text}");
        assert!(
            text.contains("AGENCY_EVENT 3 ms, SWITCH_PLAN_TASKS 3 ms"),
            "{text}"
        );
        assert!(
            text.contains("42 rows in 850 ms (ag_id=370, dist=370), 1 rejected"),
            "{text}"
        );
        assert!(text.contains("ideMunicipio is null"), "{text}");
        assert!(
            text.contains("synonym     : CISPERSL -> INSERVICE.CISPERSL@DBLINK_INSERVICE"),
            "{text}"
        );
        assert!(
            text.contains("links       : all through DBLINK_INSERVICE"),
            "{text}"
        );
        assert!(
            text.contains("plan        : pushed to the remote site"),
            "{text}"
        );
        assert!(text.lines().count() <= 14, "{text}");
    }

    #[test]
    fn synonyms_through_different_links_are_flagged() {
        let mut r = report();
        if let Ok(synonyms) = &mut r.synonyms {
            synonyms[3].1 = None;
        }
        r.plan = Err("ORA-01039: insufficient privileges on underlying objects".into());
        let text = r.to_string();
        assert!(text.contains("CISPERSL -> not a synonym (local)"), "{text}");
        assert!(
            text.contains("links       : WARNING: mixed (no link, DBLINK_INSERVICE)")
                || text.contains("links       : WARNING: mixed (DBLINK_INSERVICE, no link)"),
            "{text}"
        );
        assert!(
            text.contains("plan        : not available (ORA-01039"),
            "{text}"
        );
    }

    #[test]
    fn the_probed_tables_are_those_the_shared_sql_reads() {
        let sql = crate::source::AGGREGATION_SQL;
        for table in OMS_TABLES {
            assert!(
                sql.contains(&format!(" {table} ")),
                "{table} not read by the SQL"
            );
        }
        for bind in [":ag_id", ":dist"] {
            assert!(sql.contains(bind), "{bind} not in the SQL");
        }
        for column in super::super::rows::COLUMNS {
            assert!(
                sql.contains(&format!("AS {column}")),
                "{column} not an output"
            );
        }
    }

    #[test]
    fn probes_read_no_rows() {
        assert_eq!(
            probe_sql("CISPERSL"),
            "SELECT 1 FROM CISPERSL WHERE ROWNUM = 0"
        );
    }

    #[tokio::test]
    async fn a_failing_check_says_which_step_failed() {
        let mut settings = OracleSettings::new(
            "127.0.0.1:1/NO_SUCH_SERVICE",
            "RADAR",
            SecretString::from("pw-not-in-errors"),
        );
        settings.call_timeout = Duration::from_secs(1);
        let err = connectivity_check(&settings, &QueryBinds::default())
            .await
            .unwrap_err();
        assert!(err.message.starts_with("connecting: "), "{err}");
        assert!(!err.to_string().contains("pw-not-in-errors"));
        if !oracle::InitParams::is_initialized() {
            assert_eq!(err.code.as_deref(), Some("DPI-1047"));
            assert_eq!(err.kind, SourceErrorKind::Permanent);
        }
    }
}
