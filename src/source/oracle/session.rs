//! The source's blocking driver calls: the pool and a session (the shared ones of
//! [`crate::db::oracle::session`], with the source's advice), and the aggregation query. Run
//! them only on a blocking thread.

use oracle::Connection;
use oracle::pool::Pool;

use super::binds::{text_binds, with_named};
use super::error::{advise, translate};
use super::rows::{COLUMNS, map_row};
use crate::db::oracle::session::statement_text;
use crate::db::oracle::{OracleSettings, session};
use crate::domain::{QueryBinds, RawInterrupcaoRow};
use crate::source::{AGGREGATION_SQL, SourceError};

/// Creates the session pool (see [`session::build_pool`]).
pub fn build_pool(settings: &OracleSettings) -> Result<Pool, SourceError> {
    session::build_pool(settings).map_err(|f| advise(&f))
}

/// Takes a session from the pool, bounded by the call timeout (see [`session::connection`]).
pub fn connection(pool: &Pool, settings: &OracleSettings) -> Result<Connection, SourceError> {
    session::connection(pool, settings).map_err(|f| advise(&f))
}

/// Runs the shared aggregation SQL with its binds bound by name, as VARCHAR2 text (see
/// [`super::binds`]).
pub fn fetch(conn: &Connection, binds: &QueryBinds) -> Result<Vec<RawInterrupcaoRow>, SourceError> {
    let text = text_binds(binds);
    let rows = with_named(&text, |named| {
        conn.query_named(statement_text(AGGREGATION_SQL), named)
    })
    .map_err(|e| translate(&e))?;
    let mut out = Vec::new();
    for row in rows {
        let row = row.map_err(|e| translate(&e))?;
        let mut values: [Option<String>; 5] = Default::default();
        for (i, value) in values.iter_mut().enumerate() {
            *value = row.get::<usize, Option<String>>(i).map_err(|e| {
                let mut err = translate(&e);
                err.message = format!("column {} ({}): {}", i + 1, COLUMNS[i], err.message);
                err
            })?;
        }
        out.push(map_row(values.each_ref().map(Option::as_deref))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use oracle::InitParams;
    use secrecy::SecretString;

    use super::*;

    fn unreachable_settings() -> OracleSettings {
        let mut s = OracleSettings::new(
            "127.0.0.1:1/NO_SUCH_SERVICE",
            "RADAR",
            SecretString::from("not-the-password"),
        );
        s.call_timeout = Duration::from_secs(1);
        s
    }

    /// What really happens on a host without Oracle Instant Client (this one, and any pod
    /// whose image lacks it): the pool cannot be created and the operator is told how to fix
    /// it. Skipped where a client library is installed.
    #[test]
    fn without_a_client_library_pool_creation_fails_with_dpi_1047() {
        let result = build_pool(&unreachable_settings());
        if InitParams::is_initialized() {
            eprintln!("skipped: an Oracle client library is installed here");
            return;
        }
        let Err(err) = result else {
            panic!("no pool without a client library")
        };
        assert_eq!(err.code.as_deref(), Some("DPI-1047"), "{err}");
        eprintln!("observed: {err}");
        assert!(!err.is_transient());
        assert!(
            err.message
                .contains("Cannot locate a 64-bit Oracle Client library"),
            "{err}"
        );
        assert!(err.message.contains("RADAR_ORACLE_CLIENT_LIB_DIR"), "{err}");
        assert!(err.message.contains("LD_LIBRARY_PATH"), "{err}");
        assert!(!err.to_string().contains("not-the-password"));

        // A failed load is not remembered: the next attempt (here with a library directory
        // that holds no library) loads again and fails the same way. ODPI-C keeps the text
        // of the first failure in its global error buffer, so the quoted loader message may
        // be the first attempt's.
        let dir = tempfile::tempdir().unwrap();
        let mut settings = unreachable_settings();
        settings.client_lib_dir = Some(dir.path().to_path_buf());
        let Err(err) = build_pool(&settings) else {
            panic!("no library in an empty directory")
        };
        eprintln!("observed with a lib dir: {err}");
        assert_eq!(err.code.as_deref(), Some("DPI-1047"));
        assert!(
            err.message.starts_with(&format!(
                "RADAR_ORACLE_CLIENT_LIB_DIR={}: does not contain libclntsh.so",
                dir.path().display()
            )),
            "{err}"
        );

        // A directory that does not exist is not a start-up error any more: it fails here,
        // named.
        settings.client_lib_dir = Some(dir.path().join("missing"));
        let Err(err) = build_pool(&settings) else {
            panic!("no library in a missing directory")
        };
        assert_eq!(err.code.as_deref(), Some("DPI-1047"));
        assert!(
            err.message.contains("missing: directory does not exist"),
            "{err}"
        );
    }
}
