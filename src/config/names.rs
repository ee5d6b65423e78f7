//! The name of every setting: its `RADAR_*` environment variable and its command-line flag,
//! one constant each, used by clap (`#[arg(long = ...)]` names the flag, and
//! `Cli::command_for` attaches the variable of that flag), by every message of the settings
//! and by the adapters' advice. Adding a setting is one line in the list below. This module
//! imports nothing, so any module may name a setting without depending on the rest of
//! `config`.

/// A setting's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The environment variable, e.g. `RADAR_LISTEN_ADDR`.
    pub var: &'static str,
    /// The command-line flag without dashes, e.g. `listen-addr`.
    pub flag: &'static str,
}

/// Declares each setting as `NAME = "flag"`; its variable is `RADAR_NAME`.
macro_rules! settings {
    ($($name:ident = $flag:literal;)*) => {
        $(
            #[doc = concat!("`RADAR_", stringify!($name), "` (`--", $flag, "`).")]
            pub const $name: Setting = Setting {
                var: concat!("RADAR_", stringify!($name)),
                flag: $flag,
            };
        )*
        /// Every setting with a variable.
        pub const ALL: &[Setting] = &[$($name),*];
    };
}

settings! {
    LISTEN_ADDR = "listen-addr";
    SOURCE = "source";
    SQLITE_PATH = "sqlite-path";
    SQLITE_CREATE_DEMO = "sqlite-create-demo";
    AGENCY_ID = "agency-id";
    DISTRIBUTOR_ID = "distributor-id";
    WARMUP_CRON = "warmup-cron";
    TIME_ZONE = "time-zone";
    CONTACT_EMAIL = "contact-email";
    STALE_AFTER_SECS = "stale-after-secs";
    JOB_TIMEOUT_SECS = "job-timeout-secs";
    JOB_MAX_ATTEMPTS = "job-max-attempts";
    JOB_RETRY_BACKOFF_MS = "job-retry-backoff-ms";
    STARTUP_RETRY_MAX_SECS = "startup-retry-max-secs";
    SHUTDOWN_GRACE_SECS = "shutdown-grace-secs";
    SHUTDOWN_DRAIN_DELAY_SECS = "shutdown-drain-delay-secs";
    STALE_HARD_LIMIT_SECS = "stale-hard-limit-secs";
    LOG_FORMAT = "log-format";
    LOG_LEVEL = "log-level";
    MAX_CONNECTIONS = "max-connections";
    MAX_CONNECTIONS_PER_PEER = "max-connections-per-peer";
    IDLE_TIMEOUT_SECS = "idle-timeout-secs";
    HANDSHAKE_TIMEOUT_SECS = "handshake-timeout-secs";
    MAX_CONNECTION_AGE_SECS = "max-connection-age-secs";
    MAX_CONNECTION_AGE_GRACE_SECS = "max-connection-age-grace-secs";
    KEEPALIVE_INTERVAL_SECS = "keepalive-interval-secs";
    KEEPALIVE_TIMEOUT_SECS = "keepalive-timeout-secs";
    MAX_CONCURRENT_STREAMS = "max-concurrent-streams";
    MAX_CALLS_PER_CONNECTION = "max-calls-per-connection";
    MAX_REQUEST_BYTES = "max-request-bytes";
    RPC_TIMEOUT_SECS = "rpc-timeout-secs";
    MAX_STREAMS = "max-streams";
    MAX_CALLS = "max-calls";
    MAX_CALLS_PER_PEER = "max-calls-per-peer";
    MAX_STREAMS_PER_PEER = "max-streams-per-peer";
    HTTP_MAX_CONNECTIONS = "http-max-connections";
    HTTP_MAX_CONNECTIONS_PER_PEER = "http-max-connections-per-peer";
    HTTP_HEADER_READ_TIMEOUT_SECS = "http-header-read-timeout-secs";
    HTTP_KEEPALIVE_TIMEOUT_SECS = "http-keepalive-timeout-secs";
    ADMIN_TOKEN = "admin-token";
    ADMIN_TOKEN_FILE = "admin-token-file";
    MANUAL_TRIGGER_MIN_INTERVAL_SECS = "manual-trigger-min-interval-secs";
    TLS_CERT_FILE = "tls-cert-file";
    TLS_KEY_FILE = "tls-key-file";
    TLS_CLIENT_CA_FILE = "tls-client-ca-file";
    STORE = "store";
    STORE_SQLITE_PATH = "store-sqlite-path";
    STORE_TIMEOUT_SECS = "store-timeout-secs";
    INSTANCE_ID = "instance-id";
    HISTORY_RETENTION_DAYS = "history-retention-days";
    HISTORY_CACHE_CAPACITY = "history-cache-capacity";
    HISTORY_CACHE_TTL_SECS = "history-cache-ttl-secs";
    CLAIM_WAIT_SECS = "claim-wait-secs";
    CLAIM_POLL_MS = "claim-poll-ms";
    PURGE_CRON = "purge-cron";
    PURGE_BATCH_SIZE = "purge-batch-size";
    ANEEL_LISTEN_ADDR = "aneel-listen-addr";
    ANEEL_API_KEYS = "aneel-api-keys";
    ANEEL_API_KEYS_FILE = "aneel-api-keys-file";
    ANEEL_TRUSTED_PROXIES = "aneel-trusted-proxies";
    ANEEL_FORWARDED_HEADER = "aneel-forwarded-header";
    ANEEL_SOURCE_RANGES = "aneel-source-ranges";
    ANEEL_RATE_LIMIT = "aneel-rate-limit";
    ANEEL_RATE_LIMIT_WINDOW_SECS = "aneel-rate-limit-window-secs";
    METRICS_LISTEN_ADDR = "metrics-listen-addr";
    ORACLE_CONNECT_STRING = "oracle-connect-string";
    ORACLE_USER = "oracle-user";
    ORACLE_PASSWORD = "oracle-password";
    ORACLE_PASSWORD_FILE = "oracle-password-file";
    ORACLE_CLIENT_LIB_DIR = "oracle-client-lib-dir";
    ORACLE_POOL_MIN = "oracle-pool-min";
    ORACLE_POOL_MAX = "oracle-pool-max";
    ORACLE_PING_INTERVAL_SECS = "oracle-ping-interval-secs";
    ORACLE_STMT_CACHE_SIZE = "oracle-stmt-cache-size";
    ORACLE_CALL_TIMEOUT_SECS = "oracle-call-timeout-secs";
}
