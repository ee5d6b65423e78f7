//! The data answer, live or at a past moment (`dthRecuperacao`), produced once for every
//! adapter: the gRPC handler and the ANEEL HTTP endpoint both call [`AnswerService::answer`]
//! and only convert its result.
//!
//! The live answer comes from the snapshot cache only and never waits on the store. A past
//! moment is answered with the latest stored snapshot collected at or before it, within the
//! retention, through a bounded moka cache in front of the store.
//!
//! The rule that data older than the hard limit is ANEEL's error answer, never old numbers
//! reported as current, lives here too ([`Answer::idc_status_requisicao`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::Stream;
use tokio_util::sync::CancellationToken;

use crate::cache::{CACHE_KEY, NotReady, Snapshot, SnapshotCache, SnapshotView};
use crate::clock::{Clock, saturating_add, saturating_sub};
use crate::domain::{InterrupcaoAtiva, dth_recuperacao};
use crate::hygiene::public_store_failure;
use crate::store::{SnapshotStore, StoreError, StoredSnapshot};

/// ANEEL's `idcStatusRequisicao` for success.
pub const STATUS_SUCESSO: i32 = 1;
/// ANEEL's `idcStatusRequisicao` for an error.
pub const STATUS_ERRO: i32 = 2;
/// Missing pairs listed in an answer at most (the count is always complete).
pub const MAX_MISSING_PAIRS: usize = 20;

/// What a caller asks: the answer now, or as it stood at `dthRecuperacao`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerRequest {
    /// ANEEL's `dthRecuperacao` as received (`dd/mm/yyyy hh:mm`); empty asks for now.
    pub dth_recuperacao: String,
}

/// Prefix of the history cache's keys (followed by the moment, RFC 3339).
pub const HISTORY_CACHE_KEY: &str = "interrupcoes:historico:v1";

/// How old a moment must be before its answer is cached: a snapshot collected just before
/// a recent moment may still be on its way to the store (claim wait, write), and caching
/// the answer found before it arrives would serve the older one for a whole time-to-live.
pub const HISTORY_SETTLED_AFTER: chrono::Duration = chrono::Duration::minutes(5);

/// An answer and where it came from.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The snapshot that answered, with its age (now for a live answer, at the asked moment
    /// for a past one) and staleness.
    pub view: SnapshotView,
    /// `emailIndisponibilidade`.
    pub email_indisponibilidade: String,
    /// The cache key it was served from.
    pub cache_key: String,
    /// For a past moment: the stored snapshot's id and the moment asked.
    pub recovered: Option<Recovered>,
}

/// Which stored snapshot answered a past moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The moment asked (`dthRecuperacao`, as an instant).
    pub asked_at: DateTime<Utc>,
    /// The stored snapshot's id (shared by every answer of that snapshot).
    pub snapshot_id: Arc<str>,
}

impl Answer {
    /// 1 (success), or 2 (error) when the snapshot is older than the hard limit.
    pub fn idc_status_requisicao(&self) -> i32 {
        if self.view.expired {
            STATUS_ERRO
        } else {
            STATUS_SUCESSO
        }
    }

    /// Empty on success; since when data is unavailable when it is too old.
    pub fn mensagem(&self) -> String {
        if self.view.expired {
            unavailable_since(self.view.snapshot.collected_at)
        } else {
            String::new()
        }
    }

    /// ANEEL's items: none in an error answer.
    pub fn items(&self) -> &[InterrupcaoAtiva] {
        if self.view.expired {
            &[]
        } else {
            &self.view.snapshot.items
        }
    }

    /// The (conjunto, município) pairs left out by validation, with the reason (at most
    /// [`MAX_MISSING_PAIRS`]).
    pub fn missing_pairs(&self) -> Vec<String> {
        self.view
            .snapshot
            .rejected
            .iter()
            .take(MAX_MISSING_PAIRS)
            .map(ToString::to_string)
            .collect()
    }
}

