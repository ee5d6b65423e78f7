//! Translation of `oracle` crate errors into [`SourceError`], at the adapter boundary.
//!
//! The native code (`ORA-12541`, `DPI-1047`) is kept. Codes a retry can cure are transient;
//! the others are permanent and carry what the operator should fix. An unknown code is
//! permanent: retrying an error nobody understands every 30 minutes hides it, failing the run
//! shows it. Oracle's messages never contain the password, and nothing here adds it.

use oracle::ErrorKind;

use super::stacked::{Stack, advice_through_link};
use crate::source::{SettingNames, SourceError, SourceErrorKind};

/// What a known code means for the job, and what to do about it: `advice` names settings
/// as `{field}` of [`SettingNames`], filled in when an error is translated.
struct Known {
    code: &'static str,
    kind: SourceErrorKind,
    advice: &'static str,
}

const fn transient(code: &'static str, advice: &'static str) -> Known {
    Known {
        code,
        kind: SourceErrorKind::Transient,
        advice,
    }
}

const fn permanent(code: &'static str, advice: &'static str) -> Known {
    Known {
        code,
        kind: SourceErrorKind::Permanent,
        advice,
    }
}

const UNREACHABLE: &str = "the database or its listener is unreachable; the job retries";
const LOST: &str = "the connection to the database was lost; the job retries";
const TIMED_OUT: &str = "the database did not answer within {oracle_call_timeout}; \
                         the job retries";
const POOL_BUSY: &str = "no pooled session was free in time ({oracle_pool_max}); the job \
                         retries";
const HOST_LOOKUP: &str = "the database host could not be resolved or reached; the job \
                           retries (DNS in Kubernetes is often briefly unavailable), but if \
                           this persists check the host in {oracle_connect_string}";
const DOWN: &str = "the database is starting, stopping or not open; the job retries";
const CREDENTIALS: &str = "fix {oracle_user} and {oracle_password} (or the file in \
                           {oracle_password_file})";
const CONNECT_STRING: &str = "fix {oracle_connect_string}: use Easy Connect \
                              (host:port/service_name) or a tnsnames.ora alias found through \
                              TNS_ADMIN";
const OBJECTS: &str = "a table or synonym the query reads is missing or not visible to \
                       {oracle_user}: run sql/oracle/ (synonyms and grants, see \
                       docs/oracle.md) and `radar-interrupcoes check-oracle` to name it";
const CLIENT_LIBRARY: &str = "the Oracle Client library could not be loaded: install Oracle \
                              Instant Client (Basic or Basic Light, 64-bit) and set \
                              {oracle_client_lib_dir} to its directory, or put that \
                              directory on LD_LIBRARY_PATH (or in ldconfig) before the \
                              service starts";
const SQL_BUG: &str = "the aggregation SQL (sql/interrupcoes_ativas.sql) does not run on \
                       this database: a defect to report, not a setting";

