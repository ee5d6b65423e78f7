//! The `RADAR_ORACLE_*` settings as given, and the [`OracleConnection`] they make once
//! `OracleArgs::validate` (`validate.rs`) checks them, where Oracle is used.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::names;
use super::parse::{secs_between, whole_number};

/// Shown instead of a password in errors and in `Debug`.
pub const REDACTED: &str = "<redacted>";

/// The Oracle settings. Flattened into the service's CLI; validated with
/// [`OracleArgs::validate`] only when the source is `oracle`. The password is a
/// [`SecretString`]: `Debug` shows it redacted and nothing in this crate logs it.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Oracle source (RADAR_SOURCE=oracle)")]
pub struct OracleArgs {
    /// Connect string: Easy Connect (`host:1521/service`) or a tnsnames alias.
    #[arg(long = names::ORACLE_CONNECT_STRING.flag)]
    pub connect_string: Option<String>,

    /// Database user of the service's own schema.
    #[arg(long = names::ORACLE_USER.flag)]
    pub user: Option<String>,

    /// Password of the user. Prefer RADAR_ORACLE_PASSWORD_FILE in Kubernetes.
    #[arg(
        long = names::ORACLE_PASSWORD.flag,
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub password: Option<SecretString>,

    /// File holding the password (a mounted Secret); one trailing newline is ignored.
    #[arg(long = names::ORACLE_PASSWORD_FILE.flag)]
    pub password_file: Option<PathBuf>,

    /// Directory of the Oracle Client library (Instant Client). Without it, the library is
    /// searched on LD_LIBRARY_PATH and the system paths. Not checked at start-up: a missing
    /// directory fails the runs (DPI-1047, naming it), not the service.
    #[arg(
        long = names::ORACLE_CLIENT_LIB_DIR.flag,
        value_parser = client_lib_dir
    )]
    pub client_lib_dir: Option<PathBuf>,

    /// Sessions the pool keeps open (0 to 1000, at most the pool maximum).
    #[arg(
        long = names::ORACLE_POOL_MIN.flag,
        default_value = "1",
        value_parser = whole_number::<0, 1000>
    )]
    pub pool_min: u32,

    /// Most sessions the pool opens (1 to 1000).
    #[arg(
        long = names::ORACLE_POOL_MAX.flag,
        default_value = "4",
        value_parser = whole_number::<1, 1000>
    )]
    pub pool_max: u32,

    /// Idle seconds after which a pooled session is pinged before use (1 to 86400).
    #[arg(
        long = names::ORACLE_PING_INTERVAL_SECS.flag,
        default_value = "60",
        value_parser = secs_between::<1, 86_400>
    )]
    pub ping_interval: Duration,

    /// Statements kept parsed per session (0 to 10000).
    #[arg(
        long = names::ORACLE_STMT_CACHE_SIZE.flag,
        default_value = "20",
        value_parser = whole_number::<0, 10_000>
    )]
    pub stmt_cache_size: u32,

    /// Longest a single database round trip (and the wait for a pooled session) may take
    /// (1 to 3600). A whole fetch is abandoned after 3 x this + 5 s, which must stay below
    /// RADAR_JOB_TIMEOUT_SECS.
    #[arg(
        long = names::ORACLE_CALL_TIMEOUT_SECS.flag,
        default_value = "15",
        value_parser = secs_between::<1, 3600>
    )]
    pub call_timeout: Duration,
}

// Infallible: clap needs a parser that builds the secret without a copy in a plain String.
#[allow(clippy::unnecessary_wraps)]
pub(super) fn parse_secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

fn client_lib_dir(value: &str) -> Result<PathBuf, String> {
    // Whether the directory exists is deliberately not checked: a missing one must not
    // crash-loop the pod, it fails the runs with DPI-1047 naming it.
    if value.trim().is_empty() {
        return Err(
            "must not be empty: point it at the Oracle Instant Client directory \
                    (the one holding libclntsh.so), or unset it to search LD_LIBRARY_PATH"
                .to_owned(),
        );
    }
    Ok(value.into())
}

