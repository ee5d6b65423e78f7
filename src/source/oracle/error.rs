//! Translation of `oracle` crate errors into [`SourceError`], at the adapter boundary: what
//! each [`Condition`] means for the source's job, and what the operator should do about it.
//!
//! The native code (`ORA-12541`, `DPI-1047`) is kept. Codes a retry can cure are transient
//! (see [`crate::db::oracle::codes`]); the others are permanent and carry what the operator
//! should fix. An unknown code is permanent: retrying an error nobody understands every 30
//! minutes hides it, failing the run shows it.

use super::link_advice::advice_through_link;
use crate::config::names;
use crate::db::oracle::Failure;
use crate::db::oracle::codes::{Condition, client_library, client_too_old};
use crate::hygiene::native_codes;
use crate::source::{SourceError, SourceErrorKind};

const UNREACHABLE: &str = "the database or its listener is unreachable; the job retries";
const LOST: &str = "the connection to the database was lost; the job retries";
const DOWN: &str = "the database is starting, stopping or not open; the job retries";
const SQL_BUG: &str = "the aggregation SQL (sql/interrupcoes_ativas.sql) does not run on \
                       this database: a defect to report, not a setting";

/// What the source's operator should know about `condition`, reported with `code`; the
/// settings to fix are named by their variables ([`names`]).
fn advice(code: &str, condition: Condition) -> String {
    let oracle_call_timeout = names::ORACLE_CALL_TIMEOUT_SECS.var;
    let oracle_connect_string = names::ORACLE_CONNECT_STRING.var;
    let oracle_password = names::ORACLE_PASSWORD.var;
    let oracle_password_file = names::ORACLE_PASSWORD_FILE.var;
    let oracle_pool_max = names::ORACLE_POOL_MAX.var;
    let oracle_user = names::ORACLE_USER.var;
    match condition {
        Condition::Unreachable => UNREACHABLE.to_owned(),
        Condition::HostLookup => format!(
            "the database host could not be resolved or reached; the job \
                           retries (DNS in Kubernetes is often briefly unavailable), but if \
                           this persists check the host in {oracle_connect_string}"
        ),
        Condition::Down => DOWN.to_owned(),
        Condition::Lost => LOST.to_owned(),
        Condition::LinkLost => {
            "the database link to the OMS database lost its connection (end-of-file on the \
             link); the job retries"
                .to_owned()
        }
        Condition::TimedOut => format!(
            "the database did not answer within {oracle_call_timeout}; \
                         the job retries"
        ),
        Condition::SnapshotTooOld => {
            "snapshot too old while reading the OMS tables; the job retries".to_owned()
        }
        Condition::PoolBusy => format!(
            "no pooled session was free in time ({oracle_pool_max}); the job \
                         retries"
        ),
        Condition::Credentials => format!(
            "fix {oracle_user} and {oracle_password} (or the file in \
                           {oracle_password_file})"
        ),
        Condition::NoCreateSession => {
            format!("grant CREATE SESSION to {oracle_user} (sql/oracle/00_service_user.sql)")
        }
        Condition::AccountLocked => {
            format!(
                "the account of {oracle_user} is locked: ask the DBA to unlock it \
             (ALTER USER ... ACCOUNT UNLOCK) and check the password, repeated failures lock it"
            )
        }
        Condition::PasswordExpired => {
            format!(
                "the password of {oracle_user} has expired: ask the DBA for a new one and update \
             the secret"
            )
        }
        Condition::ConnectString => format!(
            "fix {oracle_connect_string}: use Easy Connect \
                              (host:port/service_name) or a tnsnames.ora alias found through \
                              TNS_ADMIN"
        ),
        Condition::MissingObject => format!(
            "a table or synonym the query reads is missing or not visible to \
                       {oracle_user}: run sql/oracle/ (synonyms and grants, see \
                       docs/oracle.md) and `radar-interrupcoes check-oracle` to name it"
        ),
        Condition::BrokenSynonym => {
            "a synonym points at a missing object: re-run sql/oracle/02_synonyms.sql with the \
             right oms_schema and oms_dblink"
                .to_owned()
        }
        Condition::MissingLink => {
            "the database link named by the synonyms does not exist in the service's schema: \
             create it or re-run sql/oracle/02_synonyms.sql with the right oms_dblink"
                .to_owned()
        }
        Condition::Privilege if code == "ORA-01031" => {
            format!(
                "{oracle_user} lacks a privilege: run sql/oracle/01_grants.sql (read-only READ on \
             the OMS tables for the database link's user)"
            )
        }
        Condition::Privilege => {
            format!("{oracle_user} lacks a privilege: run sql/oracle/01_grants.sql")
        }
        Condition::MissingColumn => {
            "a column the query reads does not exist: check that the synonyms point at the \
             InService OMS schema (sql/oracle/02_synonyms.sql)"
                .to_owned()
        }
        Condition::SqlRejected => SQL_BUG.to_owned(),
        Condition::ClientLibraryMissing => client_library(),
        Condition::ClientLibraryTooOld => client_too_old(),
    }
}

