//! [`OracleSource`]: the production adapter of [`InterrupcaoSource`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use oracle::pool::Pool;
use tracing::Span;

use super::session;
use super::settings::OracleSettings;
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
    /// `None` until a pool is created. Held while creating it, so concurrent fetches do not
    /// create two.
    pool: Mutex<Option<Pool>>,
}

impl OracleSource {
    /// An adapter for these settings and binds. Touches neither the network nor the client
    /// library.
    pub fn new(settings: OracleSettings, binds: QueryBinds) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                binds,
                pool: Mutex::new(None),
            }),
        }
    }

    /// Whether the pool has been created (for status pages and tests).
    pub fn pool_created(&self) -> bool {
        self.inner
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}

impl std::fmt::Debug for OracleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OracleSource")
            .field("settings", &self.inner.settings)
            .field("binds", &self.inner.binds)
            .field("pool_created", &self.pool_created())
            .finish()
    }
}

impl Inner {
    fn pool(&self) -> Result<Pool, SourceError> {
        let mut slot = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = slot.as_ref() {
            return Ok(pool.clone());
        }
        let started = Instant::now();
        match session::build_pool(&self.settings) {
            Ok(pool) => {
                tracing::info!(
                    duration_ms = elapsed_ms(started),
                    pool_min = self.settings.pool_min,
                    pool_max = self.settings.pool_max,
                    "oracle session pool created"
                );
                *slot = Some(pool.clone());
                Ok(pool)
            }
            Err(e) => {
                tracing::warn!(
                    duration_ms = elapsed_ms(started),
                    code = e.code.as_deref(),
                    transient = e.is_transient(),
                    error = %e.message,
                    "oracle session pool not created; the next fetch tries again"
                );
                Err(e)
            }
        }
    }

    fn fetch_blocking(&self) -> Result<Vec<RawInterrupcaoRow>, SourceError> {
        let pool = self.pool()?;
        let conn = session::connection(&pool, &self.settings)?;
        let started = Instant::now();
        let rows = session::fetch(&conn, &self.binds)?;
        tracing::debug!(
            duration_ms = elapsed_ms(started),
            rows = rows.len(),
            "oracle aggregation fetched"
        );
        Ok(rows)
    }

    /// How long the job waits for a fetch: pool creation or the wait for a session, then
    /// the query, each bounded by the call timeout, plus slack. The driver's own timeouts
    /// normally fire first; this one frees the job even if they do not.
    fn deadline(&self) -> Duration {
        self.settings.call_timeout * 3 + Duration::from_secs(5)
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

    async fn fetch_interrupcoes(&self) -> Result<Vec<RawInterrupcaoRow>, SourceError> {
        let inner = Arc::clone(&self.inner);
        let deadline = inner.deadline();
        let span = Span::current();
        let task = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            inner.fetch_blocking()
        });
        match tokio::time::timeout(deadline, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(SourceError::permanent(
                None,
                format!("the Oracle fetch task failed: {join}"),
            )),
            Err(_) => Err(SourceError::transient(
                None,
                format!(
                    "the Oracle fetch took longer than {} s (3 x RADAR_ORACLE_CALL_TIMEOUT_SECS \
                     + 5 s); set connect_timeout in RADAR_ORACLE_CONNECT_STRING if connecting \
                     hangs",
                    deadline.as_secs()
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
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
        OracleSource::new(settings, QueryBinds::default())
    }

    #[test]
    fn its_name_is_oracle_and_it_connects_lazily() {
        let s = source();
        assert_eq!(s.name(), "oracle");
        assert!(!s.pool_created(), "new() must not touch the database");
        assert!(!format!("{s:?}").contains(PASSWORD));
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
