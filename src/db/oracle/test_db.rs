//! The test database of the Oracle contract suites (the source's and the store's), when one
//! is configured with `RADAR_TEST_ORACLE_CONNECT_STRING`, `RADAR_TEST_ORACLE_USER` and
//! `RADAR_TEST_ORACLE_PASSWORD` (and the client library through the service's own
//! client-library variable or `LD_LIBRARY_PATH`). With none of the three set the suites are
//! skipped; with only some of them set they fail, naming the missing ones.

use std::path::PathBuf;

use secrecy::SecretString;

use super::OracleSettings;
use crate::config::names;

/// Drops a table if it exists, on every Oracle version (`DROP TABLE IF EXISTS` is 23ai only).
pub(crate) fn drop_table_sql(table: &str) -> String {
    format!(
        "BEGIN EXECUTE IMMEDIATE 'DROP TABLE {table} PURGE'; \
         EXCEPTION WHEN OTHERS THEN IF SQLCODE != -942 THEN RAISE; END IF; END;"
    )
}

/// The variables that configure the test database; all or none must be set.
const TEST_VARS: [&str; 3] = [
    "RADAR_TEST_ORACLE_CONNECT_STRING",
    "RADAR_TEST_ORACLE_USER",
    "RADAR_TEST_ORACLE_PASSWORD",
];

/// The test database from the environment, or `None` when it is not configured.
pub(crate) fn settings_from_env() -> Option<OracleSettings> {
    settings_from(|name| std::env::var(name).ok())
}

/// The test database from `var`, or `None` when none of [`TEST_VARS`] is set.
///
/// # Panics
/// When some but not all of them are set: a half-configured CI must fail, not skip.
fn settings_from(var: impl Fn(&str) -> Option<String>) -> Option<OracleSettings> {
    let var = |name: &str| var(name).filter(|v| !v.is_empty());
    let [connect_string, user, password] = TEST_VARS.map(var);
    let missing: Vec<&str> = TEST_VARS
        .iter()
        .zip([&connect_string, &user, &password])
        .filter(|(_, value)| value.is_none())
        .map(|(name, _)| *name)
        .collect();
    match missing.len() {
        0 => {}
        n if n == TEST_VARS.len() => return None,
        _ => panic!(
            "the Oracle contract suite is half configured: {} not set (set all of {} to run \
             it, or none to skip it)",
            missing.join(", "),
            TEST_VARS.join(", ")
        ),
    }
    let mut settings = OracleSettings::new(connect_string?, user?, SecretString::from(password?));
    settings.client_lib_dir = var(names::ORACLE_CLIENT_LIB_DIR.var).map(PathBuf::from);
    Some(settings)
}

mod tests {
    use super::*;

    #[test]
    fn drop_statement_ignores_only_a_missing_table() {
        let sql = drop_table_sql("CISPERSL");
        assert!(sql.contains("DROP TABLE CISPERSL PURGE"), "{sql}");
        assert!(sql.contains("SQLCODE != -942"), "{sql}");
    }

    #[test]
    fn the_suite_is_skipped_only_when_no_test_variable_is_set() {
        assert!(settings_from(|_| None).is_none());
        assert!(settings_from(|_| Some(String::new())).is_none());
        let all = settings_from(|name| Some(format!("{name}-value"))).expect("all set");
        assert_eq!(all.connect_string, "RADAR_TEST_ORACLE_CONNECT_STRING-value");
        assert_eq!(all.user, "RADAR_TEST_ORACLE_USER-value");
        assert_eq!(
            all.client_lib_dir,
            Some(PathBuf::from("RADAR_ORACLE_CLIENT_LIB_DIR-value"))
        );
    }

    #[test]
    fn a_half_configured_suite_fails_naming_the_missing_variables() {
        let only_connect_string = |name: &str| {
            (name == "RADAR_TEST_ORACLE_CONNECT_STRING")
                .then(|| "localhost:1521/FREEPDB1".to_owned())
        };
        let panic = std::panic::catch_unwind(|| settings_from(only_connect_string))
            .expect_err("a half-configured suite must not skip");
        let message = panic
            .downcast_ref::<String>()
            .expect("a formatted panic message");
        assert!(
            message.contains("RADAR_TEST_ORACLE_USER, RADAR_TEST_ORACLE_PASSWORD not set"),
            "{message}"
        );
        assert!(!message.contains("FREEPDB1"), "{message}");
    }
}
