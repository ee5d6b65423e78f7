//! The blocking driver calls: client initialisation, the session pool, one connection with
//! its call timeout, and the aggregation query. Run them only inside `spawn_blocking`.

use std::path::Path;

use oracle::conn::CloseMode;
use oracle::pool::{GetMode, Pool, PoolBuilder};
use oracle::{Connection, InitParams};
use secrecy::ExposeSecret;

use super::binds::{text_binds, with_named};
use super::error::translate;
use super::rows::{COLUMNS, map_row};
use super::settings::OracleSettings;
use crate::domain::{QueryBinds, RawInterrupcaoRow};
use crate::source::{AGGREGATION_SQL, SettingNames, SourceError};

/// Shown in `V$SESSION_CONNECT_INFO.CLIENT_DRIVER`, so the DBA can tell the service's
/// sessions apart.
const DRIVER_NAME: &str = concat!("radar-interrupcoes : ", env!("CARGO_PKG_VERSION"));

/// Loads the Oracle Client library. The crate initialises it once per process: after a
/// success, later calls (and another client library directory) change nothing; after a
/// failure (DPI-1047) nothing is kept, so the next attempt loads it again.
pub(super) fn init_client(settings: &OracleSettings) -> Result<(), SourceError> {
    let mut params = InitParams::new();
    params
        .default_driver_name(DRIVER_NAME)
        .map_err(|e| translate(&e, &settings.names))?;
    if let Some(dir) = &settings.client_lib_dir {
        params
            .oracle_client_lib_dir(dir.as_os_str())
            .map_err(|e| translate(&e, &settings.names))?;
    }
    params
        .init()
        .map(drop)
        .map_err(|e| translate(&e, &settings.names))
}

/// Creates the session pool (loading the client library first), opening `pool_min`
/// sessions.
pub fn build_pool(settings: &OracleSettings) -> Result<Pool, SourceError> {
    init_client(settings)
        .map_err(|e| with_client_lib_dir(e, settings.client_lib_dir.as_deref(), &settings.names))?;
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
        .map_err(|e| translate(&e, &settings.names))?;
    builder.build().map_err(|e| translate(&e, &settings.names))
}

/// The client library could not be loaded (DPI-1047) although the settings name its
/// directory: say first what is wrong with that directory, since start-up no longer
/// checks it (a missing directory must leave the service up, NOT_SERVING, explaining why).
/// Other errors pass unchanged. Looks at the file system, so call it in blocking code.
fn with_client_lib_dir(
    mut err: SourceError,
    dir: Option<&Path>,
    names: &SettingNames,
) -> SourceError {
    if let (Some("DPI-1047"), Some(dir)) = (err.code.as_deref(), dir) {
        err.message = format!("{}. {}", client_lib_dir_problem(dir, names), err.message);
    }
    err
}

/// What is wrong with the configured client-library directory, as the operator reads it:
/// `<its setting>=/opt/x: directory does not exist`.
fn client_lib_dir_problem(dir: &Path, names: &SettingNames) -> String {
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
        names.oracle_client_lib_dir,
        dir.display()
    )
}

/// Takes a session from the pool and bounds every round trip on it by the call timeout, so
/// a hung database cannot hold a blocking thread forever.
pub fn connection(pool: &Pool, settings: &OracleSettings) -> Result<Connection, SourceError> {
    let conn = pool.get().map_err(|e| translate(&e, &settings.names))?;
    conn.set_call_timeout(Some(settings.call_timeout))
        .map_err(|e| translate(&e, &settings.names))?;
    Ok(conn)
}

/// Runs the shared aggregation SQL with its binds bound by name, as VARCHAR2 text (see
/// [`super::binds`]).
pub fn fetch(
    conn: &Connection,
    binds: &QueryBinds,
    names: &SettingNames,
) -> Result<Vec<RawInterrupcaoRow>, SourceError> {
    let text = text_binds(binds);
    let rows = with_named(&text, |named| {
        conn.query_named(statement_text(AGGREGATION_SQL), named)
    })
    .map_err(|e| translate(&e, names))?;
    let mut out = Vec::new();
    for row in rows {
        let row = row.map_err(|e| translate(&e, names))?;
        let mut values: [Option<String>; 5] = Default::default();
        for (i, value) in values.iter_mut().enumerate() {
            *value = row.get::<usize, Option<String>>(i).map_err(|e| {
                let mut err = translate(&e, names);
                err.message = format!("column {} ({}): {}", i + 1, COLUMNS[i], err.message);
                err
            })?;
        }
        out.push(map_row(values.each_ref().map(Option::as_deref))?);
    }
    Ok(out)
}

/// Ends the session's use on the calling (blocking) thread: rolls back, then returns it to
/// the pool. A SELECT through a database link opens a distributed transaction, which must be
/// ended by a round trip to the remote site; left to `Drop`, ODPI-C would do that round trip
/// (up to the call timeout) wherever the last reference is dropped, possibly on an async
/// worker. If the rollback fails the session is dropped from the pool rather than returned
/// in an unknown state. Failures are logged, not returned: the rows are already fetched.
pub fn release(conn: &Connection, names: &SettingNames) {
    let mode = match conn.rollback() {
        Ok(()) => CloseMode::Default,
        Err(e) => {
            let e = translate(&e, names);
            tracing::warn!(
                code = e.code.as_deref(),
                error = %e.message,
                "oracle rollback before release failed; dropping the session from the pool"
            );
            CloseMode::Drop
        }
    };
    if let Err(e) = conn.close_with_mode(mode) {
        let e = translate(&e, names);
        tracing::warn!(
            code = e.code.as_deref(),
            error = %e.message,
            "oracle session not released cleanly"
        );
    }
}

/// The SQL as Oracle accepts it: the shared file may end with `;` (SQLite and SQL*Plus take
/// it), which Oracle's call interface rejects with ORA-00933/ORA-00911.
pub fn statement_text(sql: &str) -> &str {
    sql.trim_end().trim_end_matches(';').trim_end()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::SecretString;

    use super::*;

    fn client_lib_dir_problem(dir: &Path) -> String {
        super::client_lib_dir_problem(dir, &SettingNames::for_tests())
    }

    fn with_client_lib_dir(err: SourceError, dir: Option<&Path>) -> SourceError {
        super::with_client_lib_dir(err, dir, &SettingNames::for_tests())
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
            SourceError::permanent(
                Some("DPI-1047".into()),
                "Cannot locate a 64-bit Oracle Client library",
            )
        };
        let e = with_client_lib_dir(dpi(), Some(&missing));
        assert!(
            e.message.starts_with(&format!(
                "RADAR_ORACLE_CLIENT_LIB_DIR={}: directory does not exist. Cannot locate",
                missing.display()
            )),
            "{e}"
        );
        assert_eq!(e.code.as_deref(), Some("DPI-1047"));
        assert!(!e.is_transient());
        assert_eq!(with_client_lib_dir(dpi(), None).message, dpi().message);
        let other = SourceError::transient(Some("ORA-12541".into()), "no listener");
        assert_eq!(
            with_client_lib_dir(other, Some(&missing)).message,
            "no listener"
        );
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
