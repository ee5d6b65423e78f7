//! Settings of the snapshot history: where it is stored, how long it is kept, how the
//! replicas share cron ticks, and the retention purge job.

use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;
use clap::Args;

use super::{ConfigError, positive, secs};
use crate::scheduler::CronSchedule;

/// Default of `RADAR_STORE_SQLITE_PATH`.
pub const DEFAULT_STORE_SQLITE_PATH: &str = "data/radar-interrupcoes-store.sqlite";

/// Shortest retention accepted: ANEEL requires at least the last 7 days.
pub const MIN_RETENTION_DAYS: u32 = 7;

/// Raw history settings, as given on the command line or in the environment.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// Where snapshots are stored and cron ticks claimed: `sqlite` (a file, default) or
    /// `oracle` (the service's own schema, with the RADAR_ORACLE_* connection).
    #[arg(long, env = "RADAR_STORE", default_value = "sqlite", global = true)]
    pub store: String,
    /// Path of the SQLite store (every replica sharing the history opens the same file).
    #[arg(long, env = "RADAR_STORE_SQLITE_PATH", default_value = DEFAULT_STORE_SQLITE_PATH, global = true)]
    pub store_sqlite_path: PathBuf,
    /// Name of this replica in claims, stored snapshots and logs; empty: `$HOSTNAME`
    /// (or `radar`) followed by a random suffix.
    #[arg(long, env = "RADAR_INSTANCE_ID", default_value = "", global = true)]
    pub instance_id: String,
    /// Days of history kept and answerable (dthRecuperacao); at least 7.
    #[arg(
        long,
        env = "RADAR_HISTORY_RETENTION_DAYS",
        default_value = "7",
        global = true
    )]
    pub history_retention_days: String,
    /// Past answers kept in memory (entries of the history cache).
    #[arg(
        long,
        env = "RADAR_HISTORY_CACHE_CAPACITY",
        default_value = "1000",
        global = true
    )]
    pub history_cache_capacity: String,
    /// How long a past answer stays in the history cache.
    #[arg(
        long,
        env = "RADAR_HISTORY_CACHE_TTL_SECS",
        default_value = "300",
        global = true
    )]
    pub history_cache_ttl_secs: String,
    /// How long after a cron tick the replicas that did not claim it wait for the
    /// claimant's snapshot before querying the source themselves. Must be below
    /// RADAR_JOB_TIMEOUT_SECS.
    #[arg(
        long,
        env = "RADAR_CLAIM_WAIT_SECS",
        default_value = "20",
        global = true
    )]
    pub claim_wait_secs: String,
    /// How often a waiting replica looks for the claimant's snapshot.
    #[arg(
        long,
        env = "RADAR_CLAIM_POLL_MS",
        default_value = "500",
        global = true
    )]
    pub claim_poll_ms: String,
    /// Limit of one snapshot write to the store; past it the snapshot is served without
    /// being stored (and the failure counted).
    #[arg(
        long,
        env = "RADAR_STORE_TIMEOUT_SECS",
        default_value = "5",
        global = true
    )]
    pub store_timeout_secs: String,
    /// Cron of the retention purge job (`snapshot_retention_purge`).
    #[arg(
        long,
        env = "RADAR_PURGE_CRON",
        default_value = "0 3 * * *",
        global = true
    )]
    pub purge_cron: String,
    /// Snapshots (or claims) deleted per transaction by the purge.
    #[arg(
        long,
        env = "RADAR_PURGE_BATCH_SIZE",
        default_value = "100",
        global = true
    )]
    pub purge_batch_size: String,
}

/// Which store the history lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSettings {
    /// A SQLite file.
    Sqlite {
        /// Its path.
        path: PathBuf,
    },
    /// The service's own Oracle schema (connection: the RADAR_ORACLE_* settings).
    Oracle,
}

/// Validated history settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistorySettings {
    /// This replica's name.
    pub instance_id: String,
    /// How far back moments can be asked; snapshots older are purged.
    pub retention: chrono::Duration,
    /// Entries of the history cache.
    pub cache_capacity: u64,
    /// Time-to-live of the history cache's entries.
    pub cache_ttl: Duration,
    /// Wait for the claimant's snapshot after a tick.
    pub claim_wait: Duration,
    /// Poll interval while waiting.
    pub claim_poll: Duration,
    /// Limit of one snapshot write.
    pub store_timeout: Duration,
    /// Cron of the purge job.
    pub purge_cron: String,
    /// Snapshots or claims per purge transaction.
    pub purge_batch_size: u32,
}