/// Translates an `oracle` crate error, keeping its native code.
pub fn translate(err: &oracle::Error) -> SourceError {
    advise(&Failure::of(err))
}

/// Classifies a native code with the driver's message (see [`Failure::coded`]): a stacked
/// message is classified by its cause and names the database link it came through; its
/// lines are kept, joined by ` | `.
pub fn classify(code: &str, detail: &str) -> SourceError {
    advise(&Failure::coded(code, detail))
}

/// The source's error for a classified driver error: the driver's text, then what it means
/// for the job and what to do, after what is wrong with a setting if anything is.
pub fn advise(failure: &Failure) -> SourceError {
    let Some(code) = failure.code.as_deref() else {
        return SourceError::permanent(None, format!("{}; {SQL_BUG}", failure.detail));
    };
    let (kind, advice) = match failure.condition {
        Some(condition) if condition.is_transient() => {
            (SourceErrorKind::Transient, advice(code, condition))
        }
        Some(condition) => (SourceErrorKind::Permanent, advice(code, condition)),
        None => (
            SourceErrorKind::Permanent,
            format!(
                "not a known transient error, so the run fails: see the Oracle error reference \
                 for {code}"
            ),
        ),
    };
    let advice = match failure.link.as_deref() {
        Some(link) => advice_through_link(code, link).unwrap_or_else(|| {
            format!(
                "{advice}; reported through the database link {link}, between the service's \
                 database and the OMS database"
            )
        }),
        None => advice,
    };
    let error = match kind {
        SourceErrorKind::Transient => SourceError::transient,
        SourceErrorKind::Permanent => SourceError::permanent,
    };
    // The stacked causes' codes are read here, once, from the driver's own text.
    error(Some(code.to_owned()), failure.message_with(&advice))
        .with_stacked_codes(native_codes(&failure.detail))
}

#[cfg(test)]
mod tests {
    use oracle::{Error, ErrorKind};

    use super::*;
    use crate::db::oracle::codes::KNOWN;
    use crate::db::oracle::driver_errors::{dpi, oci};

    /// Translation of a driver error, as the adapter does it.
    pub(super) fn translate(err: &Error) -> SourceError {
        super::translate(err)
    }

    fn classify(code: &str, detail: &str) -> SourceError {
        super::classify(code, detail)
    }

    #[test]
    fn transient_oracle_codes_are_retried_and_keep_their_code() {
        for (code, message) in [
            (12541, "ORA-12541: TNS:no listener"),
            (12170, "ORA-12170: TNS:Connect timeout occurred"),
            (12535, "ORA-12535: TNS:operation timed out"),
            (3113, "ORA-03113: end-of-file on communication channel"),
            (3114, "ORA-03114: not connected to ORACLE"),
            (3135, "ORA-03135: connection lost contact"),
            (
                1013,
                "ORA-01013: user requested cancel of current operation",
            ),
            (
                24459,
                "ORA-24459: OCISessionGet() timed out waiting for pool to create new connections",
            ),
            (24418, "ORA-24418: Cannot open further sessions."),
            (
                12514,
                "ORA-12514: TNS:listener does not currently know of service requested",
            ),
            (
                12528,
                "ORA-12528: TNS:listener: all appropriate instances are blocking new connections",
            ),
            (12571, "ORA-12571: TNS:packet writer failure"),
            (1012, "ORA-01012: not logged on"),
            (12608, "ORA-12608: TNS: Send timeout occurred"),
            (12609, "ORA-12609: TNS: Receive timeout occurred"),
            (
                2396,
                "ORA-02396: exceeded maximum idle time, please connect again",
            ),
            (12537, "ORA-12537: TNS:connection closed"),
            (12547, "ORA-12547: TNS:lost contact"),
            (
                12545,
                "ORA-12545: Connect failed because target host or object does not exist",
            ),
        ] {
            let e = translate(&oci(code, message));
            let expected = format!("ORA-{code:05}");
            assert_eq!(e.code.as_deref(), Some(expected.as_str()));
            assert!(e.is_transient(), "{e}");
            assert!(!e.message.starts_with("ORA-"), "code not repeated: {e}");
        }
    }

    #[test]
    fn transient_odpi_codes_are_retried() {
        for (code, message) in [
            (
                "DPI-1067",
                "DPI-1067: call timeout of 30000 ms exceeded with ORA-3156",
            ),
            ("DPI-1010", "DPI-1010: not connected"),
            ("DPI-1080", "DPI-1080: connection was closed by ORA-3113"),
        ] {
            let e = translate(&dpi(message));
            assert_eq!(e.code.as_deref(), Some(code));
            assert!(e.is_transient(), "{e}");
        }
    }

