//! The backends the service can run on, one entry each: the data sources ([`SOURCES`]) and
//! the snapshot stores ([`STORES`]). An entry is the value of RADAR_SOURCE (RADAR_STORE)
//! that chooses it, a line of help, and its factory, which checks the settings that backend
//! needs and builds it. Config lists the names it is given ([`offered`]) and knows none of
//! the adapters.

use std::sync::Arc;

use super::{StartupStep, files};
use crate::clock::{Clock, CorrectedClock};
use crate::config::{
    Config, ConfigError, DEFAULT_DEMO_SCALE, DEFAULT_DEMO_SEED, Offered, OracleConnection, names,
};
use crate::scheduler::cluster;
use crate::source::InterrupcaoSource;
use crate::source::oracle::{OracleSettings, OracleSource};
use crate::source::sqlite::{self, SqliteSource};
use crate::store::oracle::OracleStore;
use crate::store::{SnapshotStore, SqliteStore, StoreClaims, schema};

/// A backend the service can run on: the value of its setting that chooses it, a few words
/// of help (`--help`), and its factory.
#[derive(Debug, Clone, Copy)]
pub struct Backend<F> {
    /// The value of RADAR_SOURCE (RADAR_STORE) that chooses it.
    pub name: &'static str,
    /// What it is, in a few words.
    pub help: &'static str,
    /// Checks the settings it needs and builds it.
    pub build: F,
}

/// The data sources, the first the default. Adding a source is one entry here.
pub const SOURCES: &[Backend<SourceFactory>] = &[
    Backend {
        name: "sqlite",
        help: "embedded",
        build: |config| {
            let path = config.sqlite.path.clone();
            let demo = (config.sqlite.create_demo)
                .then(|| Box::pin(create_demo_if_missing(path.clone())) as StartupStep);
            let adapter = Arc::new(SqliteSource::new(path, config.binds.clone()));
            Ok(Source {
                adapter,
                before_warm_up: demo,
            })
        },
    },
    Backend {
        name: "oracle",
        help: "production",
        build: oracle_source,
    },
];

/// The snapshot stores, the first the default. Adding a store is one entry here.
pub const STORES: &[Backend<StoreFactory>] = &[
    Backend {
        name: "sqlite",
        help: "a file",
        build: |config| {
            let path = config.service.history.store_sqlite_path.clone();
            // The setting is named in every error, so the operator knows what to fix.
            let store =
                SqliteStore::new(path).naming_setting(names::STORE_SQLITE_PATH.var.to_owned());
            Ok(Arc::new(store))
        },
    },
    Backend {
        name: "oracle",
        help: "the service's own Oracle schema, with the RADAR_ORACLE_* connection",
        build: |config| {
            let oracle = config.oracle.clone().validate()?;
            Ok(Arc::new(OracleStore::new(oracle_settings(&oracle)?)))
        },
    },
];

/// Builds a data source from the settings; fails naming the setting it lacks.
pub type SourceFactory = fn(&Config) -> Result<Source, ConfigError>;

/// Builds a snapshot store from the settings; fails naming the setting it lacks.
pub type StoreFactory = fn(&Config) -> Result<Arc<dyn SnapshotStore>, ConfigError>;

/// A data source as its factory built it.
pub struct Source {
    /// The adapter.
    pub adapter: Arc<dyn InterrupcaoSource>,
    /// What must run before its first warm-up, if anything (the demo database).
    pub before_warm_up: Option<StartupStep>,
}

/// What RADAR_SOURCE and RADAR_STORE accept: the names of [`SOURCES`] and [`STORES`].
pub fn offered() -> Offered {
    Offered {
        sources: SOURCES.iter().map(|b| (b.name, b.help)).collect(),
        stores: STORES.iter().map(|b| (b.name, b.help)).collect(),
    }
}

/// What the service runs on, chosen by `main` (or a test).
pub struct Backends {
    /// Where the answer comes from (the outage database).
    pub source: Arc<dyn InterrupcaoSource>,
    /// Where snapshots are stored and cron ticks claimed.
    pub store: Arc<dyn SnapshotStore>,
    /// What "now" is.
    pub clock: Arc<dyn Clock>,
}

/// The data source the settings name, built.
pub fn source_for(config: &Config) -> Result<Source, ConfigError> {
    (chosen(SOURCES, names::SOURCE, &config.source)?.build)(config)
}

/// The snapshot store the settings name, built.
pub fn store_for(config: &Config) -> Result<Arc<dyn SnapshotStore>, ConfigError> {
    (chosen(STORES, names::STORE, &config.store)?.build)(config)
}

/// The entry named `name` (config accepted only these names; a `Config` built by hand may
/// hold another).
fn chosen<'a, F>(
    list: &'a [Backend<F>],
    setting: names::Setting,
    name: &str,
) -> Result<&'a Backend<F>, ConfigError> {
    list.iter()
        .find(|b| b.name == name)
        .ok_or_else(|| setting.invalid(name, "not one this build offers"))
}