/// Every code with a known meaning. Everything else is permanent.
const KNOWN: &[Known] = &[
    // Network and listener.
    transient("ORA-12541", UNREACHABLE),
    transient("ORA-12543", UNREACHABLE),
    transient("ORA-12170", UNREACHABLE),
    transient("ORA-12535", UNREACHABLE),
    transient("ORA-12537", LOST),
    transient("ORA-12547", LOST),
    transient("ORA-12571", LOST),
    transient("ORA-12545", HOST_LOOKUP),
    transient("ORA-12560", UNREACHABLE),
    transient("ORA-12514", DOWN),
    transient("ORA-12505", DOWN),
    transient("ORA-12528", DOWN),
    transient("ORA-12516", DOWN),
    transient("ORA-12518", DOWN),
    transient("ORA-12519", DOWN),
    transient("ORA-12520", DOWN),
    transient("ORA-12526", DOWN),
    transient("ORA-01033", DOWN),
    transient("ORA-01034", DOWN),
    transient("ORA-01089", DOWN),
    transient("ORA-01090", DOWN),
    transient("ORA-00018", DOWN),
    transient("ORA-00020", DOWN),
    // Lost sessions.
    transient("ORA-03113", LOST),
    transient("ORA-03114", LOST),
    transient("ORA-03135", LOST),
    transient("ORA-01012", LOST),
    transient("ORA-00028", LOST),
    transient("ORA-02396", LOST),
    transient("ORA-02068", LOST),
    transient(
        "ORA-03150",
        "the database link to the OMS database lost its connection (end-of-file on the \
         link); the job retries",
    ),
    transient("ORA-25408", LOST),
    transient("DPI-1010", LOST),
    transient("DPI-1080", LOST),
    // Timeouts and cancellation by the call timeout.
    transient("DPI-1067", TIMED_OUT),
    transient("ORA-01013", TIMED_OUT),
    transient("ORA-03136", TIMED_OUT),
    transient("ORA-03156", TIMED_OUT),
    transient("ORA-12608", TIMED_OUT),
    transient("ORA-12609", TIMED_OUT),
    transient(
        "ORA-01555",
        "snapshot too old while reading the OMS tables; the job retries",
    ),
    // Pool exhausted or timed out.
    transient("ORA-24459", POOL_BUSY),
    transient("ORA-24418", POOL_BUSY),
    transient("ORA-24496", POOL_BUSY),
    transient("ORA-24457", POOL_BUSY),
    // Credentials and account.
    permanent("ORA-01017", CREDENTIALS),
    permanent("ORA-01005", CREDENTIALS),
    permanent(
        "ORA-01045",
        "grant CREATE SESSION to {oracle_user} (sql/oracle/00_service_user.sql)",
    ),
    permanent(
        "ORA-28000",
        "the account of {oracle_user} is locked: ask the DBA to unlock it \
               (ALTER USER ... ACCOUNT UNLOCK) and check the password, repeated failures lock it",
    ),
    permanent(
        "ORA-28001",
        "the password of {oracle_user} has expired: ask the DBA for a new \
               one and update the secret",
    ),
    permanent("ORA-28009", CREDENTIALS),
    // Connect string.
    permanent("ORA-12154", CONNECT_STRING),
    permanent("ORA-12162", CONNECT_STRING),
    permanent("ORA-12262", CONNECT_STRING),
    // Objects, privileges, links.
    permanent("ORA-00942", OBJECTS),
    permanent(
        "ORA-00980",
        "a synonym points at a missing object: re-run \
               sql/oracle/02_synonyms.sql with the right oms_schema and oms_dblink",
    ),
    permanent("ORA-04052", OBJECTS),
    permanent(
        "ORA-02019",
        "the database link named by the synonyms does not exist in the \
               service's schema: create it or re-run sql/oracle/02_synonyms.sql with the right \
               oms_dblink",
    ),
    permanent(
        "ORA-01031",
        "{oracle_user} lacks a privilege: run sql/oracle/01_grants.sql \
               (read-only READ on the OMS tables for the database link's user)",
    ),
    permanent(
        "ORA-01039",
        "{oracle_user} lacks a privilege: run sql/oracle/01_grants.sql",
    ),
    permanent(
        "ORA-00904",
        "a column the query reads does not exist: check that the synonyms \
               point at the InService OMS schema (sql/oracle/02_synonyms.sql)",
    ),
    // The SQL itself.
    permanent("ORA-00900", SQL_BUG),
    permanent("ORA-00907", SQL_BUG),
    permanent("ORA-00911", SQL_BUG),
    permanent("ORA-00933", SQL_BUG),
    permanent("ORA-00936", SQL_BUG),
    permanent("ORA-01008", SQL_BUG),
    permanent("ORA-01036", SQL_BUG),
    permanent("ORA-01722", SQL_BUG),
    // The client library.
    permanent("DPI-1047", CLIENT_LIBRARY),
    permanent(
        "DPI-1072",
        "the Oracle Client library is too old: install Oracle Instant Client \
               19 or later and point {oracle_client_lib_dir} at it",
    ),
    permanent(
        "DPI-1050",
        "the Oracle Client library is too old: install Oracle Instant Client \
               19 or later and point {oracle_client_lib_dir} at it",
    ),
];

/// Translates an `oracle` crate error, keeping its native code; the advice names settings
/// by `names`.
pub fn translate(err: &oracle::Error, names: &SettingNames) -> SourceError {
    let text = err.to_string();
    let code = match err.kind() {
        ErrorKind::OciError => err.oci_code().map(|c| format!("ORA-{c:05}")),
        ErrorKind::DpiError => err.dpi_code().map(|c| format!("DPI-{c:04}")),
        _ => None,
    }
    // A message such as "ORA-12541: TNS:no listener" names its code even when the crate could
    // not parse it (an OCI error without a code, a DPI error whose number it did not find).
    .or_else(|| code_in(err.db_error().map_or(text.as_str(), |db| db.message())));
    match code {
        Some(code) => {
            let detail = err.db_error().map_or(text.as_str(), |db| db.message());
            classify(&code, detail, names)
        }
        None => SourceError::permanent(
            None,
            format!("Oracle driver error ({:?}): {text}; {SQL_BUG}", err.kind()),
        ),
    }
}

