//! Settings of the snapshot history: where it is stored, how long it is kept, how the
//! replicas share cron ticks, and the retention purge job.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::{names, parse};
use crate::domain::CronSchedule;

/// Default of `RADAR_STORE_SQLITE_PATH`.
pub const DEFAULT_STORE_SQLITE_PATH: &str = "data/radar-interrupcoes-store.sqlite";

/// The snapshot history and the cluster's tick sharing.
#[derive(Debug, Clone, Args)]
pub struct HistorySettings {
    /// Path of the SQLite store (every replica sharing the history opens the same file).
    #[arg(long = names::STORE_SQLITE_PATH.flag, default_value = DEFAULT_STORE_SQLITE_PATH)]
    pub store_sqlite_path: PathBuf,
    /// Limit of one snapshot write to the store; past it the snapshot is served without
    /// being stored (and the failure counted).
    #[arg(
        long = names::STORE_TIMEOUT_SECS.flag,
        default_value = "5",
        value_parser = parse::secs_between::<1, 600>
    )]
    pub store_timeout: Duration,
    /// Name of this replica in claims, stored snapshots, answers and logs; empty:
    /// `$HOSTNAME` (or `radar`) followed by a random suffix.
    #[arg(
        long = names::INSTANCE_ID.flag,
        default_value = "",
        value_parser = instance_id
    )]
    pub instance_id: String,
    /// Days of history kept and answerable (dthRecuperacao); 7 to 3650.
    #[arg(
        long = names::HISTORY_RETENTION_DAYS.flag,
        default_value = "7",
        value_parser = retention_days
    )]
    pub retention: chrono::Duration,
    /// Past answers kept in memory (moments asked), and at most as many stored snapshots
    /// (moments answered by the same snapshot share one copy).
    #[arg(
        long = names::HISTORY_CACHE_CAPACITY.flag,
        default_value = "1000",
        value_parser = history_cache_capacity
    )]
    pub history_cache_capacity: u64,
    /// How long a past answer (and a stored snapshot read) stays in the history cache.
    #[arg(
        long = names::HISTORY_CACHE_TTL_SECS.flag,
        default_value = "300",
        value_parser = parse::secs_between::<1, 86_400>
    )]
    pub history_cache_ttl: Duration,
    /// How long after a cron tick the replicas that did not claim it wait for the
    /// claimant's snapshot before querying the source themselves. Must be below
    /// RADAR_JOB_TIMEOUT_SECS.
    #[arg(
        long = names::CLAIM_WAIT_SECS.flag,
        default_value = "20",
        value_parser = parse::secs_between::<1, 3600>
    )]
    pub claim_wait: Duration,
    /// How often a waiting replica looks for the claimant's snapshot.
    #[arg(
        long = names::CLAIM_POLL_MS.flag,
        default_value = "500",
        value_parser = parse::millis_between::<10, 60_000>
    )]
    pub claim_poll: Duration,
    /// Cron of the retention purge job (`snapshot_retention_purge`).
    #[arg(
        long = names::PURGE_CRON.flag,
        default_value = "0 3 * * *",
        value_parser = parse::cron
    )]
    pub purge_cron: CronSchedule,
    /// Snapshots (or claims) deleted per transaction by the purge.
    #[arg(
        long = names::PURGE_BATCH_SIZE.flag,
        default_value = "100",
        value_parser = parse::whole_number::<1, 10_000>
    )]
    pub purge_batch_size: u32,
}

/// 7 to 3650 whole days: ANEEL may ask for any moment of the last 7 days, and ten years is
/// far beyond any audit of its answers and far from the limits of date arithmetic.
fn retention_days(value: &str) -> Result<chrono::Duration, String> {
    match parse::positive::<u32>(value)? {
        ..7 => Err("must be at least 7: ANEEL may ask for any moment of the last 7 days".into()),
        3651.. => Err("must be at most 3650 (ten years)".to_owned()),
        days => Ok(chrono::Duration::days(i64::from(days))),
    }
}

