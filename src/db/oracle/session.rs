//! The blocking driver calls both Oracle ports make: client initialisation, the session pool,
//! one session with its call timeout, and its release. Run them only on a blocking thread
//! ([`crate::db::blocking::run_blocking`]). Errors are [`Failure`]s, which each port
//! advises about in its own words.

use std::path::Path;

use oracle::conn::CloseMode;
use oracle::pool::{GetMode, Pool, PoolBuilder};
use oracle::{Connection, InitParams};
use secrecy::ExposeSecret;

use super::failure::Failure;
use super::settings::OracleSettings;
use crate::config::names;

/// Shown in `V$SESSION_CONNECT_INFO.CLIENT_DRIVER`, so the DBA can tell the service's
/// sessions apart.
const DRIVER_NAME: &str = concat!("radar-interrupcoes : ", env!("CARGO_PKG_VERSION"));

/// Loads the Oracle Client library. The crate initialises it once per process: after a
/// success, later calls (and another client library directory) change nothing; after a
/// failure (DPI-1047) nothing is kept, so the next attempt loads it again.
fn init_client(settings: &OracleSettings) -> Result<(), Failure> {
    let mut params = InitParams::new();
    params
        .default_driver_name(DRIVER_NAME)
        .map_err(|e| Failure::of(&e))?;
    if let Some(dir) = &settings.client_lib_dir {
        params
            .oracle_client_lib_dir(dir.as_os_str())
            .map_err(|e| Failure::of(&e))?;
    }
    params.init().map(drop).map_err(|e| Failure::of(&e))
}

/// Creates the session pool (loading the client library first), opening `pool_min`
/// sessions.
///
/// # Errors
/// The driver's, classified; a client library that could not be loaded from the configured
/// directory carries a [`Failure::note`] saying what is wrong with that directory.
pub fn build_pool(settings: &OracleSettings) -> Result<Pool, Failure> {
    init_client(settings)
        .map_err(|e| with_client_lib_dir(e, settings.client_lib_dir.as_deref()))?;
    let mut builder = PoolBuilder::new(
        settings.user.as_str(),
        settings.password.expose_secret(),
        settings.connect_string.as_str(),
    );
    builder
        .min_connections(settings.pool_min)
        .max_connections(settings.pool_max)
        .stmt_cache_size(settings.stmt_cache_size)
        // The default, NoWait, fails at once when every session is busy; waiting up to the
        // call timeout rides out a short burst and still bounds the wait.
        .get_mode(GetMode::TimedWait(settings.call_timeout))
        .ping_interval(Some(settings.ping_interval))
        .map_err(|e| Failure::of(&e))?;
    builder.build().map_err(|e| Failure::of(&e))
}

/// The client library could not be loaded (DPI-1047) although the settings name its
/// directory: say first what is wrong with that directory, since start-up no longer
/// checks it (a missing directory must leave the service up, NOT_SERVING, explaining why).
/// Other errors pass unchanged. Looks at the file system, so call it in blocking code.
fn with_client_lib_dir(mut err: Failure, dir: Option<&Path>) -> Failure {
    if let (Some("DPI-1047"), Some(dir)) = (err.code.as_deref(), dir) {
        err.note = Some(client_lib_dir_problem(dir));
    }
    err
}

/// What is wrong with the configured client-library directory, as the operator reads it:
/// `<its setting>=/opt/x: directory does not exist`.
fn client_lib_dir_problem(dir: &Path) -> String {
    let problem = match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "directory does not exist".into(),
        Err(e) => format!("directory cannot be read ({e})"),
        Ok(meta) if !meta.is_dir() => "not a directory".into(),
        Ok(_) if !dir.join("libclntsh.so").exists() => {
            "does not contain libclntsh.so (point it at the Instant Client directory itself)".into()
        }
        Ok(_) => "contains libclntsh.so, but it could not be loaded: check that it is the \
                  64-bit Instant Client and that its dependencies (libaio) are installed"
            .into(),
    };
    format!(
        "{}={}: {problem}",
        names::ORACLE_CLIENT_LIB_DIR.var,
        dir.display()
    )
}

