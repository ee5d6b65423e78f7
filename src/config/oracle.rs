//! Settings of the Oracle adapter: the `RADAR_ORACLE_*` flags as given, and the validated
//! [`OracleSettings`] the adapter runs with.
//!
//! Numbers are taken as text so that a bad value fails with a [`ConfigError`] naming the
//! environment variable, the flag and the value, like every other setting of the service.

use std::fmt;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::config::ConfigError;

/// Shown instead of a password in errors.
const REDACTED: &str = "<redacted>";

/// Bounds of the numeric settings, checked at start-up so that no value is refused later by
/// the driver (whose conversions to milliseconds in `u32` or seconds in `i32` would fail
/// every run instead of the start-up).
const POOL_MAX_LIMIT: u32 = 1000;
const PING_INTERVAL_LIMIT_SECS: u32 = 86_400;
const STMT_CACHE_LIMIT: u32 = 10_000;
const CALL_TIMEOUT_LIMIT_SECS: u32 = 3600;

/// The Oracle settings as given on the command line or in the environment. Flattened into the
/// service's CLI; validated with [`OracleArgs::validate`] only when the source is `oracle`.
#[derive(Clone, clap::Args)]
#[command(next_help_heading = "Oracle source (RADAR_SOURCE=oracle)")]
pub struct OracleArgs {
    /// Connect string: Easy Connect (`host:1521/service`) or a tnsnames alias.
    #[arg(long = "oracle-connect-string", env = "RADAR_ORACLE_CONNECT_STRING")]
    pub connect_string: Option<String>,

    /// Database user of the service's own schema.
    #[arg(long = "oracle-user", env = "RADAR_ORACLE_USER")]
    pub user: Option<String>,

    /// Password of the user. Prefer RADAR_ORACLE_PASSWORD_FILE in Kubernetes.
    #[arg(
        long = "oracle-password",
        env = "RADAR_ORACLE_PASSWORD",
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub password: Option<SecretString>,

    /// File holding the password (a mounted Secret); one trailing newline is ignored.
    #[arg(long = "oracle-password-file", env = "RADAR_ORACLE_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,

    /// Directory of the Oracle Client library (Instant Client). Without it, the library is
    /// searched on LD_LIBRARY_PATH and the system paths. Not checked at start-up: a missing
    /// directory fails the runs (DPI-1047, naming it), not the service.
    #[arg(long = "oracle-client-lib-dir", env = "RADAR_ORACLE_CLIENT_LIB_DIR")]
    pub client_lib_dir: Option<PathBuf>,

    /// Sessions the pool keeps open (0 to 1000, at most the pool maximum).
    #[arg(
        long = "oracle-pool-min",
        env = "RADAR_ORACLE_POOL_MIN",
        default_value = "1"
    )]
    pub pool_min: String,

    /// Most sessions the pool opens (1 to 1000).
    #[arg(
        long = "oracle-pool-max",
        env = "RADAR_ORACLE_POOL_MAX",
        default_value = "4"
    )]
    pub pool_max: String,

    /// Idle seconds after which a pooled session is pinged before use (1 to 86400).
    #[arg(
        long = "oracle-ping-interval-secs",
        env = "RADAR_ORACLE_PING_INTERVAL_SECS",
        default_value = "60"
    )]
    pub ping_interval_secs: String,

    /// Statements kept parsed per session (0 to 10000).
    #[arg(
        long = "oracle-stmt-cache-size",
        env = "RADAR_ORACLE_STMT_CACHE_SIZE",
        default_value = "20"
    )]
    pub stmt_cache_size: String,

    /// Longest a single database round trip (and the wait for a pooled session) may take
    /// (1 to 3600). A whole fetch is abandoned after 3 x this + 5 s, which must stay below
    /// RADAR_JOB_TIMEOUT_SECS.
    #[arg(
        long = "oracle-call-timeout-secs",
        env = "RADAR_ORACLE_CALL_TIMEOUT_SECS",
        default_value = "15"
    )]
    pub call_timeout_secs: String,
}

fn parse_secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