impl Default for HistorySettings {
    fn default() -> Self {
        Self {
            instance_id: default_instance_id(),
            retention: chrono::Duration::days(i64::from(MIN_RETENTION_DAYS)),
            cache_capacity: 1000,
            cache_ttl: Duration::from_secs(300),
            claim_wait: Duration::from_secs(20),
            claim_poll: Duration::from_millis(500),
            store_timeout: Duration::from_secs(5),
            purge_cron: "0 3 * * *".to_owned(),
            purge_batch_size: 100,
        }
    }
}

impl HistoryArgs {
    /// Validates the history settings; `job_timeout` bounds the claim wait.
    pub fn validate(
        &self,
        time_zone: Tz,
        job_timeout: Duration,
    ) -> Result<(StoreSettings, HistorySettings), ConfigError> {
        let store = match self.store.trim() {
            "sqlite" => StoreSettings::Sqlite {
                path: self.store_sqlite_path.clone(),
            },
            "oracle" => StoreSettings::Oracle,
            other => {
                return Err(ConfigError::new(
                    "RADAR_STORE",
                    "store",
                    other,
                    "expected `sqlite` or `oracle`",
                ));
            }
        };
        let retention_days: u32 = positive(
            "RADAR_HISTORY_RETENTION_DAYS",
            "history-retention-days",
            &self.history_retention_days,
        )?;
        if retention_days < MIN_RETENTION_DAYS {
            return Err(ConfigError::new(
                "RADAR_HISTORY_RETENTION_DAYS",
                "history-retention-days",
                &self.history_retention_days,
                format!(
                    "must be at least {MIN_RETENTION_DAYS}: ANEEL may ask for any moment of the last 7 days"
                ),
            ));
        }
        let claim_wait = secs(
            "RADAR_CLAIM_WAIT_SECS",
            "claim-wait-secs",
            &self.claim_wait_secs,
        )?;
        if claim_wait >= job_timeout {
            return Err(ConfigError::new(
                "RADAR_CLAIM_WAIT_SECS",
                "claim-wait-secs",
                &self.claim_wait_secs,
                format!(
                    "must be below RADAR_JOB_TIMEOUT_SECS ({} s): the wait and a query of \
                     our own both happen within one attempt",
                    job_timeout.as_secs()
                ),
            ));
        }
        CronSchedule::parse(&self.purge_cron, time_zone).map_err(|e| {
            ConfigError::new("RADAR_PURGE_CRON", "purge-cron", &self.purge_cron, e.reason)
        })?;
        let instance_id = match self.instance_id.trim() {
            "" => default_instance_id(),
            id if id.len() > 128 || id.chars().any(char::is_whitespace) => {
                return Err(ConfigError::new(
                    "RADAR_INSTANCE_ID",
                    "instance-id",
                    &self.instance_id,
                    "expected at most 128 characters without spaces",
                ));
            }
            id => id.to_owned(),
        };
        Ok((
            store,
            HistorySettings {
                instance_id,
                retention: chrono::Duration::days(i64::from(retention_days)),
                cache_capacity: positive(
                    "RADAR_HISTORY_CACHE_CAPACITY",
                    "history-cache-capacity",
                    &self.history_cache_capacity,
                )?,
                cache_ttl: secs(
                    "RADAR_HISTORY_CACHE_TTL_SECS",
                    "history-cache-ttl-secs",
                    &self.history_cache_ttl_secs,
                )?,
                claim_wait,
                claim_poll: Duration::from_millis(positive(
                    "RADAR_CLAIM_POLL_MS",
                    "claim-poll-ms",
                    &self.claim_poll_ms,
                )?),
                store_timeout: secs(
                    "RADAR_STORE_TIMEOUT_SECS",
                    "store-timeout-secs",
                    &self.store_timeout_secs,
                )?,
                purge_cron: self.purge_cron.trim().to_owned(),
                purge_batch_size: positive(
                    "RADAR_PURGE_BATCH_SIZE",
                    "purge-batch-size",
                    &self.purge_batch_size,
                )?,
            },
        ))
    }
}