/// Classifies a native code with the driver's message. `detail` may start with the code
/// itself (`"ORA-12541: TNS:no listener"`); it is not repeated, since `SourceError`'s
/// `Display` shows the code first. A stacked message (several `ORA-` lines) is classified by
/// its cause, the first code that is not a wrapper, and names the database link it came
/// through (see [`super::stacked`]); its lines are kept, joined by ` | `.
pub fn classify(code: &str, detail: &str, names: &SettingNames) -> SourceError {
    // A stacked message is classified by its cause, not by its first (wrapper) code.
    let stack = Stack::parse(code, detail);
    let code = stack.cause();
    let lines: Vec<&str> = detail
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let detail = lines.join(" | ");
    let detail = detail
        .strip_prefix(code)
        .map(|rest| rest.trim_start_matches([':', ' ']))
        .unwrap_or(&detail)
        .trim_end_matches('.');
    let (kind, advice) = match KNOWN.iter().find(|k| k.code == code) {
        Some(known) => (known.kind, names.fill(known.advice)),
        None => (
            SourceErrorKind::Permanent,
            format!(
                "not a known transient error, so the run fails: see the Oracle error reference \
                 for {code}"
            ),
        ),
    };
    let advice = match stack.link.as_deref() {
        Some(link) => advice_through_link(code, link, names).unwrap_or_else(|| {
            format!(
                "{advice}; reported through the database link {link}, between the service's \
                 database and the OMS database"
            )
        }),
        None => advice,
    };
    SourceError {
        kind,
        code: Some(code.to_owned()),
        message: format!("{detail}. {}", capitalized(&advice)),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The `ORA-nnnnn` or `DPI-nnnn` code a message starts with.
fn code_in(message: &str) -> Option<String> {
    let message = message.trim_start();
    let (prefix, digits) = if let Some(rest) = message.strip_prefix("ORA-") {
        ("ORA", rest)
    } else {
        ("DPI", message.strip_prefix("DPI-")?)
    };
    let digits: String = digits.chars().take_while(char::is_ascii_digit).collect();
    (!digits.is_empty()).then(|| format!("{prefix}-{digits}"))
}

#[cfg(test)]
mod tests {
    use oracle::{DbError, Error};

    use super::*;

    /// Translation with the service's names, which the tests' advice checks look for.
    pub(super) fn translate(err: &Error) -> SourceError {
        super::translate(err, &SettingNames::for_tests())
    }

    fn classify(code: &str, detail: &str) -> SourceError {
        super::classify(code, detail, &SettingNames::for_tests())
    }

    #[allow(deprecated)] // the variants are the only public way to build a driver error in 0.6
    fn oci(code: i32, message: &str) -> Error {
        Error::OciError(DbError::new(
            code,
            0,
            message,
            "dpiConn_create",
            "create session",
        ))
    }

    #[allow(deprecated)]
    fn dpi(message: &str) -> Error {
        Error::DpiError(DbError::new(
            0,
            0,
            message,
            "dpiPool_create",
            "load library",
        ))
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

    #[test]
    fn every_script_named_in_advice_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for known in KNOWN {
            for word in known.advice.split([' ', '(', ')', ',']) {
                if let Some(script) = word.strip_prefix("sql/oracle/")
                    && script.ends_with(".sql")
                {
                    assert!(
                        root.join("sql/oracle").join(script).is_file(),
                        "{}: {script}",
                        known.code
                    );
                }
            }
        }
    }

    #[test]
    fn every_setting_named_in_advice_is_filled_in() {
        for known in KNOWN {
            let advice = SettingNames::for_tests().fill(known.advice);
            assert!(!advice.contains(['{', '}']), "{}: {advice}", known.code);
        }
    }

    #[test]
    fn every_known_code_is_listed_once() {
        let mut codes: Vec<_> = KNOWN.iter().map(|k| k.code).collect();
        codes.sort_unstable();
        let before = codes.len();
        codes.dedup();
        assert_eq!(
            before,
            codes.len(),
            "a code listed twice: the first one wins"
        );
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
        assert_eq!(code_in("no code here"), None);
        assert_eq!(code_in("DPI-1047: x").as_deref(), Some("DPI-1047"));
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