impl fmt::Debug for OracleArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OracleArgs")
            .field("connect_string", &self.connect_string)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| REDACTED))
            .field("password_file", &self.password_file)
            .field("client_lib_dir", &self.client_lib_dir)
            .field("pool_min", &self.pool_min)
            .field("pool_max", &self.pool_max)
            .field("ping_interval_secs", &self.ping_interval_secs)
            .field("stmt_cache_size", &self.stmt_cache_size)
            .field("call_timeout_secs", &self.call_timeout_secs)
            .finish()
    }
}

/// Validated Oracle settings. The password is a [`SecretString`]: `Debug` shows it redacted
/// and nothing in this crate logs or formats it.
#[derive(Clone, Debug)]
pub struct OracleSettings {
    /// Connect string (Easy Connect or tnsnames alias).
    pub connect_string: String,
    /// Database user.
    pub user: String,
    /// Database password.
    pub password: SecretString,
    /// Where to load the Oracle Client library from, if not from the system paths.
    pub client_lib_dir: Option<PathBuf>,
    /// Sessions the pool keeps open.
    pub pool_min: u32,
    /// Most sessions the pool opens (at least 1, at least `pool_min`).
    pub pool_max: u32,
    /// Idle time after which a pooled session is pinged before use.
    pub ping_interval: Duration,
    /// Statements kept parsed per session.
    pub stmt_cache_size: u32,
    /// Longest a database round trip, or the wait for a pooled session, may take.
    pub call_timeout: Duration,
}

impl OracleSettings {
    /// Settings with the defaults of [`OracleArgs`] for everything but the credentials
    /// (used by tests and tools that get the credentials elsewhere).
    pub fn new(
        connect_string: impl Into<String>,
        user: impl Into<String>,
        password: SecretString,
    ) -> Self {
        Self {
            connect_string: connect_string.into(),
            user: user.into(),
            password,
            client_lib_dir: None,
            pool_min: 1,
            pool_max: 4,
            ping_interval: Duration::from_secs(60),
            stmt_cache_size: 20,
            call_timeout: Duration::from_secs(15),
        }
    }

    /// How long one fetch may take in all before the adapter abandons it: pool creation or
    /// the wait for a session, then the query, each bounded by the call timeout, plus slack
    /// (3 x `call_timeout` + 5 s). The job's attempt timeout must be longer, or it would cut
    /// every slow fetch short before the adapter can say why.
    pub fn fetch_deadline(&self) -> Duration {
        self.call_timeout.saturating_mul(3) + Duration::from_secs(5)
    }
}

impl OracleArgs {
    /// Checks the settings and reads the password file. Call it only when the source is
    /// `oracle`: the other sources need none of this.
    pub fn validate(self) -> Result<OracleSettings, ConfigError> {
        let connect_string = required(
            "RADAR_ORACLE_CONNECT_STRING",
            "oracle-connect-string",
            self.connect_string,
            "required when RADAR_SOURCE=oracle, e.g. db-host:1521/OMSPRD",
        )?;
        let user = required(
            "RADAR_ORACLE_USER",
            "oracle-user",
            self.user,
            "required when RADAR_SOURCE=oracle: the service's own schema",
        )?;
        let password = password(self.password, self.password_file)?;
        // Whether the directory exists is deliberately not checked here: a missing one must
        // not crash-loop the pod, it fails the runs with DPI-1047 naming it (see session).
        if let Some(dir) = &self.client_lib_dir
            && dir.as_os_str().to_string_lossy().trim().is_empty()
        {
            return Err(ConfigError::new(
                "RADAR_ORACLE_CLIENT_LIB_DIR",
                "oracle-client-lib-dir",
                dir.display().to_string(),
                "must not be empty: point it at the Oracle Instant Client directory \
                 (the one holding libclntsh.so), or unset it to search LD_LIBRARY_PATH",
            ));
        }
        let pool_min = number(
            "RADAR_ORACLE_POOL_MIN",
            "oracle-pool-min",
            &self.pool_min,
            0..=POOL_MAX_LIMIT,
        )?;
        let pool_max = number(
            "RADAR_ORACLE_POOL_MAX",
            "oracle-pool-max",
            &self.pool_max,
            1..=POOL_MAX_LIMIT,
        )?;
        if pool_min > pool_max {
            return Err(ConfigError::new(
                "RADAR_ORACLE_POOL_MIN",
                "oracle-pool-min",
                self.pool_min,
                format!("must not exceed RADAR_ORACLE_POOL_MAX ({pool_max})"),
            ));
        }
        let ping_interval = number(
            "RADAR_ORACLE_PING_INTERVAL_SECS",
            "oracle-ping-interval-secs",
            &self.ping_interval_secs,
            1..=PING_INTERVAL_LIMIT_SECS,
        )?;
        let stmt_cache_size = number(
            "RADAR_ORACLE_STMT_CACHE_SIZE",
            "oracle-stmt-cache-size",
            &self.stmt_cache_size,
            0..=STMT_CACHE_LIMIT,
        )?;
        let call_timeout = number(
            "RADAR_ORACLE_CALL_TIMEOUT_SECS",
            "oracle-call-timeout-secs",
            &self.call_timeout_secs,
            1..=CALL_TIMEOUT_LIMIT_SECS,
        )?;
        Ok(OracleSettings {
            connect_string,
            user,
            password,
            client_lib_dir: self.client_lib_dir,
            pool_min,
            pool_max,
            ping_interval: Duration::from_secs(ping_interval.into()),
            stmt_cache_size,
            call_timeout: Duration::from_secs(call_timeout.into()),
        })
    }
}