/// `$HOSTNAME` (a pod's name under Kubernetes) or `radar`, with a random suffix so that two
/// processes on one host never share a name.
pub fn default_instance_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "radar".to_owned());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", host.trim(), &suffix[..8])
}

#[cfg(test)]
mod tests {
    use crate::config::{Cli, ConfigError, StoreSettings};
    use clap::Parser;
    use std::time::Duration;

    fn validate(extra: &[&str]) -> Result<crate::config::Config, ConfigError> {
        let mut argv = vec!["radar-interrupcoes"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().settings.validate()
    }

    #[test]
    fn defaults_keep_seven_days_in_a_local_sqlite_file() {
        let c = validate(&[]).unwrap();
        let h = &c.service.history;
        assert_eq!(h.retention, chrono::Duration::days(7));
        assert_eq!(h.purge_cron, "0 3 * * *");
        assert_eq!(
            (h.cache_capacity, h.cache_ttl),
            (1000, Duration::from_secs(300))
        );
        assert!(h.claim_wait < c.service.retry.attempt_timeout);
        assert_eq!(
            c.store,
            StoreSettings::Sqlite {
                path: super::DEFAULT_STORE_SQLITE_PATH.into()
            }
        );
        assert!(!h.instance_id.is_empty());
        let again = validate(&[]).unwrap().service.history.instance_id;
        assert_ne!(
            h.instance_id, again,
            "two processes never share a default name"
        );
        let named = validate(&["--instance-id", "pod-7"]).unwrap();
        assert_eq!(named.service.history.instance_id, "pod-7");
    }

    #[test]
    fn each_bad_history_value_names_its_setting() {
        let cases: &[(&[&str], &str, &str)] = &[
            (&["--store", "redis"], "RADAR_STORE", "redis"),
            (
                &["--history-retention-days", "6"],
                "RADAR_HISTORY_RETENTION_DAYS",
                "at least 7",
            ),
            (
                &["--history-retention-days", "0"],
                "RADAR_HISTORY_RETENTION_DAYS",
                "0",
            ),
            (
                &["--history-cache-capacity=-1"],
                "RADAR_HISTORY_CACHE_CAPACITY",
                "-1",
            ),
            (
                &["--history-cache-ttl-secs", "x"],
                "RADAR_HISTORY_CACHE_TTL_SECS",
                "x",
            ),
            (
                &["--claim-wait-secs", "60"],
                "RADAR_CLAIM_WAIT_SECS",
                "RADAR_JOB_TIMEOUT_SECS",
            ),
            (&["--claim-poll-ms", "0"], "RADAR_CLAIM_POLL_MS", "0"),
            (
                &["--store-timeout-secs", "0"],
                "RADAR_STORE_TIMEOUT_SECS",
                "0",
            ),
            (&["--purge-cron", "0 3 * *"], "RADAR_PURGE_CRON", "0 3 * *"),
            (&["--purge-batch-size", "0"], "RADAR_PURGE_BATCH_SIZE", "0"),
            (&["--instance-id", "a b"], "RADAR_INSTANCE_ID", "a b"),
        ];
        for (argv, setting, word) in cases {
            let e = validate(argv).unwrap_err();
            assert_eq!(e.setting, *setting, "{argv:?}");
            assert!(e.to_string().contains(word), "{e}");
        }
        assert!(validate(&["--history-retention-days", "30"]).is_ok());
    }

    #[test]
    fn an_oracle_store_needs_the_oracle_connection() {
        let e = validate(&["--store", "oracle"]).unwrap_err();
        assert!(e.setting.starts_with("RADAR_ORACLE_"), "{e}");
        let c = validate(&[
            "--store",
            "oracle",
            "--oracle-connect-string",
            "db:1521/X",
            "--oracle-user",
            "radar",
            "--oracle-password",
            "pw",
        ])
        .unwrap();
        assert_eq!(c.store, StoreSettings::Oracle);
        assert!(c.store_oracle.is_some());
    }
}
