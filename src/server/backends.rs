//! The backends the settings select: the data source and the snapshot store. Adding a data
//! source is one arm here.

use std::sync::Arc;

use super::files;
use crate::clock::Clock;
use crate::config::{
    ConfigError, DEFAULT_DEMO_SCALE, DEFAULT_DEMO_SEED, OracleConnection, SourceSettings,
    StoreSettings, names,
};
use crate::domain::QueryBinds;
use crate::source::InterrupcaoSource;
use crate::source::oracle::{OracleSettings, OracleSource};
use crate::source::sqlite::{self, SqliteSource};
use crate::store::oracle::OracleStore;
use crate::store::{SnapshotStore, SqliteStore, schema};

/// What the service runs on, chosen by `main` (or a test).
pub struct Backends {
    /// Where the answer comes from (the outage database).
    pub source: Arc<dyn InterrupcaoSource>,
    /// Where snapshots are stored and cron ticks claimed.
    pub store: Arc<dyn SnapshotStore>,
    /// What "now" is.
    pub clock: Arc<dyn Clock>,
}

/// The adapter the settings select. Fails when the Oracle password file cannot be read.
pub fn source_for(
    settings: &SourceSettings,
    binds: &QueryBinds,
) -> Result<Arc<dyn InterrupcaoSource>, ConfigError> {
    Ok(match settings {
        SourceSettings::Sqlite { path, .. } => {
            Arc::new(SqliteSource::new(path.clone(), binds.clone()))
        }
        SourceSettings::Oracle(oracle) => {
            Arc::new(OracleSource::new(oracle_settings(oracle)?, binds.clone()))
        }
    })
}

/// The snapshot store the settings select. Fails when the Oracle password file cannot be
/// read.
pub fn store_for(settings: &StoreSettings) -> Result<Arc<dyn SnapshotStore>, ConfigError> {
    Ok(match settings {
        StoreSettings::Sqlite { path } => Arc::new(
            SqliteStore::new(path.clone()).naming_setting(names::STORE_SQLITE_PATH.var.to_owned()),
        ),
        StoreSettings::Oracle(oracle) => Arc::new(OracleStore::new(oracle_settings(oracle)?)),
    })
}

/// What the Oracle adapter needs, from the validated Oracle settings, the password read
/// from its file if that was given.
pub fn oracle_settings(oracle: &OracleConnection) -> Result<OracleSettings, ConfigError> {
    Ok(OracleSettings {
        connect_string: oracle.connect_string.clone(),
        user: oracle.user.clone(),
        password: files::secret(&oracle.password, names::ORACLE_PASSWORD_FILE)?,
        client_lib_dir: oracle.client_lib_dir.clone(),
        pool_min: oracle.pool_min,
        pool_max: oracle.pool_max,
        ping_interval: oracle.ping_interval,
        stmt_cache_size: oracle.stmt_cache_size,
        call_timeout: oracle.call_timeout,
        fetch_deadline: oracle.fetch_deadline(),
    })
}

/// Brings the store's schema to this build's version (SQLite runs the missing steps), or
/// checks it (Oracle: the operator's script runs them), and logs what it found. Never
/// fatal, and bounded by `timeout`: the live answer does not need the store, and a store
/// down at start-up is prepared by its first operation (SQLite) or named in every error.
pub async fn prepare_store(store: Arc<dyn SnapshotStore>, timeout: std::time::Duration) {
    let name = store.name();
    match tokio::time::timeout(timeout, store.prepare()).await {
        Ok(Ok(state)) if state.version > schema::LATEST => tracing::warn!(
            store = name,
            version = state.version,
            this_build = schema::LATEST,
            "the snapshot store's schema is newer than this build's (a newer replica \
             migrated it); its steps only add, so this build works with it"
        ),
        Ok(Ok(state)) if state.migrated() => tracing::info!(
            store = name,
            from = state.found,
            version = state.version,
            "snapshot store schema migrated"
        ),
        Ok(Ok(state)) => tracing::info!(
            store = name,
            version = state.version,
            "snapshot store schema up to date"
        ),
        Ok(Err(e)) => tracing::error!(
            error = %e,
            "the snapshot store's schema is not ready: snapshots are served but not stored \
             until it is"
        ),
        Err(_) => tracing::warn!(
            store = name,
            timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            "the snapshot store did not answer at start-up within the store timeout"
        ),
    }
}

/// Creates the demo database (default scale and seed) when the settings ask for it and the
/// file is missing. A failure is logged: the warm-up then fails naming the missing file.
pub async fn create_demo_if_missing(settings: SourceSettings) {
    let SourceSettings::Sqlite {
        path,
        create_demo: true,
    } = settings
    else {
        return;
    };
    let created = tokio::task::spawn_blocking(move || {
        if sqlite::exists(&path)? {
            return Ok(None);
        }
        tracing::info!(
            path = %path.display(),
            scale = DEFAULT_DEMO_SCALE,
            seed = DEFAULT_DEMO_SEED,
            "SQLite database missing: generating the demo database"
        );
        sqlite::generate(&path, DEFAULT_DEMO_SCALE, DEFAULT_DEMO_SEED).map(|s| Some((path, s)))
    })
    .await;
    match created {
        Ok(Ok(Some((path, summary)))) => tracing::info!(
            path = %path.display(),
            elapsed_ms = u64::try_from(summary.elapsed.as_millis()).unwrap_or(u64::MAX),
            %summary,
            "demo database generated"
        ),
        Ok(Ok(None)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "the demo database could not be generated"),
        Err(e) => tracing::error!(error = %e, "the demo generation task failed"),
    }
}