fn required(
    setting: &'static str,
    flag: &'static str,
    value: Option<String>,
    reason: &str,
) -> Result<String, ConfigError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        other => Err(ConfigError::new(
            setting,
            flag,
            other.unwrap_or_default(),
            reason,
        )),
    }
}

/// A whole number within `range`.
fn number(
    setting: &'static str,
    flag: &'static str,
    value: &str,
    range: RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    match value.trim().parse::<u32>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(ConfigError::new(
            setting,
            flag,
            value,
            format!(
                "must be a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// Exactly one of the password and the password file.
fn password(
    password: Option<SecretString>,
    file: Option<PathBuf>,
) -> Result<SecretString, ConfigError> {
    match (password, file) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            "RADAR_ORACLE_PASSWORD",
            "oracle-password",
            REDACTED,
            "set either RADAR_ORACLE_PASSWORD or RADAR_ORACLE_PASSWORD_FILE, not both",
        )),
        (None, None) => Err(ConfigError::new(
            "RADAR_ORACLE_PASSWORD",
            "oracle-password",
            "",
            "required when RADAR_SOURCE=oracle: set RADAR_ORACLE_PASSWORD or \
             RADAR_ORACLE_PASSWORD_FILE",
        )),
        (Some(p), None) if p.expose_secret().is_empty() => Err(ConfigError::new(
            "RADAR_ORACLE_PASSWORD",
            "oracle-password",
            REDACTED,
            "must not be empty",
        )),
        (Some(p), None) => Ok(p),
        (None, Some(path)) => {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::new(
                    "RADAR_ORACLE_PASSWORD_FILE",
                    "oracle-password-file",
                    shown.clone(),
                    format!("cannot read the password file: {e}"),
                )
            })?;
            let trimmed = text.strip_suffix('\n').unwrap_or(&text);
            let trimmed = trimmed.strip_suffix('\r').unwrap_or(trimmed);
            if trimmed.is_empty() {
                return Err(ConfigError::new(
                    "RADAR_ORACLE_PASSWORD_FILE",
                    "oracle-password-file",
                    shown,
                    "the password file is empty",
                ));
            }
            Ok(SecretString::from(trimmed))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use clap::Parser;

    use super::*;

    const PASSWORD: &str = "s3cr3t-Passw0rd";

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        oracle: OracleArgs,
    }

    fn parse(args: &[&str]) -> OracleArgs {
        let mut argv = vec!["radar"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).expect("flags parse").oracle
    }

    fn good() -> OracleArgs {
        parse(&[
            "--oracle-connect-string",
            "db:1521/OMS",
            "--oracle-user",
            "RADAR",
            "--oracle-password",
            PASSWORD,
        ])
    }

    fn password_file(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f
    }

    #[test]
    fn defaults_match_the_documentation() {
        let s = good().validate().unwrap();
        assert_eq!(s.connect_string, "db:1521/OMS");
        assert_eq!(s.user, "RADAR");
        assert_eq!(s.password.expose_secret(), PASSWORD);
        assert_eq!((s.pool_min, s.pool_max), (1, 4));
        assert_eq!(s.ping_interval, Duration::from_secs(60));
        assert_eq!(s.stmt_cache_size, 20);
        assert_eq!(s.call_timeout, Duration::from_secs(15));
        assert_eq!(s.client_lib_dir, None);
        assert_eq!(s.fetch_deadline(), Duration::from_secs(50));
        let n = OracleSettings::new("db:1521/OMS", "RADAR", SecretString::from(PASSWORD));
        assert_eq!(
            (n.pool_min, n.pool_max, n.stmt_cache_size),
            (s.pool_min, s.pool_max, s.stmt_cache_size)
        );
        assert_eq!(
            (n.ping_interval, n.call_timeout),
            (s.ping_interval, s.call_timeout)
        );
    }

    #[test]
    fn the_fetch_deadline_is_three_call_timeouts_and_five_seconds() {
        let mut s = good().validate().unwrap();
        s.call_timeout = Duration::from_secs(1);
        assert_eq!(s.fetch_deadline(), Duration::from_secs(8));
        s.call_timeout = Duration::from_secs(3600);
        assert_eq!(s.fetch_deadline(), Duration::from_secs(10_805));
    }

    #[test]
    fn debug_never_prints_the_password() {
        let args = good();
        assert!(!format!("{args:?}").contains(PASSWORD));
        let s = args.validate().unwrap();
        let shown = format!("{s:?} {s:#?}");
        assert!(!shown.contains(PASSWORD), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
    }

    #[test]
    fn connect_string_and_user_are_required() {
        let e = OracleArgs {
            connect_string: None,
            ..good()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.setting, "RADAR_ORACLE_CONNECT_STRING");
        assert_eq!(e.flag, "oracle-connect-string");
        let e = OracleArgs {
            user: Some("  ".into()),
            ..good()
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
            ..good()
        }
        .validate()
        .unwrap_err();
        assert_eq!(both.setting, "RADAR_ORACLE_PASSWORD");
        assert_eq!(both.value, "<redacted>");
        assert!(!both.to_string().contains(PASSWORD), "{both}");

        let neither = OracleArgs {
            password: None,
            ..good()
        }
        .validate()
        .unwrap_err();
        assert_eq!(neither.setting, "RADAR_ORACLE_PASSWORD");
        assert!(neither.reason.contains("RADAR_ORACLE_PASSWORD_FILE"));

        let empty = OracleArgs {
            password: Some(SecretString::from("")),
            ..good()
        }
        .validate()
        .unwrap_err();
        assert_eq!(empty.value, "<redacted>");
    }

    #[test]
    fn password_file_is_read_and_its_trailing_newline_trimmed() {
        for content in ["from-file\n", "from-file\r\n", "from-file"] {
            let file = password_file(content);
            let s = OracleArgs {
                password: None,
                password_file: Some(file.path().to_path_buf()),
                ..good()
            }
            .validate()
            .unwrap();
            assert_eq!(s.password.expose_secret(), "from-file");
        }
    }

    #[test]
    fn password_file_must_exist_and_not_be_empty() {
        let empty = password_file("\n");
        let missing = empty.path().with_extension("missing");
        for (path, why) in [
            (empty.path().to_path_buf(), "empty"),
            (missing, "cannot read"),
        ] {
            let e = OracleArgs {
                password: None,
                password_file: Some(path.clone()),
                ..good()
            }
            .validate()
            .unwrap_err();
            assert_eq!(e.setting, "RADAR_ORACLE_PASSWORD_FILE");
            assert_eq!(e.flag, "oracle-password-file");
            assert_eq!(e.value, path.display().to_string());
            assert!(e.reason.contains(why), "{e}");
        }
    }

    #[test]
    fn pool_bounds_are_checked() {
        let e = OracleArgs {
            pool_min: "5".into(),
            ..good()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            (e.setting, e.value.as_str()),
            ("RADAR_ORACLE_POOL_MIN", "5")
        );
        let e = OracleArgs {
            pool_min: "0".into(),
            pool_max: "0".into(),
            ..good()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.setting, "RADAR_ORACLE_POOL_MAX");
        let e = OracleArgs {
            pool_max: "four".into(),
            ..good()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.value, "four");
        assert_eq!(e.flag, "oracle-pool-max");
    }

    #[test]
    fn timeouts_must_be_positive() {
        let e = OracleArgs {
            call_timeout_secs: "0".into(),
            ..good()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.setting, "RADAR_ORACLE_CALL_TIMEOUT_SECS");
        let e = OracleArgs {
            ping_interval_secs: "-1".into(),
            ..good()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.setting, "RADAR_ORACLE_PING_INTERVAL_SECS");
        assert_eq!(e.value, "-1");
    }

    #[test]
    fn numbers_out_of_their_bounds_fail_at_start_up_naming_setting_flag_and_value() {
        for (setting, flag, value, args) in [
            (
                "RADAR_ORACLE_CALL_TIMEOUT_SECS",
                "oracle-call-timeout-secs",
                "3601",
                OracleArgs {
                    call_timeout_secs: "3601".into(),
                    ..good()
                },
            ),
            (
                "RADAR_ORACLE_CALL_TIMEOUT_SECS",
                "oracle-call-timeout-secs",
                "4294968",
                OracleArgs {
                    call_timeout_secs: "4294968".into(),
                    ..good()
                },
            ),
            (
                "RADAR_ORACLE_PING_INTERVAL_SECS",
                "oracle-ping-interval-secs",
                "2147483648",
                OracleArgs {
                    ping_interval_secs: "2147483648".into(),
                    ..good()
                },
            ),
            (
                "RADAR_ORACLE_PING_INTERVAL_SECS",
                "oracle-ping-interval-secs",
                "86401",
                OracleArgs {
                    ping_interval_secs: "86401".into(),
                    ..good()
                },
            ),
            (
                "RADAR_ORACLE_POOL_MAX",
                "oracle-pool-max",
                "1001",
                OracleArgs {
                    pool_max: "1001".into(),
                    ..good()
                },
            ),
            (
                "RADAR_ORACLE_POOL_MIN",
                "oracle-pool-min",
                "4294967295",
                OracleArgs {
                    pool_min: "4294967295".into(),
                    ..good()
                },
            ),
            (
                "RADAR_ORACLE_STMT_CACHE_SIZE",
                "oracle-stmt-cache-size",
                "10001",
                OracleArgs {
                    stmt_cache_size: "10001".into(),
                    ..good()
                },
            ),
        ] {
            let e = args.validate().unwrap_err();
            assert_eq!(
                (e.setting, e.flag, e.value.as_str()),
                (setting, flag, value)
            );
            assert!(e.reason.contains("whole number from"), "{e}");
        }
    }

    #[test]
    fn the_largest_allowed_numbers_are_accepted() {
        let s = OracleArgs {
            pool_min: "1000".into(),
            pool_max: "1000".into(),
            ping_interval_secs: "86400".into(),
            stmt_cache_size: "10000".into(),
            call_timeout_secs: "3600".into(),
            ..good()
        }
        .validate()
        .unwrap();
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
            let s = OracleArgs {
                client_lib_dir: Some(path.clone()),
                ..good()
            }
            .validate()
            .unwrap();
            assert_eq!(s.client_lib_dir, Some(path));
        }
    }

    #[test]
    fn an_empty_client_lib_dir_is_a_config_error() {
        for empty in ["", "  "] {
            let e = OracleArgs {
                client_lib_dir: Some(PathBuf::from(empty)),
                ..good()
            }
            .validate()
            .unwrap_err();
            assert_eq!(e.setting, "RADAR_ORACLE_CLIENT_LIB_DIR");
            assert_eq!(e.flag, "oracle-client-lib-dir");
        }
    }
}