/// Takes a session from the pool and bounds every round trip on it by the call timeout, so
/// a hung database cannot hold a blocking thread forever.
///
/// # Errors
/// The driver's, classified (no free session in time, a lost connection).
pub fn connection(pool: &Pool, settings: &OracleSettings) -> Result<Connection, Failure> {
    let conn = pool.get().map_err(|e| Failure::of(&e))?;
    conn.set_call_timeout(Some(settings.call_timeout))
        .map_err(|e| Failure::of(&e))?;
    Ok(conn)
}

/// Ends the session's use on the calling (blocking) thread: rolls back, then returns it to
/// the pool. A SELECT through a database link opens a distributed transaction, which must be
/// ended by a round trip to the remote site; left to `Drop`, ODPI-C would do that round trip
/// (up to the call timeout) wherever the last reference is dropped, possibly on an async
/// worker. If the rollback fails the session is dropped from the pool rather than returned
/// in an unknown state. Failures are logged, not returned: the caller's work is done.
pub fn release(conn: &Connection) {
    let mode = match conn.rollback() {
        Ok(()) => CloseMode::Default,
        Err(e) => {
            let e = Failure::of(&e);
            tracing::warn!(
                code = e.code.as_deref(),
                error = %e.detail,
                "oracle rollback before release failed; dropping the session from the pool"
            );
            CloseMode::Drop
        }
    };
    if let Err(e) = conn.close_with_mode(mode) {
        let e = Failure::of(&e);
        tracing::warn!(
            code = e.code.as_deref(),
            error = %e.detail,
            "oracle session not released cleanly"
        );
    }
}

/// The SQL as Oracle accepts it: a shared file may end with `;` (SQLite and SQL*Plus take
/// it), which Oracle's call interface rejects with ORA-00933/ORA-00911.
pub fn statement_text(sql: &str) -> &str {
    sql.trim_end().trim_end_matches(';').trim_end()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_lib_dir_problem(dir: &Path) -> String {
        super::client_lib_dir_problem(dir)
    }

    fn with_client_lib_dir(err: Failure, dir: Option<&Path>) -> Failure {
        super::with_client_lib_dir(err, dir)
    }

    #[test]
    fn a_bad_client_lib_dir_is_named_with_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("instantclient_23_7");
        assert_eq!(
            client_lib_dir_problem(&missing),
            format!(
                "RADAR_ORACLE_CLIENT_LIB_DIR={}: directory does not exist",
                missing.display()
            )
        );
        let empty = client_lib_dir_problem(dir.path());
        assert!(
            empty.starts_with(&format!(
                "RADAR_ORACLE_CLIENT_LIB_DIR={}: does not contain libclntsh.so",
                dir.path().display()
            )),
            "{empty}"
        );
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(client_lib_dir_problem(&file).ends_with(": not a directory"));
        std::fs::write(dir.path().join("libclntsh.so"), "").unwrap();
        assert!(client_lib_dir_problem(dir.path()).contains("could not be loaded"));
    }

    #[test]
    fn only_dpi_1047_with_a_configured_dir_gets_the_note() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let dpi = || {
            Failure::coded(
                "DPI-1047",
                "DPI-1047: Cannot locate a 64-bit Oracle Client library",
            )
        };
        let e = with_client_lib_dir(dpi(), Some(&missing));
        assert_eq!(
            e.note,
            Some(format!(
                "RADAR_ORACLE_CLIENT_LIB_DIR={}: directory does not exist",
                missing.display()
            ))
        );
        assert_eq!(e.code.as_deref(), Some("DPI-1047"));
        assert_eq!(e.detail, dpi().detail);
        assert_eq!(with_client_lib_dir(dpi(), None).note, None);
        let other = Failure::coded("ORA-12541", "ORA-12541: TNS:no listener");
        assert_eq!(with_client_lib_dir(other, Some(&missing)).note, None);
    }

    #[test]
    fn a_trailing_semicolon_is_left_out() {
        assert_eq!(
            statement_text("SELECT 1 FROM dual;\n"),
            "SELECT 1 FROM dual"
        );
        assert_eq!(
            statement_text("SELECT 1 FROM dual ; \n\n"),
            "SELECT 1 FROM dual"
        );
        assert_eq!(
            statement_text("SELECT ';' FROM dual"),
            "SELECT ';' FROM dual"
        );
    }
}