fn oracle_source(config: &Config) -> Result<Source, ConfigError> {
    let oracle = config.oracle.clone().validate()?;
    // The attempt timeout must leave the adapter time to give its own, clearer error.
    let (timeout, deadline) = (config.service.job_timeout, oracle.fetch_deadline());
    if timeout <= deadline {
        return Err(names::JOB_TIMEOUT_SECS.invalid(
            timeout.as_secs().to_string(),
            format!(
                "must exceed 3 x {} + 5 = {} s; raise it or lower {0}",
                names::ORACLE_CALL_TIMEOUT_SECS.var,
                deadline.as_secs()
            ),
        ));
    }
    let settings = oracle_settings(&oracle)?;
    Ok(Source {
        adapter: Arc::new(OracleSource::new(settings, config.binds.clone())),
        before_warm_up: None,
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

/// Measures the clock's offset from the store's time of record once at start-up, before
/// the first warm-up (then at each tick claim), bounded by `timeout`; never fatal: the
/// offset stays none until a measurement succeeds.
pub async fn measure_clock_offset(
    store: Arc<dyn SnapshotStore>,
    clock: Arc<CorrectedClock>,
    timeout: std::time::Duration,
) {
    let claims = StoreClaims(store);
    match tokio::time::timeout(timeout, cluster::measure_offset(&claims, &clock)).await {
        Ok(Ok(Some(offset))) => tracing::info!(
            offset_ms = offset.num_milliseconds(),
            "clock offset from the store's time of record measured"
        ),
        Ok(Ok(None)) => {}
        Ok(Err(e)) => tracing::warn!(
            error = %e,
            "the store's time of record could not be read at start-up: measured again at \
             the next tick claim"
        ),
        Err(_) => tracing::warn!(
            timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            "the store's time of record did not come within the store timeout at start-up"
        ),
    }
}

/// Creates the demo database (default scale and seed) when the file is missing. A failure
/// is logged: the warm-up then fails naming the missing file.
async fn create_demo_if_missing(path: std::path::PathBuf) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Cli, Invocation};

    fn load(extra: &[&str]) -> Config {
        let mut argv = vec!["radar-interrupcoes"];
        argv.extend_from_slice(extra);
        match Cli::load_from(argv, &offered()).unwrap() {
            Invocation::Serve(config) => *config,
            other => panic!("not serve: {other:?}"),
        }
    }

    const ORACLE: [&str; 6] = [
        "--oracle-connect-string",
        "db:1521/X",
        "--oracle-user",
        "radar",
        "--oracle-password",
        "pw",
    ];

    fn with_oracle(extra: &[&str]) -> Config {
        load(&[&ORACLE[..], extra].concat())
    }

    fn source_error(config: &Config) -> ConfigError {
        let Err(e) = source_for(config) else {
            panic!("{} was built", config.source)
        };
        e
    }

    #[test]
    fn each_entry_builds_the_backend_it_names_and_sqlite_is_the_default() {
        for entry in SOURCES {
            let config = with_oracle(&["--source", entry.name]);
            let Ok(source) = source_for(&config) else {
                panic!("{}", entry.name)
            };
            assert_eq!(source.adapter.name(), entry.name);
        }
        for entry in STORES {
            let store = store_for(&with_oracle(&["--store", entry.name])).unwrap();
            assert_eq!(store.name(), entry.name);
        }
        let defaults = load(&[]);
        assert_eq!(
            (defaults.source.as_str(), defaults.store.as_str()),
            ("sqlite", "sqlite")
        );
        let sqlite = source_for(&defaults).unwrap();
        assert!(
            sqlite.before_warm_up.is_some(),
            "the demo at the default path"
        );
        let copy = load(&["--sqlite-path", "/srv/oms/copy.sqlite"]);
        assert!(source_for(&copy).unwrap().before_warm_up.is_none());
    }

    #[test]
    fn an_oracle_backend_needs_the_oracle_connection_and_no_other_backend_does() {
        let e = source_error(&load(&["--source", "oracle"]));
        assert_eq!(e.setting, "RADAR_ORACLE_CONNECT_STRING");
        let Err(e) = store_for(&load(&["--store", "oracle"])) else {
            panic!("an Oracle store without its connection")
        };
        assert!(e.setting.starts_with("RADAR_ORACLE_"), "{e}");
        // The connection's own rules too, but only where it is used.
        let bad_pool = ["--oracle-pool-min", "5", "--source"];
        let e = source_error(&with_oracle(&[&bad_pool[..], &["oracle"]].concat()));
        assert_eq!(e.setting, "RADAR_ORACLE_POOL_MIN");
        assert!(source_for(&with_oracle(&[&bad_pool[..], &["sqlite"]].concat())).is_ok());
    }

    #[test]
    fn with_oracle_the_job_timeout_must_exceed_the_fetch_deadline() {
        // Defaults: 60 s > 3 x 15 + 5 = 50 s.
        assert!(source_for(&with_oracle(&["--source", "oracle"])).is_ok());
        let mut argv = vec!["--source", "oracle", "--oracle-call-timeout-secs", "30"];
        let e = source_error(&with_oracle(&argv));
        assert_eq!(e.setting, "RADAR_JOB_TIMEOUT_SECS");
        assert!(e.reason.contains("95 s"), "{e}");
        argv.extend(["--job-timeout-secs", "96"]);
        assert!(source_for(&with_oracle(&argv)).is_ok());
    }

    #[test]
    fn a_name_no_entry_has_is_refused_naming_the_setting() {
        let mut config = load(&[]);
        config.source = "postgres".into();
        let e = source_error(&config);
        assert_eq!(
            (e.setting.as_str(), e.value.as_str()),
            ("RADAR_SOURCE", "postgres")
        );
    }
}
