//! What data clients may see of a failure: its kind and native code (`ORA-`, `DPI-`,
//! `SQLITE_`), never file paths or driver internals, and never more than a short prefix of
//! a value they sent. `ListJobs` (admin only) and the logs keep the full detail.

use crate::scheduler::{FailureKind, RunFailure};
use crate::store::StoreError;

/// Longest prefix of a client's value echoed back in an error.
pub const ECHO_MAX_CHARS: usize = 32;

/// `value` as it may be echoed in an error: quoted, cut to [`ECHO_MAX_CHARS`] characters
/// with its full length noted when longer.
pub fn echo(value: &str) -> String {
    let total = value.chars().count();
    if total <= ECHO_MAX_CHARS {
        return format!("{value:?}");
    }
    let prefix: String = value.chars().take(ECHO_MAX_CHARS).collect();
    format!("{prefix:?}... ({total} characters)")
}

/// The client-facing summary of a failed load: its kind and native codes, e.g.
/// `transient source error (ORA-12541)`. Built from the typed failure, never from its text.
pub fn public_failure(failure: &RunFailure) -> String {
    let (kind, codes): (&str, &[String]) = match failure {
        RunFailure::TimedOut { .. } => ("the source query timed out", &[]),
        RunFailure::Panicked { .. } => ("the load panicked", &[]),
        RunFailure::Failed(error) => {
            let kind = match error.kind {
                FailureKind::InvalidInput => "every source row failed validation",
                FailureKind::Transient => "transient source error",
                FailureKind::Permanent => "permanent source error",
            };
            (kind, &error.codes)
        }
    };
    if codes.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind} ({})", codes.join(", "))
    }
}

/// The client-facing summary of a store failure: which store and its native code, e.g.
/// `snapshot store sqlite, SQLITE_BUSY`. Never its text, which names the store's file, its
/// connection and the settings to fix (for operators: logs and `ListJobs`).
pub fn public_store_failure(error: &StoreError) -> String {
    match &error.code {
        Some(code) => format!("snapshot store {}, {code}", error.store),
        None => format!("snapshot store {}", error.store),
    }
}

/// The distinct `ORA-nnnnn`, `DPI-nnnn` and `SQLITE_XXX` codes in `text`, in order: for an
/// adapter's boundary, to collect the codes a driver's message names (a stacked Oracle
/// message names several) into a typed failure.
pub fn native_codes(text: &str) -> Vec<String> {
    let mut codes: Vec<String> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        let found = ["ORA-", "DPI-"]
            .iter()
            .find(|p| rest.starts_with(**p))
            .map(|p| {
                let digits = rest[p.len()..]
                    .bytes()
                    .take_while(u8::is_ascii_digit)
                    .count();
                (digits > 0).then(|| p.len() + digits)
            })
            .or_else(|| {
                rest.starts_with("SQLITE_").then(|| {
                    let name = rest["SQLITE_".len()..]
                        .bytes()
                        .take_while(|b| b.is_ascii_uppercase() || *b == b'_')
                        .count();
                    (name > 0).then(|| "SQLITE_".len() + name)
                })
            })
            .flatten();
        // A code starts a word: `xORA-1` is not one.
        let starts_word = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        match found {
            Some(len) if starts_word => {
                let code = rest[..len].to_owned();
                if !codes.contains(&code) {
                    codes.push(code);
                }
                i += len;
            }
            _ => i += rest.chars().next().map_or(1, char::len_utf8),
        }
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::JobError;

    #[test]
    fn long_values_are_cut_and_their_length_noted() {
        assert_eq!(echo("28/11/2026"), "\"28/11/2026\"");
        let long = "x".repeat(4_000_000);
        let shown = echo(&long);
        assert!(shown.len() < 80, "{shown}");
        assert!(shown.ends_with("(4000000 characters)"), "{shown}");
        // Cut on characters, not bytes.
        let shown = echo(&"ç".repeat(40));
        assert!(
            shown.starts_with(&format!("\"{}\"...", "ç".repeat(32))),
            "{shown}"
        );
    }

    #[test]
    fn failures_keep_kind_and_codes_but_not_paths_or_driver_text() {
        let sqlite = "SQLITE_CANTOPEN: unable to open database file /srv/secret/oms.sqlite: \
                      No such file or directory (permanent)";
        let shown = public_failure(&failed(JobError::permanent(sqlite), sqlite));
        assert_eq!(shown, "permanent source error (SQLITE_CANTOPEN)");
        assert!(!shown.contains("/srv"));

        let oracle = "ORA-12541: TNS:no listener at host db.internal:1521 (DPI-1080) (transient)";
        assert_eq!(
            public_failure(&failed(JobError::transient(oracle), oracle)),
            "transient source error (ORA-12541, DPI-1080)"
        );
        assert_eq!(
            public_failure(&RunFailure::TimedOut {
                attempt: 3,
                limit: std::time::Duration::from_secs(60)
            }),
            "the source query timed out"
        );
        assert_eq!(
            public_failure(&RunFailure::Panicked {
                message: "index out of bounds at /src/x.rs".into(),
                in_attempt: true
            }),
            "the load panicked"
        );
        let invalid = "all 2 rows from the source failed validation: 140010";
        assert_eq!(
            public_failure(&failed(JobError::invalid_input(invalid), invalid)),
            "every source row failed validation"
        );
        assert!(native_codes("something else /etc/passwd").is_empty());
        assert!(native_codes("xORA-1 ORA- DPI-x").is_empty());
    }

    #[test]
    fn store_failures_keep_the_store_and_code_but_not_the_file_or_the_advice() {
        let e = StoreError::new(
            "sqlite",
            Some("SQLITE_CANTOPEN".into()),
            "unable to open database file (file /srv/radar/store.sqlite): check \
             RADAR_STORE_SQLITE_PATH",
        );
        assert_eq!(
            public_store_failure(&e),
            "snapshot store sqlite, SQLITE_CANTOPEN"
        );
        let e = StoreError::new(
            "oracle",
            None,
            "no answer within 5000 ms (the store timeout)",
        );
        assert_eq!(public_store_failure(&e), "snapshot store oracle");
    }

    /// `error` with the codes its driver `text` names, as an adapter's boundary collects them.
    fn failed(error: JobError, text: &str) -> RunFailure {
        RunFailure::Failed(error.with_codes(native_codes(text)))
    }
}