/// 1 to 100 000 past answers, each holding its moment (and at most as many stored
/// snapshots, each the size of a live one).
fn history_cache_capacity(value: &str) -> Result<u64, String> {
    parse::whole_number::<1, 100_000>(value).map(u64::from)
}

/// A name without spaces of at most 128 characters; empty gives [`default_instance_id`].
fn instance_id(value: &str) -> Result<String, String> {
    match value.trim() {
        "" => Ok(default_instance_id()),
        id if id.len() > 128 || id.chars().any(char::is_whitespace) => {
            Err("expected at most 128 characters without spaces".to_owned())
        }
        id => Ok(id.to_owned()),
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
    use std::time::Duration;

    use crate::config::{Cli, Config, ConfigError};

    fn load(extra: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["radar-interrupcoes"];
        argv.extend_from_slice(extra);
        match Cli::load_from(argv, &crate::config::tests::offered())? {
            crate::config::Invocation::Serve(config) => Ok(*config),
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn defaults_keep_seven_days_in_a_local_sqlite_file() {
        let c = load(&[]).unwrap();
        let h = &c.service.history;
        assert_eq!(h.retention, chrono::Duration::days(7));
        assert_eq!(h.purge_cron.expression(), "0 3 * * *");
        assert_eq!(
            (h.history_cache_capacity, h.history_cache_ttl),
            (1000, Duration::from_secs(300))
        );
        assert!(h.claim_wait < c.service.job_timeout);
        assert_eq!(c.store, "sqlite");
        assert_eq!(
            h.store_sqlite_path.as_os_str(),
            super::DEFAULT_STORE_SQLITE_PATH
        );
        assert!(!h.instance_id.is_empty());
        let again = load(&[]).unwrap().service.history.instance_id;
        assert_ne!(
            h.instance_id, again,
            "two processes never share a default name"
        );
        let named = load(&["--instance-id", "pod-7"]).unwrap();
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
            let e = load(argv).unwrap_err();
            assert_eq!(e.setting, *setting, "{argv:?}");
            assert!(e.to_string().contains(word), "{e}");
        }
        assert!(load(&["--history-retention-days", "30"]).is_ok());
    }

    /// Every number has an upper bound: the values that were accepted and then made every
    /// dthRecuperacao and the purge panic (or held u64::MAX entries) stop start-up instead.
    #[test]
    fn every_history_number_has_an_upper_bound() {
        let u64_max = u64::MAX.to_string();
        let cases: &[(&[&str], &str, &str)] = &[
            (
                &["--history-retention-days", "100000000"],
                "RADAR_HISTORY_RETENTION_DAYS",
                "at most 3650",
            ),
            (
                &["--history-retention-days", "3651"],
                "RADAR_HISTORY_RETENTION_DAYS",
                "at most 3650",
            ),
            (
                &["--history-cache-capacity", &u64_max],
                "RADAR_HISTORY_CACHE_CAPACITY",
                &u64_max,
            ),
            (
                &["--history-cache-capacity", "100001"],
                "RADAR_HISTORY_CACHE_CAPACITY",
                "100000",
            ),
            (
                &["--purge-batch-size", "10001"],
                "RADAR_PURGE_BATCH_SIZE",
                "10000",
            ),
        ];
        for (argv, setting, word) in cases {
            let e = load(argv).unwrap_err();
            assert_eq!(e.setting, *setting, "{argv:?}");
            assert!(e.to_string().contains(word), "{word}: {e}");
        }
        let ok = load(&[
            "--history-retention-days",
            "3650",
            "--history-cache-capacity",
            "100000",
            "--purge-batch-size",
            "10000",
        ])
        .unwrap();
        let h = &ok.service.history;
        assert_eq!(h.retention, chrono::Duration::days(3650));
        assert_eq!(
            (h.history_cache_capacity, h.purge_batch_size),
            (100_000, 10_000)
        );
    }
}
