//! [`OracleSource`]: the production adapter of [`InterrupcaoSource`].

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use oracle::Connection;
use oracle::pool::Pool;

use super::session;
use crate::config::names;
use crate::db::blocking::{Lane, run_blocking};
use crate::db::cancel;
use crate::db::oracle::{LazyPool, OracleSettings};
use crate::domain::{QueryBinds, RawInterrupcaoRow};
use crate::source::{InterrupcaoSource, SourceError};

/// Reads the aggregated interruptions from the OMS through Oracle.
///
/// The session pool is created on the first fetch, not at start-up, so the service starts
/// and answers health checks while Oracle is unreachable or its client library is missing;
/// a failed creation is retried by the next fetch.
#[derive(Clone)]
pub struct OracleSource {
    inner: Arc<Inner>,
}

struct Inner {
    settings: OracleSettings,
    binds: QueryBinds,
    pool: LazyPool,
}

impl OracleSource {
    /// An adapter for these settings and binds. Touches neither the network nor the client
    /// library.
    pub fn new(settings: OracleSettings, binds: QueryBinds) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                binds,
                pool: LazyPool::default(),
            }),
        }
    }

    /// Whether the pool has been created (for status pages and tests). Never waits, also
    /// while a creation is under way.
    pub fn pool_created(&self) -> bool {
        self.inner.pool.is_created()
    }
}

impl std::fmt::Debug for OracleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OracleSource")
            .field("settings", &self.inner.settings)
            .field("binds", &self.inner.binds)
            .field("pool", &self.inner.pool.state())
            .finish()
    }
}

impl Inner {
    fn pool(&self) -> Result<Pool, SourceError> {
        self.pool.get_or_create(|| {
            let started = Instant::now();
            match session::build_pool(&self.settings) {
                Ok(pool) => {
                    tracing::info!(
                        duration_ms = elapsed_ms(started),
                        pool_min = self.settings.pool_min,
                        pool_max = self.settings.pool_max,
                        "oracle session pool created"
                    );
                    Ok(pool)
                }
                Err(e) => {
                    // Not a warning of its own: the failure reaches the run's one error line.
                    tracing::debug!(
                        duration_ms = elapsed_ms(started),
                        code = e.code.as_deref(),
                        transient = e.is_transient(),
                        error = %e.message,
                        "oracle session pool not created; the next fetch tries again"
                    );
                    Err(e)
                }
            }
        })
    }

    fn fetch_blocking(
        &self,
        cancel_slot: &Mutex<Option<Arc<Connection>>>,
    ) -> Result<Vec<RawInterrupcaoRow>, SourceError> {
        let pool = self.pool()?;
        let conn = Arc::new(session::connection(&pool, &self.settings)?);
        cancel::register(cancel_slot, Arc::clone(&conn));
        let started = Instant::now();
        let fetched = session::fetch(&conn, &self.binds);
        // Here, on the blocking thread: the guard's copy is taken back first, so that the
        // last reference (and, if the release fails, ODPI-C's implicit rollback and close
        // on drop) is this function's, not the async worker's that disarms the guard.
        drop(cancel::unregister(cancel_slot));
        crate::db::oracle::session::release(&conn);
        let rows = fetched?;
        tracing::debug!(
            duration_ms = elapsed_ms(started),
            rows = rows.len(),
            "oracle aggregation fetched"
        );
        Ok(rows)
    }
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[async_trait]
impl InterrupcaoSource for OracleSource {
    fn name(&self) -> &'static str {
        "oracle"
    }

    fn db_system(&self) -> Option<crate::telemetry::spans::DbSystem> {
        Some(crate::telemetry::spans::DbSystem::Oracle)
    }

    async fn fetch_interrupcoes(&self) -> Result<Vec<RawInterrupcaoRow>, SourceError> {
        let inner = Arc::clone(&self.inner);
        // The driver's own timeouts normally fire first; this one frees the job even if they
        // do not. When it fires, or when the caller drops this future, the guard breaks the
        // running call (`break_execution`) instead of leaving it to end by itself.
        let deadline = inner.settings.fetch_deadline;
        let task = run_blocking("Oracle fetch", Lane::Background, move |slot| {
            inner.fetch_blocking(slot)
        });
        match tokio::time::timeout(deadline, task).await {
            Ok(result) => result,
            Err(_) => Err(SourceError::transient(
                None,
                format!(
                    "the Oracle fetch took longer than {} s (3 x {} + 5 s); set connect_timeout \
                     in {} if connecting hangs",
                    deadline.as_secs(),
                    names::ORACLE_CALL_TIMEOUT_SECS.var,
                    names::ORACLE_CONNECT_STRING.var
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use secrecy::SecretString;

    use super::*;
    use crate::source::SourceErrorKind;

    const PASSWORD: &str = "never-shown-9";

    fn source() -> OracleSource {
        let mut settings = OracleSettings::new(
            "127.0.0.1:1/NO_SUCH_SERVICE",
            "RADAR",
            SecretString::from(PASSWORD),
        );
        settings.call_timeout = Duration::from_secs(1);
        settings.fetch_deadline = Duration::from_secs(8);
        OracleSource::new(settings, QueryBinds::default())
    }

    #[test]
    fn its_name_is_oracle_and_it_connects_lazily() {
        let s = source();
        assert_eq!(s.name(), "oracle");
        assert!(!s.pool_created(), "new() must not touch the database");
        assert!(!format!("{s:?}").contains(PASSWORD));
    }

    #[test]
    fn debug_shows_the_pool_state() {
        // Not waiting for a creation under way: `LazyPool::state`'s own test.
        let s = source();
        assert!(format!("{s:?}").contains("pool: \"not created\""), "{s:?}");
    }

    #[tokio::test]
    async fn a_failed_pool_creation_is_an_error_and_is_retried_by_the_next_fetch() {
        let s = source();
        for _ in 0..2 {
            let err = s.fetch_interrupcoes().await.unwrap_err();
            if oracle::InitParams::is_initialized() {
                // A client library exists here: 127.0.0.1:1 has no listener.
                assert_eq!(err.kind, SourceErrorKind::Transient, "{err}");
            } else {
                assert_eq!(err.code.as_deref(), Some("DPI-1047"), "{err}");
                assert_eq!(err.kind, SourceErrorKind::Permanent);
            }
            assert!(!err.to_string().contains(PASSWORD));
            assert!(!s.pool_created());
        }
    }
}