/// ANEEL's `mensagem` when the data is too old: since when, in Brasília time.
fn unavailable_since(collected_at: DateTime<Utc>) -> String {
    let local = collected_at.with_timezone(&chrono_tz::America::Sao_Paulo);
    format!(
        "Dados indisponíveis desde {} (horário de Brasília): a última coleta de \
         interrupções é antiga demais para ser informada como atual.",
        local.format(dth_recuperacao::FORMAT)
    )
}

/// Why there is no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// No snapshot has loaded yet (live answer).
    #[error(transparent)]
    NotReady(#[from] NotReady),
    /// `dthRecuperacao` is not `dd/mm/yyyy hh:mm`, or names no moment in Brasília time.
    #[error("invalid dthRecuperacao: {0}")]
    InvalidDthRecuperacao(String),
    /// `dthRecuperacao` is well formed but still to come.
    #[error("invalid dthRecuperacao: {}", in_the_future(asked, now))]
    FutureDthRecuperacao {
        /// The value asked, as received.
        asked: String,
        /// What time it is in Brasília (`dd/mm/yyyy hh:mm`).
        now: String,
    },
    /// Nothing is stored for that moment: `message` says why; `oldest` is the oldest moment
    /// that can be answered (`dd/mm/yyyy hh:mm`, Brasília), when anything is stored.
    #[error("{message}")]
    NotFound {
        /// What is wrong, for operators (English).
        message: String,
        /// The oldest answerable moment, for adapters that word the error themselves.
        oldest: Option<String>,
    },
    /// The store could not be read. Shown as the store and its native code only
    /// ([`public_store_failure`]): the error's text names files and settings, and is logged
    /// where it happens instead.
    #[error(
        "the history is unavailable ({}); the current answer (without dthRecuperacao) is \
         unaffected",
        public_store_failure(.0)
    )]
    StoreUnavailable(StoreError),
}

/// What is wrong with a `dthRecuperacao` of `asked` when it is `now` (both `dd/mm/yyyy
/// hh:mm`, Brasília): the reason of [`AnswerError::FutureDthRecuperacao`].
pub fn in_the_future(asked: &str, now: &str) -> String {
    format!(
        "{asked:?} is in the future (now is {now} in Brasília time): ask for a past moment, or \
         omit it for the current answer"
    )
}

/// Settings of the past answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// How far back a moment can be asked.
    pub retention: chrono::Duration,
    /// Entries kept by the history cache.
    pub cache_capacity: u64,
    /// How long an entry stays in the history cache.
    pub cache_ttl: Duration,
    /// A snapshot older than this at the asked moment is reported stale.
    pub stale_after: Duration,
}

/// Where past answers come from: the store, the clock that says what "now" is, and the
/// limits of the history.
#[derive(Clone)]
pub struct History {
    /// The snapshot store.
    pub store: Arc<dyn SnapshotStore>,
    /// The service's clock.
    pub clock: Arc<dyn Clock>,
    /// Retention, history cache, staleness.
    pub limits: HistoryLimits,
}

/// A stored snapshot as past answers share it: one per snapshot id, however many moments
/// it answers.
#[derive(Debug)]
struct PastSnapshot {
    id: Arc<str>,
    snapshot: Arc<Snapshot>,
}

/// Produces answers, live or past. Cheap to clone; clones share the caches.
#[derive(Clone)]
pub struct AnswerService {
    live: Arc<SnapshotCache>,
    email_indisponibilidade: String,
    store: Arc<dyn SnapshotStore>,
    clock: Arc<dyn Clock>,
    limits: HistoryLimits,
    /// The moments asked, each to the stored snapshot that answers it (shared, not copied).
    history: moka::future::Cache<i64, Arc<PastSnapshot>>,
    /// The stored snapshots read, by id: every moment a snapshot answers shares one copy,
    /// so memory grows with the distinct snapshots, not with the moments asked.
    by_id: moka::future::Cache<Arc<str>, Arc<PastSnapshot>>,
}