    #[test]
    fn permanent_codes_fail_at_once_saying_what_to_fix() {
        for (code, message, fix) in [
            (
                1017,
                "ORA-01017: invalid username/password; logon denied",
                "RADAR_ORACLE_PASSWORD",
            ),
            (28000, "ORA-28000: The account is locked.", "unlock"),
            (
                942,
                "ORA-00942: table or view does not exist",
                "sql/oracle/",
            ),
            (
                904,
                "ORA-00904: \"HXGN_DT_ORACLE\": invalid identifier",
                "synonyms",
            ),
            (1031, "ORA-01031: insufficient privileges", "01_grants.sql"),
            (
                12154,
                "ORA-12154: TNS:could not resolve the connect identifier specified",
                "RADAR_ORACLE_CONNECT_STRING",
            ),
        ] {
            let e = translate(&oci(code, message));
            assert_eq!(e.code, Some(format!("ORA-{code:05}")));
            assert!(!e.is_transient(), "{e}");
            assert!(e.message.contains(fix), "{e}");
        }
    }

    #[test]
    fn a_failed_host_lookup_is_retried_but_points_at_the_connect_string() {
        let e = translate(&oci(
            12545,
            "ORA-12545: Connect failed because target host or object does not exist",
        ));
        assert_eq!(e.code.as_deref(), Some("ORA-12545"));
        assert!(e.is_transient(), "{e}");
        assert!(e.message.contains("RADAR_ORACLE_CONNECT_STRING"), "{e}");
        assert!(e.message.contains("host"), "{e}");
    }

    /// The source's advice for every known code.
    fn every_advice() -> impl Iterator<Item = (&'static str, String)> {
        KNOWN
            .iter()
            .map(|(code, condition)| (*code, advice(code, *condition)))
    }

    #[test]
    fn every_script_named_in_advice_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for (code, advice) in every_advice() {
            for word in advice.split([' ', '(', ')', ',']) {
                if let Some(script) = word.strip_prefix("sql/oracle/")
                    && script.ends_with(".sql")
                {
                    assert!(
                        root.join("sql/oracle").join(script).is_file(),
                        "{code}: {script}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_setting_named_in_advice_is_one_the_service_reads() {
        for (code, advice) in every_advice() {
            assert!(!advice.contains(['{', '}']), "{code}: {advice}");
            for word in advice.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("RADAR_") {
                    assert!(
                        names::ALL.iter().any(|s| s.var == word),
                        "{code}: {word} is no setting"
                    );
                }
            }
        }
    }

    #[test]
    fn missing_client_library_names_the_setting_and_the_library_path() {
        let e = translate(&dpi(
            "DPI-1047: Cannot locate a 64-bit Oracle Client library: \"libclntsh.so: cannot open \
             shared object file: No such file or directory\"",
        ));
        assert_eq!(e.code.as_deref(), Some("DPI-1047"));
        assert!(!e.is_transient());
        assert!(e.message.contains("RADAR_ORACLE_CLIENT_LIB_DIR"), "{e}");
        assert!(e.message.contains("LD_LIBRARY_PATH"), "{e}");
        assert!(e.message.contains("Instant Client"), "{e}");
        assert!(
            e.message.contains("libclntsh.so"),
            "the driver's text is kept: {e}"
        );
    }

    #[test]
    fn unknown_codes_are_permanent_and_keep_code_and_text() {
        let e = translate(&oci(2291, "ORA-02291: integrity constraint violated"));
        assert_eq!(e.code.as_deref(), Some("ORA-02291"));
        assert!(!e.is_transient());
        assert!(e.message.contains("integrity constraint violated"), "{e}");
        let e = classify("DPI-9999", "DPI-9999: something new");
        assert_eq!(e.code.as_deref(), Some("DPI-9999"));
        assert!(e.message.contains("something new"));
    }

    #[test]
    fn errors_without_a_code_are_permanent() {
        let e = translate(&Error::new(
            ErrorKind::InvalidBindName,
            "invalid bind name AG",
        ));
        assert_eq!(e.code, None);
        assert!(!e.is_transient());
        assert!(e.message.contains("invalid bind name AG"), "{e}");
    }

    #[test]
    fn the_code_is_found_in_the_message_when_the_driver_gives_none() {
        let e = translate(&oci(0, "ORA-03113: end-of-file on communication channel"));
        assert_eq!(e.code.as_deref(), Some("ORA-03113"));
        assert!(e.is_transient());
    }

    #[test]
    fn display_shows_the_code_once() {
        let e = classify("ORA-12541", "ORA-12541: TNS:no listener");
        assert_eq!(
            e.to_string(),
            "ORA-12541: TNS:no listener. The database or its listener is unreachable; the job \
             retries (transient)"
        );
    }
}