/// A secret as configured: the value itself, or a file (a mounted Secret) that the wiring
/// reads. `Debug` never shows the value.
#[derive(Clone)]
pub enum Secret {
    /// Given directly.
    Value(SecretString),
    /// To be read from this file (one trailing newline ignored).
    File(PathBuf),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Value(_) => f.write_str(REDACTED),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// The Oracle settings once validated: every required value present.
#[derive(Debug, Clone)]
pub struct OracleConnection {
    /// Connect string: Easy Connect or a tnsnames alias.
    pub connect_string: String,
    /// The service's own schema.
    pub user: String,
    /// The password, or the file that holds it.
    pub password: Secret,
    /// Directory of the Oracle Client library; `None` searches the system paths.
    pub client_lib_dir: Option<PathBuf>,
    /// Sessions the pool keeps open.
    pub pool_min: u32,
    /// Most sessions the pool opens.
    pub pool_max: u32,
    /// Idle time after which a pooled session is pinged before use.
    pub ping_interval: Duration,
    /// Statements kept parsed per session.
    pub stmt_cache_size: u32,
    /// Longest single database round trip.
    pub call_timeout: Duration,
}

impl OracleConnection {
    /// How long one fetch may take in all before the adapter abandons it: pool creation or
    /// the wait for a session, then the query, each bounded by the call timeout, plus slack
    /// (3 x `call_timeout` + 5 s). The job's attempt timeout must be longer, or it would cut
    /// every slow fetch short before the adapter can say why.
    pub fn fetch_deadline(&self) -> Duration {
        self.call_timeout.saturating_mul(3) + Duration::from_secs(5)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use secrecy::ExposeSecret;

    use super::*;
    use crate::config::{Cli, ConfigError};

    const PASSWORD: &str = "s3cr3t-Passw0rd";

    const GOOD: [&str; 8] = [
        "--source",
        "oracle",
        "--oracle-connect-string",
        "db:1521/OMS",
        "--oracle-user",
        "RADAR",
        "--oracle-password",
        PASSWORD,
    ];

    /// The whole start-up path: clap, then the validation an Oracle backend runs.
    fn load(extra: &[&str]) -> Result<OracleConnection, ConfigError> {
        let mut argv = vec!["radar"];
        argv.extend_from_slice(&GOOD);
        argv.extend_from_slice(extra);
        match Cli::load_from(argv, &crate::config::tests::offered())? {
            crate::config::Invocation::Serve(config) => config.oracle.validate(),
            other => panic!("not serve: {other:?}"),
        }
    }

    fn oracle(extra: &[&str]) -> OracleConnection {
        load(extra).unwrap()
    }

    fn good() -> OracleConnection {
        oracle(&[])
    }

    /// Arguments as clap parses them, before validation.
    fn parsed() -> OracleArgs {
        let mut argv = vec!["radar", "serve"];
        argv.extend_from_slice(&GOOD);
        let matches = Cli::command_for(&crate::config::tests::offered())
            .try_get_matches_from(argv)
            .unwrap();
        match Cli::from_arg_matches(&matches).unwrap().command {
            crate::config::Command::Serve(settings) => settings.oracle,
            other => panic!("not serve: {other:?}"),
        }
    }

    use clap::FromArgMatches;

    fn password_file(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f
    }

    #[test]
    fn defaults_match_the_documentation() {
        let s = good();
        assert_eq!(s.connect_string, "db:1521/OMS");
        assert_eq!(s.user, "RADAR");
        assert!(matches!(&s.password, Secret::Value(p) if p.expose_secret() == PASSWORD));
        assert_eq!((s.pool_min, s.pool_max), (1, 4));
        assert_eq!(s.ping_interval, Duration::from_secs(60));
        assert_eq!(s.stmt_cache_size, 20);
        assert_eq!(s.call_timeout, Duration::from_secs(15));
        assert_eq!(s.client_lib_dir, None);
        assert_eq!(s.fetch_deadline(), Duration::from_secs(50));
    }

    #[test]
    fn the_fetch_deadline_is_three_call_timeouts_and_five_seconds() {
        let mut s = good();
        s.call_timeout = Duration::from_secs(1);
        assert_eq!(s.fetch_deadline(), Duration::from_secs(8));
        s.call_timeout = Duration::from_secs(3600);
        assert_eq!(s.fetch_deadline(), Duration::from_secs(10_805));
    }

    #[test]
    fn debug_never_prints_the_password() {
        let args = parsed();
        assert!(!format!("{args:?}").contains(PASSWORD));
        let s = args.validate().unwrap();
        let shown = format!("{s:?} {s:#?}");
        assert!(!shown.contains(PASSWORD), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn connect_string_and_user_are_required() {
        let e = OracleArgs {
            connect_string: None,
            ..parsed()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.setting, "RADAR_ORACLE_CONNECT_STRING");
        assert_eq!(e.flag, "oracle-connect-string");
        let e = OracleArgs {
            user: Some("  ".into()),
            ..parsed()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.setting, "RADAR_ORACLE_USER");
        assert_eq!(e.value, "  ");
    }

    #[test]
    fn exactly_one_of_password_and_password_file() {
        let file = password_file("from-file\n");
        let both = OracleArgs {
            password_file: Some(file.path().to_path_buf()),
            ..parsed()
        }
        .validate()
        .unwrap_err();
        assert_eq!(both.setting, "RADAR_ORACLE_PASSWORD");
        assert_eq!(both.value, "<redacted>");
        assert!(!both.to_string().contains(PASSWORD), "{both}");

        let neither = OracleArgs {
            password: None,
            ..parsed()
        }
        .validate()
        .unwrap_err();
        assert_eq!(neither.setting, "RADAR_ORACLE_PASSWORD");
        assert!(neither.reason.contains("RADAR_ORACLE_PASSWORD_FILE"));

        let empty = OracleArgs {
            password: Some(SecretString::from("")),
            ..parsed()
        }
        .validate()
        .unwrap_err();
        assert_eq!(empty.value, "<redacted>");
    }

    #[test]
    fn pool_bounds_are_checked() {
        let e = load(&["--oracle-pool-min", "5"]).unwrap_err();
        assert_eq!(
            (e.setting.as_str(), e.value.as_str()),
            ("RADAR_ORACLE_POOL_MIN", "5")
        );
        let e = load(&["--oracle-pool-min", "0", "--oracle-pool-max", "0"]).unwrap_err();
        assert_eq!(e.setting, "RADAR_ORACLE_POOL_MAX");
        let e = load(&["--oracle-pool-max", "four"]).unwrap_err();
        assert_eq!(e.value, "four");
        assert_eq!(e.flag, "oracle-pool-max");
    }

    #[test]
    fn timeouts_must_be_positive() {
        let e = load(&["--oracle-call-timeout-secs", "0"]).unwrap_err();
        assert_eq!(e.setting, "RADAR_ORACLE_CALL_TIMEOUT_SECS");
        let e = load(&["--oracle-ping-interval-secs=-1"]).unwrap_err();
        assert_eq!(e.setting, "RADAR_ORACLE_PING_INTERVAL_SECS");
        assert_eq!(e.value, "-1");
    }

    #[test]
    fn numbers_out_of_their_bounds_fail_at_start_up_naming_setting_flag_and_value() {
        for (setting, flag, value) in [
            (
                "RADAR_ORACLE_CALL_TIMEOUT_SECS",
                "oracle-call-timeout-secs",
                "3601",
            ),
            (
                "RADAR_ORACLE_CALL_TIMEOUT_SECS",
                "oracle-call-timeout-secs",
                "4294968",
            ),
            (
                "RADAR_ORACLE_PING_INTERVAL_SECS",
                "oracle-ping-interval-secs",
                "2147483648",
            ),
            (
                "RADAR_ORACLE_PING_INTERVAL_SECS",
                "oracle-ping-interval-secs",
                "86401",
            ),
            ("RADAR_ORACLE_POOL_MAX", "oracle-pool-max", "1001"),
            ("RADAR_ORACLE_POOL_MIN", "oracle-pool-min", "4294967295"),
            (
                "RADAR_ORACLE_STMT_CACHE_SIZE",
                "oracle-stmt-cache-size",
                "10001",
            ),
        ] {
            let e = load(&[&format!("--{flag}"), value]).unwrap_err();
            assert_eq!(
                (e.setting.as_str(), e.flag.as_str(), e.value.as_str()),
                (setting, flag, value)
            );
            assert!(e.reason.contains("whole number from"), "{e}");
        }
    }

    #[test]
    fn the_largest_allowed_numbers_are_accepted() {
        let s = oracle(&[
            "--oracle-pool-min",
            "1000",
            "--oracle-pool-max",
            "1000",
            "--oracle-ping-interval-secs",
            "86400",
            "--oracle-stmt-cache-size",
            "10000",
            "--oracle-call-timeout-secs",
            "3600",
            "--job-timeout-secs",
            "20000",
        ]);
        assert_eq!(
            (s.pool_min, s.pool_max, s.stmt_cache_size),
            (1000, 1000, 10_000)
        );
        assert_eq!(s.ping_interval, Duration::from_secs(86_400));
        assert_eq!(s.call_timeout, Duration::from_secs(3600));
    }

    #[test]
    fn a_missing_client_lib_dir_does_not_stop_start_up() {
        let dir = tempfile::tempdir().unwrap();
        for path in [dir.path().to_path_buf(), dir.path().join("nope")] {
            let s = oracle(&["--oracle-client-lib-dir", path.to_str().unwrap()]);
            assert_eq!(s.client_lib_dir, Some(path));
        }
    }

    #[test]
    fn an_empty_client_lib_dir_is_a_config_error() {
        for empty in ["", "  "] {
            let e = load(&["--oracle-client-lib-dir", empty]).unwrap_err();
            assert_eq!(e.setting, "RADAR_ORACLE_CLIENT_LIB_DIR");
            assert_eq!(e.flag, "oracle-client-lib-dir");
        }
    }
}