impl AnswerService {
    /// Answers from `live` now and from the store of `history` for past moments, with
    /// `email_indisponibilidade` in every answer.
    pub fn new(
        live: Arc<SnapshotCache>,
        email_indisponibilidade: String,
        history: History,
    ) -> Self {
        let History {
            store,
            clock,
            limits,
        } = history;
        Self {
            live,
            email_indisponibilidade,
            store,
            clock,
            limits,
            history: moka::future::Cache::builder()
                .max_capacity(limits.cache_capacity)
                .time_to_live(limits.cache_ttl)
                .build(),
            by_id: moka::future::Cache::builder()
                .max_capacity(limits.cache_capacity)
                .time_to_live(limits.cache_ttl)
                .build(),
        }
    }

    /// Retention, history cache and staleness of the past answers (adapters size their
    /// own per-snapshot caches of past answers with them).
    pub fn history_limits(&self) -> HistoryLimits {
        self.limits
    }

    /// Past this age the live answer is ANEEL's error answer.
    pub fn hard_limit(&self) -> Duration {
        self.live.hard_limit()
    }

    /// The contact of every answer, errors included.
    pub fn email_indisponibilidade(&self) -> &str {
        &self.email_indisponibilidade
    }

    /// The answer to `request`: live when `dthRecuperacao` is empty, else as it stood then.
    pub async fn answer(&self, request: &AnswerRequest) -> Result<Answer, AnswerError> {
        // Only an absent (empty) value asks for now: anything else is a question about the
        // past, and is answered as one or refused, never with the present.
        if request.dth_recuperacao.is_empty() {
            self.live().await
        } else {
            self.at(&request.dth_recuperacao).await
        }
    }

    /// The live answer: the cached snapshot, never the store.
    pub async fn live(&self) -> Result<Answer, AnswerError> {
        Ok(self.live_answer(self.live.current().await?))
    }

