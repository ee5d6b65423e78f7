//! Every setting of the service: a command-line flag and a `RADAR_*` environment variable,
//! parsed by clap into its type before any port is bound. A bad value stops start-up with
//! exit code 2 and a message that names the variable and the value ([`ConfigError`]).
//!
//! Each setting is one typed field: its default and help are written there, its flag and
//! variable are one constant of [`names`] that messages use too. [`Settings::validate`]
//! only checks rules between settings, into plain settings structs; files (keys, TLS,
//! secrets) are read, and the backends chosen, by the wiring. Uses only `domain`.

mod cli;
mod error;
mod hardening;
mod history;
pub mod http;
pub mod names;
pub mod oracle;
mod parse;
mod settings;
mod validate;

use clap::FromArgMatches;

pub use cli::{CheckOracleArgs, Cli, Command, GenerateDemoArgs, Offered};
pub use error::ConfigError;
pub use hardening::{AdminSettings, LimitsSettings, TlsFiles, check_admin_token};
pub use history::{DEFAULT_STORE_SQLITE_PATH, HistorySettings};
pub use http::HttpSettings;
pub use names::Setting;
pub use oracle::{OracleArgs, OracleConnection, REDACTED, Secret};
pub use settings::{
    DEFAULT_DEMO_SCALE, DEFAULT_DEMO_SEED, DEFAULT_SQLITE_PATH, LogFormat, LogSettings,
    QueryBindArgs, ServiceSettings, Settings, SqlitePathArg,
};
pub use validate::{Config, Invocation, SqliteSettings};

impl Cli {
    /// Parses the command line and the environment and validates the settings of the
    /// subcommand (`serve` when none is named), RADAR_SOURCE and RADAR_STORE among the
    /// backends `offered`; `--version` prints `version`. Help, version and malformed
    /// command lines are handled by clap, which prints them and exits (2 for a usage error).
    pub fn load(version: &'static str, offered: &Offered) -> Result<Invocation, ConfigError> {
        Self::load_with(
            Self::command_for(offered).version(version),
            std::env::args_os(),
        )
    }

