//! Translation of `oracle` crate errors into [`StoreError`], at the store's boundary: what each
//! [`Condition`] means for the snapshot store, and what the operator should do about it.
//!
//! The store is not the job's source: a failed store call is not retried by the job. A failed
//! write leaves the snapshot served but unstored, a failed read leaves a past answer
//! unavailable, a failed claim makes the replica query the source itself; the next call
//! connects again. So the advice says what failed and what to check, never "the job
//! retries". The store logs in with the same connection settings as the Oracle source (it is
//! chosen by the store setting), so the advice names those, and the store's own objects
//! (`sql/oracle/03_store.sql`), never the OMS tables or the aggregation SQL.

use crate::config::names;
use crate::db::oracle::Failure;
use crate::db::oracle::codes::{Condition, client_library, client_too_old};
use crate::store::StoreError;

/// The adapter's name in its errors.
const NAME: &str = "oracle";

const LOST: &str = "the store's connection to its database was lost; this store call failed \
                    and the next one takes a new session";
const DOWN: &str = "the store's database is starting, stopping or not open; this store call \
                    failed and the next one connects again";

/// What the store's operator should know about `condition`; the settings to fix are named by
/// their variables ([`names`]).
fn advice(condition: Condition) -> String {
    let oracle_call_timeout = names::ORACLE_CALL_TIMEOUT_SECS.var;
    let oracle_connect_string = names::ORACLE_CONNECT_STRING.var;
    let oracle_password = names::ORACLE_PASSWORD.var;
    let oracle_password_file = names::ORACLE_PASSWORD_FILE.var;
    let oracle_pool_max = names::ORACLE_POOL_MAX.var;
    let oracle_user = names::ORACLE_USER.var;
    let store = names::STORE.var;

    match condition {
        Condition::Unreachable | Condition::HostLookup => format!(
            "the store's database cannot be reached ({oracle_connect_string}, \
                           the connection {store}=oracle uses); this store call failed and \
                           the next one connects again"
        ),
        Condition::Down => DOWN.to_owned(),
        Condition::Lost | Condition::LinkLost => LOST.to_owned(),
        Condition::TimedOut => {
            format!(
                "the store's database did not answer within {oracle_call_timeout}; this store call \
             failed and the next one tries again"
            )
        }
        Condition::SnapshotTooOld => {
            "snapshot too old while reading the store's tables; the next read tries again"
                .to_owned()
        }
        Condition::PoolBusy => {
            format!(
                "no pooled session of the store was free in time ({oracle_pool_max}); this store \
             call failed and the next one waits again"
            )
        }
        Condition::Credentials => format!(
            "the store logs in as {oracle_user}: fix {oracle_user} and \
                           {oracle_password} (or the file in {oracle_password_file}), or set \
                           {store}=sqlite"
        ),
        Condition::NoCreateSession => {
            format!(
                "grant CREATE SESSION to {oracle_user}, as which the store logs in \
             (sql/oracle/00_service_user.sql)"
            )
        }
        Condition::AccountLocked => {
            format!(
                "the account of {oracle_user}, as which the store logs in, is locked: ask the DBA \
             to unlock it (ALTER USER ... ACCOUNT UNLOCK) and check the password"
            )
        }
        Condition::PasswordExpired => {
            format!(
                "the password of {oracle_user}, as which the store logs in, has expired: ask the \
             DBA for a new one and update the secret"
            )
        }
        Condition::ConnectString => format!(
            "fix {oracle_connect_string} (the store's connection with \
                              {store}=oracle): use Easy Connect (host:port/service_name) or a \
                              tnsnames.ora alias found through TNS_ADMIN"
        ),
        Condition::MissingObject
        | Condition::BrokenSynonym
        | Condition::MissingLink
        | Condition::MissingColumn => format!(
            "a table or column of the store is missing or not visible to \
                       {oracle_user}: run sql/oracle/03_store.sql in the schema of \
                       {oracle_user}, or set {store}=sqlite"
        ),
        Condition::Privilege => {
            format!(
                "{oracle_user} lacks a privilege on the store's tables: create them in its own \
             schema with sql/oracle/03_store.sql"
            )
        }
        Condition::SqlRejected => {
            "the store's SQL does not run on this database: a defect to report, not a setting"
                .to_owned()
        }
        Condition::ClientLibraryMissing => client_library(),
        Condition::ClientLibraryTooOld => client_too_old(),
    }
}

/// Translates an `oracle` crate error raised by a store call, keeping its native code.
pub fn translate(err: &oracle::Error) -> StoreError {
    advise(&Failure::of(err))
}