    /// The live answer now (once a snapshot has loaded), then again at each change of its
    /// state: a new snapshot, fresh to stale (a failed load, or the staleness limit), stale
    /// to expired (the hard limit: ANEEL's error answer from then on), and back to fresh.
    /// A slow reader gets the state of when it reads, never a backlog. Ends when `stop` is
    /// cancelled.
    pub fn watch_live(
        &self,
        stop: CancellationToken,
    ) -> impl Stream<Item = Answer> + Send + 'static {
        let changes = self.live.subscribe_changes();
        futures::stream::unfold(
            (self.clone(), changes, stop, None::<LiveState>),
            |(service, mut changes, stop, sent)| async move {
                loop {
                    if stop.is_cancelled() {
                        return None;
                    }
                    // Marked seen before reading, so that a change after the read wakes us.
                    changes.borrow_and_update();
                    let mut wait = MAX_QUIET;
                    if let Ok(view) = service.live.current().await {
                        let state = LiveState::of(&view);
                        if sent.as_ref() != Some(&state) {
                            let answer = service.live_answer(view);
                            return Some((answer, (service, changes, stop, Some(state))));
                        }
                        wait = service.live.until_aged(&view).map_or(wait, |w| w.min(wait));
                    }
                    tokio::select! {
                        biased;
                        () = stop.cancelled() => return None,
                        changed = changes.changed() => changed.ok()?,
                        () = tokio::time::sleep(wait) => {}
                    }
                }
            },
        )
    }

    fn live_answer(&self, view: SnapshotView) -> Answer {
        Answer {
            view,
            email_indisponibilidade: self.email_indisponibilidade.clone(),
            cache_key: CACHE_KEY.to_owned(),
            recovered: None,
        }
    }

    /// The answer as it stood at `dth_recuperacao`.
    pub async fn at(&self, dth_recuperacao: &str) -> Result<Answer, AnswerError> {
        let invalid = AnswerError::InvalidDthRecuperacao;
        let asked_at = dth_recuperacao::parse(dth_recuperacao).map_err(invalid)?;
        let now = self.clock.now();
        if asked_at > now {
            return Err(AnswerError::FutureDthRecuperacao {
                asked: dth_recuperacao.to_owned(),
                now: dth_recuperacao::format(now),
            });
        }
        let window_start = saturating_sub(now, self.limits.retention);
        if asked_at < window_start {
            return Err(self.not_found(dth_recuperacao, window_start).await);
        }
        let key = asked_at.timestamp_millis();
        let past = match self.history.get(&key).await {
            Some(past) => past,
            None => match self.store.latest_at_or_before(asked_at).await {
                Ok(Some(stored)) => {
                    let past = self.shared(stored).await;
                    if saturating_add(asked_at, HISTORY_SETTLED_AFTER) <= now {
                        self.history.insert(key, past.clone()).await;
                    }
                    past
                }
                Ok(None) => return Err(self.not_found(dth_recuperacao, window_start).await),
                Err(e) => return Err(history_unavailable(e)),
            },
        };
        let age = (asked_at - past.snapshot.collected_at)
            .to_std()
            .unwrap_or_default();
        let stale_reason = (age > self.limits.stale_after).then(|| {
            format!(
                "at that moment the snapshot was older than the {} s limit ({} s)",
                self.limits.stale_after.as_secs(),
                age.as_secs()
            )
        });
        Ok(Answer {
            view: SnapshotView {
                snapshot: past.snapshot.clone(),
                age,
                stale_reason,
                // It was the answer at that moment; the hard limit is about now.
                expired: false,
            },
            email_indisponibilidade: self.email_indisponibilidade.clone(),
            cache_key: format!("{HISTORY_CACHE_KEY}:{}", asked_at.to_rfc3339()),
            recovered: Some(Recovered {
                asked_at,
                snapshot_id: past.id.clone(),
            }),
        })
    }

    /// The one shared copy of `stored`: the one already read when its id was read before
    /// (a stored snapshot never changes), else `stored` itself. Moments too recent to be
    /// cached share it as well: only which snapshot answers them may change, not its content.
    async fn shared(&self, stored: StoredSnapshot) -> Arc<PastSnapshot> {
        let StoredSnapshot { id, snapshot, .. } = stored;
        let id: Arc<str> = id.into();
        self.by_id
            .get_with(id.clone(), async move {
                Arc::new(PastSnapshot {
                    id,
                    snapshot: Arc::new(snapshot),
                })
            })
            .await
    }

    /// NOT_FOUND for `asked`, naming the oldest moment that can be answered: the later of
    /// the retention window's start and the oldest stored snapshot.
    async fn not_found(&self, asked: &str, window_start: DateTime<Utc>) -> AnswerError {
        let oldest = match self.store.oldest().await {
            Ok(Some(oldest)) => Some(oldest.max(window_start)),
            Ok(None) => None,
            Err(e) => return history_unavailable(e),
        };
        let retention_days = self.limits.retention.num_days();
        let oldest = oldest.map(dth_recuperacao::format_at_or_after);
        let message = match &oldest {
            Some(oldest) => format!(
                "no answer stored for dthRecuperacao {asked:?}: the oldest moment that can be \
                 answered is {oldest} (Brasília time; the history keeps {retention_days} days)"
            ),
            None => format!(
                "no answer stored for dthRecuperacao {asked:?}: nothing is stored yet (the \
                 history keeps {retention_days} days from the first load)"
            ),
        };
        AnswerError::NotFound { message, oldest }
    }
}

/// A failed history read: logged with the store's whole error (file, connection, advice),
/// answered with its store and code only.
fn history_unavailable(e: StoreError) -> AnswerError {
    tracing::warn!(error = %e, "reading the history from the snapshot store failed");
    AnswerError::StoreUnavailable(e)
}