    /// [`load`](Self::load) from the given arguments (the first is the program name).
    pub fn load_from<I, T>(args: I, offered: &Offered) -> Result<Invocation, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::load_with(Self::command_for(offered), args)
    }

    fn load_with<I, T>(command: clap::Command, args: I) -> Result<Invocation, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = command
            .try_get_matches_from(cli::with_default_subcommand(args))
            .map_err(|e| error::refused_value(&e).unwrap_or_else(|| e.exit()))?;
        Self::from_arg_matches(&matches)
            .unwrap_or_else(|e| e.exit())
            .command
            .validate()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::domain::QueryBinds;

    /// The backends the tests offer: the wiring's list is in `server`, which config does
    /// not import.
    pub(super) fn offered() -> Offered {
        let both = vec![("sqlite", "embedded"), ("oracle", "production")];
        Offered {
            sources: both.clone(),
            stores: both,
        }
    }

    fn load(extra: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["radar-interrupcoes"];
        argv.extend_from_slice(extra);
        match Cli::load_from(argv, &offered())? {
            Invocation::Serve(config) => Ok(*config),
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn defaults_are_valid_and_work_on_a_laptop() {
        let c = load(&[]).unwrap();
        assert_eq!(c.listen_addr.to_string(), "127.0.0.1:50051");
        assert_eq!(c.service.warmup_cron.expression(), "*/30 * * * *");
        assert_eq!(c.service.time_zone, chrono_tz::America::Sao_Paulo);
        assert_eq!(c.service.stale_after, Duration::from_secs(3600));
        assert_eq!(c.binds, QueryBinds::default());
        assert_eq!((c.source.as_str(), c.store.as_str()), ("sqlite", "sqlite"));
        assert!(c.sqlite.create_demo);
    }

    #[test]
    fn the_source_and_the_store_are_one_of_the_names_the_wiring_offers_the_first_by_default() {
        let offered = Offered {
            sources: vec![("csv", "files"), ("sqlite", "embedded")],
            stores: vec![("memory", "none")],
        };
        let load = |argv: &[&str]| match Cli::load_from(argv, &offered) {
            Ok(Invocation::Serve(config)) => Ok((config.source, config.store)),
            Ok(other) => panic!("not serve: {other:?}"),
            Err(e) => Err(e),
        };
        assert_eq!(load(&["radar"]).unwrap(), ("csv".into(), "memory".into()));
        let chosen = load(&["radar", "--source", "sqlite"]).unwrap();
        assert_eq!(chosen.0, "sqlite");
        let e = load(&["radar", "--source", "oracle"]).unwrap_err();
        assert_eq!(
            (e.setting.as_str(), e.value.as_str()),
            ("RADAR_SOURCE", "oracle")
        );
        assert_eq!(e.reason, "expected `csv` or `sqlite`");
        let e = load(&["radar", "--store", "sqlite"]).unwrap_err();
        assert_eq!(
            (e.setting.as_str(), e.reason.as_str()),
            ("RADAR_STORE", "expected `memory`")
        );
    }

    fn error_of(extra: &[&str]) -> ConfigError {
        load(extra).unwrap_err()
    }

    #[test]
    fn each_bad_value_names_its_setting_and_value() {
        let cases: &[(&[&str], &str, &str)] = &[
            (
                &["--listen-addr", "localhost"],
                "RADAR_LISTEN_ADDR",
                "localhost",
            ),
            (
                &["--warmup-cron", "*/30 * *"],
                "RADAR_WARMUP_CRON",
                "*/30 * *",
            ),
            (
                &["--time-zone", "Brasil/Roraima"],
                "RADAR_TIME_ZONE",
                "Brasil/Roraima",
            ),
            (
                &["--contact-email", "nobody"],
                "RADAR_CONTACT_EMAIL",
                "nobody",
            ),
            (&["--source", "postgres"], "RADAR_SOURCE", "postgres"),
            (&["--agency-id=-1"], "RADAR_AGENCY_ID", "-1"),
            (&["--distributor-id", " "], "RADAR_DISTRIBUTOR_ID", " "),
            (&["--stale-after-secs", "0"], "RADAR_STALE_AFTER_SECS", "0"),
            (
                &["--job-timeout-secs", "1m"],
                "RADAR_JOB_TIMEOUT_SECS",
                "1m",
            ),
            (&["--job-max-attempts", "0"], "RADAR_JOB_MAX_ATTEMPTS", "0"),
            (&["--log-format", "xml"], "RADAR_LOG_FORMAT", "xml"),
            (
                &["--sqlite-create-demo", "maybe"],
                "RADAR_SQLITE_CREATE_DEMO",
                "maybe",
            ),
            (
                &["--shutdown-grace-secs", "x"],
                "RADAR_SHUTDOWN_GRACE_SECS",
                "x",
            ),
            (
                &["--aneel-trusted-proxies", "10.0.0.0/8,10.1.0.0/33"],
                "RADAR_ANEEL_TRUSTED_PROXIES",
                "10.1.0.0/33",
            ),
            (
                &["--aneel-source-ranges", "203.0.113.1/24"],
                "RADAR_ANEEL_SOURCE_RANGES",
                "203.0.113.0/24",
            ),
            (
                &["--aneel-forwarded-header", "x-real-ip"],
                "RADAR_ANEEL_FORWARDED_HEADER",
                "x-real-ip",
            ),
            (
                &["--aneel-rate-limit", "100001"],
                "RADAR_ANEEL_RATE_LIMIT",
                "100001",
            ),
            (
                &["--aneel-rate-limit-window-secs", "0"],
                "RADAR_ANEEL_RATE_LIMIT_WINDOW_SECS",
                "0",
            ),
        ];
        for (argv, setting, value) in cases {
            let e = error_of(argv);
            assert_eq!(e.setting, *setting, "{argv:?}");
            let msg = e.to_string();
            assert!(msg.contains(setting) && msg.contains(value), "{msg}");
        }
    }

    #[test]
    fn every_setting_has_one_variable_of_its_own() {
        let mut command = Cli::command_for(&offered());
        command.build();
        let serve = command.find_subcommand("serve").unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for arg in serve.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") {
                continue;
            }
            let var = arg.get_env().expect(id).to_string_lossy().into_owned();
            assert!(var.starts_with("RADAR_"), "{id}: {var}");
            assert!(seen.insert(var.clone()), "{var} is used twice");
            let flag = arg.get_long().expect(id);
            let named = names::ALL.iter().find(|s| s.var == var).expect(&var);
            assert_eq!(named.flag, flag, "{var}");
            assert_eq!(
                flag.replace('-', "_").to_uppercase(),
                var["RADAR_".len()..],
                "the variable is RADAR_ and the flag"
            );
        }
        assert_eq!(seen.len(), names::ALL.len(), "a constant no argument uses");
    }

    #[test]
    fn service_defaults_are_the_flags_defaults() {
        let parsed = load(&[]).unwrap().service;
        let defaults = ServiceSettings::default();
        let retry = |s: &ServiceSettings| {
            (
                s.job_timeout,
                s.job_max_attempts,
                s.job_retry_backoff,
                s.job_retry_backoff_max,
            )
        };
        assert_eq!(retry(&defaults), retry(&parsed));
        let startup = |s: &ServiceSettings| (s.startup_retry_initial, s.startup_retry_max);
        assert_eq!(startup(&defaults), startup(&parsed));
        assert_eq!(
            (defaults.stale_after, defaults.shutdown_grace),
            (parsed.stale_after, parsed.shutdown_grace)
        );
        assert_eq!(defaults.contact_email, parsed.contact_email);
    }

    #[test]
    fn durations_and_limits_have_upper_bounds_and_the_backoff_cap_is_30_s() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["--job-retry-backoff-ms", "18446744073709551615"],
                "RADAR_JOB_RETRY_BACKOFF_MS",
            ),
            (
                &["--job-retry-backoff-ms", "30001"],
                "RADAR_JOB_RETRY_BACKOFF_MS",
            ),
            (&["--job-timeout-secs", "21601"], "RADAR_JOB_TIMEOUT_SECS"),
            (&["--job-max-attempts", "11"], "RADAR_JOB_MAX_ATTEMPTS"),
            (
                &["--stale-after-secs", "18446744073709551615"],
                "RADAR_STALE_AFTER_SECS",
            ),
            (
                &["--startup-retry-max-secs", "3601"],
                "RADAR_STARTUP_RETRY_MAX_SECS",
            ),
            (
                &["--shutdown-grace-secs", "601"],
                "RADAR_SHUTDOWN_GRACE_SECS",
            ),
            (
                &["--shutdown-drain-delay-secs", "301"],
                "RADAR_SHUTDOWN_DRAIN_DELAY_SECS",
            ),
            (
                &["--stale-hard-limit-secs", "604801"],
                "RADAR_STALE_HARD_LIMIT_SECS",
            ),
            (
                &["--stale-hard-limit-secs", "3599"],
                "RADAR_STALE_HARD_LIMIT_SECS",
            ),
            (
                &["--handshake-timeout-secs", "0"],
                "RADAR_HANDSHAKE_TIMEOUT_SECS",
            ),
            (
                &["--max-connection-age-secs", "9"],
                "RADAR_MAX_CONNECTION_AGE_SECS",
            ),
            (
                &["--max-connection-age-grace-secs", "601"],
                "RADAR_MAX_CONNECTION_AGE_GRACE_SECS",
            ),
            (
                &["--keepalive-interval-secs", "0"],
                "RADAR_KEEPALIVE_INTERVAL_SECS",
            ),
            (
                &["--keepalive-timeout-secs", "601"],
                "RADAR_KEEPALIVE_TIMEOUT_SECS",
            ),
            (&["--max-connections", "0"], "RADAR_MAX_CONNECTIONS"),
            (
                &["--max-concurrent-streams", "10001"],
                "RADAR_MAX_CONCURRENT_STREAMS",
            ),
            (
                &["--max-calls-per-connection", "0"],
                "RADAR_MAX_CALLS_PER_CONNECTION",
            ),
            (&["--max-request-bytes", "100"], "RADAR_MAX_REQUEST_BYTES"),
            (&["--rpc-timeout-secs", "301"], "RADAR_RPC_TIMEOUT_SECS"),
            (
                &["--manual-trigger-min-interval-secs", "3601"],
                "RADAR_MANUAL_TRIGGER_MIN_INTERVAL_SECS",
            ),
        ];
        for (argv, setting) in cases {
            let e = error_of(argv);
            assert_eq!(e.setting, *setting, "{argv:?}");
            assert!(e.to_string().contains(argv[1]), "{e}");
        }
        let c = load(&["--job-retry-backoff-ms", "30000"]).unwrap();
        assert_eq!(c.service.job_retry_backoff_max, Duration::from_secs(30));
        assert_eq!(c.service.job_retry_backoff, Duration::from_secs(30));
        let c = load(&[]).unwrap();
        assert_eq!(c.service.job_retry_backoff_max, Duration::from_secs(30));
        assert_eq!(c.service.stale_hard_limit, Duration::from_secs(7200));
        assert_eq!(c.service.drain_delay, Duration::from_secs(5));
        assert_eq!(c.service.admin.manual_min_interval, Duration::from_secs(30));
        assert!(c.service.admin.admin_token.is_none());
        assert!(c.service.tls.tls_cert_file.is_none());
    }

    #[test]
    fn an_admin_token_and_its_file_together_are_refused_without_showing_the_token() {
        let token = "a-token-of-thirty-two-characters";
        let e = error_of(&["--admin-token", token, "--admin-token-file", "/run/t"]);
        assert_eq!(e.setting, "RADAR_ADMIN_TOKEN");
        assert!(e.reason.contains("RADAR_ADMIN_TOKEN_FILE, not both"), "{e}");
        assert!(!e.to_string().contains(token), "{e}");
        let e = error_of(&["--admin-token", "short"]);
        assert_eq!(e.setting, "RADAR_ADMIN_TOKEN");
        assert!(!e.to_string().contains("short"), "{e}");
    }

    #[test]
    fn per_peer_caps_stay_within_their_listener_and_keep_alive_within_the_header_timeout() {
        let cases: &[(&[&str], &str, &str)] = &[
            (
                &[
                    "--max-connections",
                    "64",
                    "--max-connections-per-peer",
                    "65",
                ],
                "RADAR_MAX_CONNECTIONS_PER_PEER",
                "must be at most RADAR_MAX_CONNECTIONS (64)",
            ),
            (
                &["--max-streams-per-peer", "1025"],
                "RADAR_MAX_STREAMS_PER_PEER",
                "must be at most RADAR_MAX_STREAMS (1024)",
            ),
            (
                &["--max-calls-per-peer", "513"],
                "RADAR_MAX_CALLS_PER_PEER",
                "must be at most RADAR_MAX_CALLS (512)",
            ),
            (
                &["--http-max-connections-per-peer", "257"],
                "RADAR_HTTP_MAX_CONNECTIONS_PER_PEER",
                "must be at most RADAR_HTTP_MAX_CONNECTIONS (256)",
            ),
            (
                &["--http-keepalive-timeout-secs", "11"],
                "RADAR_HTTP_KEEPALIVE_TIMEOUT_SECS",
                "must be at most RADAR_HTTP_HEADER_READ_TIMEOUT_SECS (10 s)",
            ),
        ];
        for (argv, setting, reason) in cases {
            let e = error_of(argv);
            assert_eq!(e.setting, *setting, "{argv:?}");
            assert!(e.reason.starts_with(reason), "{e}");
        }
        let c = load(&[
            "--max-connections",
            "64",
            "--max-connections-per-peer",
            "64",
        ])
        .unwrap();
        assert_eq!(c.service.limits.max_connections_per_peer, 64);
    }

    #[test]
    fn the_contact_email_is_at_most_50_characters() {
        let fifty = format!("{}@roraimaenergia.com.br", "a".repeat(50 - 22));
        assert_eq!(fifty.len(), 50);
        assert!(load(&["--contact-email", &fifty]).is_ok());
        let e = error_of(&["--contact-email", &format!("a{fifty}")]);
        assert_eq!(e.setting, "RADAR_CONTACT_EMAIL");
    }

    #[test]
    fn the_demo_is_created_automatically_only_at_the_default_path() {
        let create = |argv: &[&str]| load(argv).unwrap().sqlite.create_demo;
        assert!(create(&[]));
        assert!(!create(&["--sqlite-path", "/srv/oms/copy.sqlite"]));
        assert!(create(&[
            "--sqlite-path",
            "/tmp/x.sqlite",
            "--sqlite-create-demo",
            "true"
        ]));
        assert!(!create(&["--sqlite-create-demo", "false"]));
    }

    #[test]
    fn six_field_crons_and_other_time_zones_are_accepted() {
        let c = load(&["--warmup-cron", "*/5 * * * * *", "--time-zone", "UTC"]).unwrap();
        assert_eq!(c.service.warmup_cron.expression(), "*/5 * * * * *");
        assert_eq!(c.service.time_zone, chrono_tz::UTC);
    }

    /// The long flags of a subcommand.
    fn flags_of(subcommand: &str) -> std::collections::BTreeSet<String> {
        let mut command = <Cli as clap::CommandFactory>::command();
        command.build();
        let found = command.find_subcommand(subcommand).unwrap();
        found
            .get_arguments()
            .filter_map(|arg| arg.get_long().map(str::to_owned))
            .filter(|flag| flag != "help")
            .collect()
    }

    #[test]
    fn each_subcommand_takes_only_its_own_settings() {
        let oracle: Vec<String> = flags_of("serve")
            .into_iter()
            .filter(|flag| flag.starts_with("oracle-"))
            .collect();
        assert!(oracle.len() >= 5, "{oracle:?}");
        let log = ["log-format", "log-level"];

        let demo = flags_of("generate-demo");
        let expected: std::collections::BTreeSet<String> = ["sqlite-path", "scale", "seed"]
            .iter()
            .chain(&log)
            .map(|f| (*f).to_owned())
            .collect();
        assert_eq!(demo, expected);

        let check = flags_of("check-oracle");
        let expected: std::collections::BTreeSet<String> = ["agency-id", "distributor-id"]
            .iter()
            .chain(&log)
            .map(|f| (*f).to_owned())
            .chain(oracle)
            .collect();
        assert_eq!(check, expected);

        // A global setting would show up in every subcommand again.
        let mut command = <Cli as clap::CommandFactory>::command();
        command.build();
        for sub in command.get_subcommands() {
            for arg in sub.get_arguments() {
                assert!(!arg.is_global_set(), "{} is global", arg.get_id());
            }
        }
    }

    #[test]
    fn without_a_subcommand_it_serves_and_subcommands_read_their_variables() {
        assert!(matches!(
            Cli::load_from(["radar-interrupcoes"], &offered()).unwrap(),
            Invocation::Serve(_)
        ));
        let load = |argv: &[&str]| Cli::load_from(argv, &offered());
        match load(&["radar-interrupcoes", "--listen-addr", "0.0.0.0:1"]).unwrap() {
            Invocation::Serve(config) => assert_eq!(config.listen_addr.port(), 1),
            other => panic!("{other:?}"),
        }
        match load(&["radar-interrupcoes", "generate-demo", "--scale", "0.5"]).unwrap() {
            Invocation::GenerateDemo(args) => assert!((args.scale - 0.5).abs() < f64::EPSILON),
            other => panic!("{other:?}"),
        }
        let e = load(&["radar-interrupcoes", "generate-demo", "--scale", "0"]).unwrap_err();
        assert_eq!((e.setting.as_str(), e.flag.as_str()), ("", "scale"));
        assert_eq!(
            e.to_string(),
            "invalid setting --scale = \"0\": must be a number greater than 0 and at most 50"
        );
        let e = load(&["radar-interrupcoes", "check-oracle"]).unwrap_err();
        assert_eq!(e.setting, "RADAR_ORACLE_CONNECT_STRING");
    }
}