/// The store's error for a classified driver error: the driver's text, then what it means
/// for the store and what to do, after what is wrong with a setting if anything is.
pub fn advise(failure: &Failure) -> StoreError {
    let advice = match (failure.code.as_deref(), failure.condition) {
        (_, Some(condition)) => advice(condition),
        (Some(code), None) => {
            format!("not a known Oracle condition: see the Oracle error reference for {code}")
        }
        (None, None) => "a defect of the store to report, not a setting".to_owned(),
    };
    StoreError::new(NAME, failure.code.clone(), failure.message_with(&advice))
}

#[cfg(test)]
mod tests {
    use oracle::{Error, ErrorKind};

    use super::*;
    use crate::db::oracle::codes::KNOWN;
    use crate::db::oracle::driver_errors::oci;

    fn translate(err: &Error) -> StoreError {
        super::translate(err)
    }

    #[test]
    fn no_store_advice_speaks_of_the_job_or_the_source() {
        for (code, condition) in KNOWN {
            let advice = advice(*condition);
            assert!(!advice.contains(['{', '}']), "{code}: {advice}");
            for word in advice.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("RADAR_") {
                    assert!(names::ALL.iter().any(|s| s.var == word), "{code}: {word}");
                }
            }
            for source_word in ["the job", "OMS", "aggregation", "check-oracle", "01_grants"] {
                assert!(!advice.contains(source_word), "{code}: {advice}");
            }
        }
    }

    #[test]
    fn every_script_named_in_advice_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for (code, condition) in KNOWN {
            for word in advice(*condition).split([' ', '(', ')', ',']) {
                if let Some(script) = word.strip_prefix("sql/oracle/") {
                    assert!(
                        root.join("sql/oracle").join(script).is_file(),
                        "{code}: {script}"
                    );
                }
            }
        }
    }

    #[test]
    fn an_unreachable_store_names_its_connection_and_the_store_setting() {
        let e = translate(&oci(12541, "ORA-12541: TNS:no listener"));
        assert_eq!(e.store, "oracle");
        assert_eq!(e.code.as_deref(), Some("ORA-12541"));
        assert!(
            e.message
                .starts_with("TNS:no listener. The store's database"),
            "{e}"
        );
        assert!(e.message.contains("RADAR_ORACLE_CONNECT_STRING"), "{e}");
        assert!(e.message.contains("RADAR_STORE=oracle"), "{e}");
        assert!(!e.message.contains("job"), "{e}");
    }

    #[test]
    fn a_missing_store_table_points_at_the_store_ddl() {
        let e = translate(&oci(942, "ORA-00942: table or view does not exist"));
        assert_eq!(e.code.as_deref(), Some("ORA-00942"));
        assert!(e.message.contains("sql/oracle/03_store.sql"), "{e}");
        assert!(e.message.contains("RADAR_STORE=sqlite"), "{e}");
    }

    #[test]
    fn bad_credentials_name_the_shared_connection_settings() {
        let e = translate(&oci(
            1017,
            "ORA-01017: invalid username/password; logon denied",
        ));
        assert!(e.message.contains("RADAR_ORACLE_USER"), "{e}");
        assert!(e.message.contains("RADAR_ORACLE_PASSWORD"), "{e}");
    }

    #[test]
    fn unknown_and_missing_codes_keep_the_drivers_text() {
        let e = translate(&oci(2291, "ORA-02291: integrity constraint violated"));
        assert_eq!(e.code.as_deref(), Some("ORA-02291"));
        assert!(e.message.contains("integrity constraint violated"), "{e}");
        assert!(
            e.message.contains("Oracle error reference for ORA-02291"),
            "{e}"
        );
        let e = translate(&Error::new(
            ErrorKind::InvalidBindName,
            "invalid bind name X",
        ));
        assert_eq!(e.code, None);
        assert!(e.message.contains("invalid bind name X"), "{e}");
    }

    #[test]
    fn a_note_about_a_setting_comes_first() {
        let mut failure = Failure::coded(
            "DPI-1047",
            "DPI-1047: Cannot locate a 64-bit Oracle Client library",
        );
        failure.note = Some("RADAR_ORACLE_CLIENT_LIB_DIR=/x: directory does not exist".into());
        let e = advise(&failure);
        assert!(
            e.message.starts_with(
                "RADAR_ORACLE_CLIENT_LIB_DIR=/x: directory does not exist. Cannot locate"
            ),
            "{e}"
        );
        assert!(e.message.contains("Instant Client"), "{e}");
    }
}