/// Longest a live stream waits without looking at its answer again, whatever it expects:
/// a wall-clock step (the time of record corrected, NTP) can move a change of state.
const MAX_QUIET: Duration = Duration::from_secs(60);

/// What a live stream reports a change of: which snapshot, and whether it is stale or
/// expired (a new reason for the same state is not a change).
struct LiveState {
    /// Held, so that a new snapshot can never reuse its allocation and pass for it.
    snapshot: Arc<Snapshot>,
    stale: bool,
    expired: bool,
}

impl LiveState {
    fn of(view: &SnapshotView) -> Self {
        Self {
            snapshot: view.snapshot.clone(),
            stale: view.stale_reason.is_some(),
            expired: view.expired,
        }
    }
}

impl PartialEq for LiveState {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.snapshot, &other.snapshot)
            && (self.stale, self.expired) == (other.stale, other.expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::{JobError, RunFailure};
    use futures::StreamExt;

    /// A clock that follows tokio's (paused in these tests: waiting advances it at once).
    struct TokioClock {
        wall: DateTime<Utc>,
        start: tokio::time::Instant,
    }

    impl Clock for TokioClock {
        fn now(&self) -> DateTime<Utc> {
            self.wall + chrono::Duration::from_std(self.start.elapsed()).unwrap()
        }
    }

    /// The live answers of a cache stale after 60 s and expired after 120 s, on tokio's
    /// clock; the store is never read.
    fn live_service() -> (
        AnswerService,
        Arc<SnapshotCache>,
        Arc<dyn Clock>,
        tempfile::TempDir,
    ) {
        let clock: Arc<dyn Clock> = Arc::new(TokioClock {
            wall: DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
            start: tokio::time::Instant::now(),
        });
        let cache = Arc::new(
            SnapshotCache::new(Duration::from_secs(60))
                .with_hard_limit(Duration::from_secs(120))
                .with_clock(clock.clone()),
        );
        let dir = tempfile::tempdir().unwrap();
        let history = History {
            store: Arc::new(crate::store::SqliteStore::new(dir.path().join("s.sqlite"))),
            clock: clock.clone(),
            limits: HistoryLimits {
                retention: chrono::Duration::days(7),
                cache_capacity: 10,
                cache_ttl: Duration::from_secs(60),
                stale_after: Duration::from_secs(60),
            },
        };
        let service = AnswerService::new(cache.clone(), "a@b.c".into(), history);
        (service, cache, clock, dir)
    }

    /// (items, stale, expired) of an answer.
    fn state(answer: &Answer) -> (usize, bool, bool) {
        (
            answer.items().len(),
            answer.view.stale_reason.is_some(),
            answer.view.expired,
        )
    }

    fn snapshot_of(collected_at: DateTime<Utc>, items: usize) -> Snapshot {
        let mut snapshot = one_item_snapshot(collected_at);
        snapshot.items = vec![snapshot.items[0]; items];
        snapshot
    }

    #[tokio::test(start_paused = true)]
    async fn a_live_stream_reports_each_change_of_state_and_only_those() {
        let (service, cache, clock, _dir) = live_service();
        let stop = CancellationToken::new();
        let mut stream = Box::pin(service.watch_live(stop.clone()));

        // Nothing before the first load; then the current answer at once.
        cache.replace(snapshot_of(clock.now(), 1)).await;
        assert_eq!(state(&stream.next().await.unwrap()), (1, false, false));

        // With no new snapshot, age alone: stale past 60 s, then ANEEL's error answer past
        // the 120 s hard limit (no items), each once.
        let stale = stream.next().await.unwrap();
        assert_eq!(state(&stale), (1, true, false));
        assert!(
            stale.view.age > Duration::from_secs(60),
            "{:?}",
            stale.view.age
        );
        let expired = stream.next().await.unwrap();
        assert_eq!(state(&expired), (0, true, true));
        assert_eq!(expired.idc_status_requisicao(), STATUS_ERRO);
        assert!(expired.view.age > Duration::from_secs(120));

        // A new snapshot is fresh again; a failed load makes it stale at once; a new reason
        // for the same state is no message: the next one is the expiry.
        cache.replace(snapshot_of(clock.now(), 2)).await;
        assert_eq!(state(&stream.next().await.unwrap()), (2, false, false));
        cache.record_failure(&RunFailure::Failed(JobError::transient("ORA-12541")));
        let failed = stream.next().await.unwrap();
        assert_eq!(state(&failed), (2, true, false));
        assert!(failed.view.age < Duration::from_secs(60));
        let expired = stream.next().await.unwrap();
        assert_eq!(state(&expired), (0, true, true));

        // A slow reader gets the newest snapshot, not a backlog.
        for items in 3..=5 {
            cache.replace(snapshot_of(clock.now(), items)).await;
        }
        assert_eq!(state(&stream.next().await.unwrap()), (5, false, false));

        stop.cancel();
        cache.replace(snapshot_of(clock.now(), 6)).await;
        assert!(
            stream.next().await.is_none(),
            "ends once stopping, even with news"
        );
    }
}

/// A snapshot of one item collected at `collected_at`, for the tests of this file.
#[cfg(test)]
fn one_item_snapshot(collected_at: DateTime<Utc>) -> Snapshot {
    Snapshot {
        collected_at,
        source: "test".into(),
        instance: "a".into(),
        items: vec![InterrupcaoAtiva {
            ide_conjunto: 1,
            ide_municipio: 1_400_100,
            qtd_ucs_atendidas: 10,
            qtd_ocorrencia_programada: 1,
            qtd_ocorrencia_nao_programada: 0,
        }],
        rejected: Vec::new(),
    }
}

#[cfg(test)]
mod hard_limit_tests {
    use super::*;
    use chrono::TimeZone;
    use std::time::Duration;

    #[tokio::test]
    async fn beyond_the_hard_limit_the_answer_is_an_error_saying_since_when() {
        let cache = Arc::new(
            SnapshotCache::new(Duration::from_secs(60)).with_hard_limit(Duration::from_secs(120)),
        );
        let collected_at = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        cache.replace(one_item_snapshot(collected_at)).await;
        let dir = tempfile::tempdir().unwrap();
        let history = History {
            store: Arc::new(crate::store::SqliteStore::new(dir.path().join("s.sqlite"))),
            clock: Arc::new(crate::clock::SystemClock),
            limits: HistoryLimits {
                retention: chrono::Duration::days(7),
                cache_capacity: 10,
                cache_ttl: Duration::from_secs(60),
                stale_after: Duration::from_secs(60),
            },
        };
        let answer = AnswerService::new(cache, "a@b.c".into(), history)
            .answer(&AnswerRequest::default())
            .await
            .unwrap();
        assert_eq!(answer.idc_status_requisicao(), STATUS_ERRO);
        assert!(answer.items().is_empty());
        assert_eq!(answer.view.snapshot.items.len(), 1, "the snapshot is kept");
        // 12:00 UTC is 09:00 in Brasília.
        assert!(
            answer
                .mensagem()
                .starts_with("Dados indisponíveis desde 29/11/2026 09:00"),
            "{}",
            answer.mensagem()
        );
    }
}

#[cfg(test)]
mod retention_bound_tests {
    use super::*;
    use crate::clock::ManualClock;
    use chrono::TimeZone;

    /// A retention no setting allows any more (the old 100000000 days): the window starts
    /// before any date there is, and a lookup answers instead of panicking.
    #[tokio::test]
    async fn a_retention_beyond_the_calendar_answers_instead_of_panicking() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        let history = History {
            store: Arc::new(crate::store::SqliteStore::new(dir.path().join("s.sqlite"))),
            clock: Arc::new(ManualClock::new(now)),
            limits: HistoryLimits {
                retention: chrono::Duration::days(100_000_000),
                cache_capacity: 10,
                cache_ttl: Duration::from_secs(60),
                stale_after: Duration::from_secs(60),
            },
        };
        let cache = Arc::new(SnapshotCache::new(Duration::from_secs(60)));
        let answers = AnswerService::new(cache, "a@b.c".into(), history);
        for moment in ["29/11/2026 08:00", "01/01/0001 00:00", "01/01/2026 00:00"] {
            match answers.at(moment).await {
                Err(AnswerError::NotFound { .. }) => {}
                other => panic!("{moment}: {other:?}"),
            }
        }
    }
}

#[cfg(test)]
mod history_sharing_tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::store::SqliteStore;
    use chrono::TimeZone;

    fn stored(id: &str, collected_at: DateTime<Utc>) -> StoredSnapshot {
        StoredSnapshot {
            id: id.to_owned(),
            tick_at: Some(collected_at),
            trigger: "cron".to_owned(),
            snapshot: one_item_snapshot(collected_at),
        }
    }

    #[tokio::test]
    async fn every_moment_a_stored_snapshot_answers_shares_one_copy_of_it() {
        // Snapshots at 12:00 and 12:30 UTC (09:00 and 09:30 in Brasília); now is 13:00.
        let at = |h, m| Utc.with_ymd_and_hms(2026, 11, 29, h, m, 0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::new(dir.path().join("s.sqlite")));
        store.save(&stored("first", at(12, 0))).await.unwrap();
        store.save(&stored("second", at(12, 30))).await.unwrap();
        let clock = ManualClock::new(at(13, 0));
        let history = History {
            store,
            clock: Arc::new(clock.clone()),
            limits: HistoryLimits {
                retention: chrono::Duration::days(7),
                cache_capacity: 10,
                cache_ttl: Duration::from_secs(600),
                stale_after: Duration::from_secs(20 * 60),
            },
        };
        let live = Arc::new(SnapshotCache::new(Duration::from_secs(60)));
        let service = AnswerService::new(live, "a@b.c".into(), history);

        let a = service.at("29/11/2026 09:05").await.unwrap();
        let b = service.at("29/11/2026 09:25").await.unwrap();
        let b_again = service.at("29/11/2026 09:25").await.unwrap();
        let c = service.at("29/11/2026 09:40").await.unwrap();
        // 12:57 UTC: three minutes ago, too recent to be cached, but the same snapshot.
        let recent = service.at("29/11/2026 09:57").await.unwrap();

        let id = |x: &Answer| x.recovered.as_ref().unwrap().snapshot_id.to_string();
        assert_eq!(id(&a), "first");
        assert_eq!(id(&b), "first");
        assert_eq!(id(&c), "second");
        assert_eq!(id(&recent), "second");
        assert!(Arc::ptr_eq(&a.view.snapshot, &b.view.snapshot));
        assert!(Arc::ptr_eq(&b.view.snapshot, &b_again.view.snapshot));
        assert!(Arc::ptr_eq(&c.view.snapshot, &recent.view.snapshot));
        assert!(!Arc::ptr_eq(&a.view.snapshot, &c.view.snapshot));
        // What depends on the moment is still the moment's own.
        assert_eq!(a.view.age, Duration::from_secs(5 * 60));
        assert!(a.view.stale_reason.is_none());
        assert_eq!(b.view.age, Duration::from_secs(25 * 60));
        assert!(b.view.stale_reason.is_some(), "25 min > the 20 min limit");
        assert_ne!(a.cache_key, b.cache_key);
        assert_eq!(
            b.recovered.as_ref().unwrap().asked_at,
            at(12, 25),
            "the moment asked, not the snapshot's"
        );
    }
}
