//! What Oracle's native codes mean, for every port: each known `ORA-`/`DPI-` code with the
//! [`Condition`] it reports, and whether a retry may cure it. What to advise the operator is
//! each port's own (the source's and the store's `error` modules); an unknown code is none of
//! these conditions, and the ports treat it as needing an operator.

use crate::config::names;

/// What a known native code reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// The database or its listener cannot be reached.
    Unreachable,
    /// The database host could not be resolved or reached.
    HostLookup,
    /// The database is starting, stopping or not open, or refuses new sessions.
    Down,
    /// An established connection or session was lost.
    Lost,
    /// A database link lost its connection (end-of-file on the link).
    LinkLost,
    /// A round trip exceeded the call timeout, or was cancelled by it.
    TimedOut,
    /// Snapshot too old: undo needed by a long read was overwritten.
    SnapshotTooOld,
    /// No pooled session was free in time.
    PoolBusy,
    /// The user or password is wrong.
    Credentials,
    /// The user may not create a session.
    NoCreateSession,
    /// The account is locked.
    AccountLocked,
    /// The password has expired.
    PasswordExpired,
    /// The connect string cannot be resolved.
    ConnectString,
    /// A table or synonym is missing or not visible.
    MissingObject,
    /// A synonym points at a missing object.
    BrokenSynonym,
    /// The database link does not exist.
    MissingLink,
    /// A privilege is missing.
    Privilege,
    /// A column does not exist.
    MissingColumn,
    /// The database rejected the SQL text or its binds.
    SqlRejected,
    /// The Oracle Client library could not be loaded.
    ClientLibraryMissing,
    /// The Oracle Client library is too old.
    ClientLibraryTooOld,
}

impl Condition {
    /// Whether a later attempt may succeed without an operator.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::Unreachable
                | Self::HostLookup
                | Self::Down
                | Self::Lost
                | Self::LinkLost
                | Self::TimedOut
                | Self::SnapshotTooOld
                | Self::PoolBusy
        )
    }
}

use Condition::{
    AccountLocked, BrokenSynonym, ClientLibraryMissing, ClientLibraryTooOld, ConnectString,
    Credentials, Down, HostLookup, LinkLost, Lost, MissingColumn, MissingLink, MissingObject,
    NoCreateSession, PasswordExpired, PoolBusy, Privilege, SnapshotTooOld, SqlRejected, TimedOut,
    Unreachable,
};

/// Every code with a known meaning.
pub const KNOWN: &[(&str, Condition)] = &[
    // Network and listener.
    ("ORA-12541", Unreachable),
    ("ORA-12543", Unreachable),
    ("ORA-12170", Unreachable),
    ("ORA-12535", Unreachable),
    ("ORA-12537", Lost),
    ("ORA-12547", Lost),
    ("ORA-12571", Lost),
    ("ORA-12545", HostLookup),
    ("ORA-12560", Unreachable),
    ("ORA-12514", Down),
    ("ORA-12505", Down),
    ("ORA-12528", Down),
    ("ORA-12516", Down),
    ("ORA-12518", Down),
    ("ORA-12519", Down),
    ("ORA-12520", Down),
    ("ORA-12526", Down),
    ("ORA-01033", Down),
    ("ORA-01034", Down),
    ("ORA-01089", Down),
    ("ORA-01090", Down),
    ("ORA-00018", Down),
    ("ORA-00020", Down),
    // Lost sessions.
    ("ORA-03113", Lost),
    ("ORA-03114", Lost),
    ("ORA-03135", Lost),
    ("ORA-01012", Lost),
    ("ORA-00028", Lost),
    ("ORA-02396", Lost),
    ("ORA-02068", Lost),
    ("ORA-03150", LinkLost),
    ("ORA-25408", Lost),
    ("DPI-1010", Lost),
    ("DPI-1080", Lost),
    // Timeouts and cancellation by the call timeout.
    ("DPI-1067", TimedOut),
    ("ORA-01013", TimedOut),
    ("ORA-03136", TimedOut),
    ("ORA-03156", TimedOut),
    ("ORA-12608", TimedOut),
    ("ORA-12609", TimedOut),
    ("ORA-01555", SnapshotTooOld),
    // Pool exhausted or timed out.
    ("ORA-24459", PoolBusy),
    ("ORA-24418", PoolBusy),
    ("ORA-24496", PoolBusy),
    ("ORA-24457", PoolBusy),
    // Credentials and account.
    ("ORA-01017", Credentials),
    ("ORA-01005", Credentials),
    ("ORA-01045", NoCreateSession),
    ("ORA-28000", AccountLocked),
    ("ORA-28001", PasswordExpired),
    ("ORA-28009", Credentials),
    // Connect string.
    ("ORA-12154", ConnectString),
    ("ORA-12162", ConnectString),
    ("ORA-12262", ConnectString),
    // Objects, privileges, links.
    ("ORA-00942", MissingObject),
    ("ORA-00980", BrokenSynonym),
    ("ORA-04052", MissingObject),
    ("ORA-02019", MissingLink),
    ("ORA-01031", Privilege),
    ("ORA-01039", Privilege),
    ("ORA-00904", MissingColumn),
    // The SQL itself.
    ("ORA-00900", SqlRejected),
    ("ORA-00907", SqlRejected),
    ("ORA-00911", SqlRejected),
    ("ORA-00933", SqlRejected),
    ("ORA-00936", SqlRejected),
    ("ORA-01008", SqlRejected),
    ("ORA-01036", SqlRejected),
    ("ORA-01722", SqlRejected),
    // The client library.
    ("DPI-1047", ClientLibraryMissing),
    ("DPI-1072", ClientLibraryTooOld),
    ("DPI-1050", ClientLibraryTooOld),
];

/// `ORA-00001`: a unique constraint rejected a row (how the store learns that a row was
/// already there). Not in [`KNOWN`]: no port advises about it.
pub const UNIQUE_VIOLATED: i32 = 1;

/// What `code` reports, if it is known.
pub fn condition_of(code: &str) -> Option<Condition> {
    KNOWN.iter().find(|(c, _)| *c == code).map(|(_, k)| *k)
}

/// What to do about the client library, the same for every port: it is loaded once per
/// process, whichever port connects first.
pub fn client_library() -> String {
    let dir = names::ORACLE_CLIENT_LIB_DIR.var;
    format!(
        "the Oracle Client library could not be loaded: install Oracle Instant Client (Basic \
         or Basic Light, 64-bit) and set {dir} to its directory, or put that directory on \
         LD_LIBRARY_PATH (or in ldconfig) before the service starts"
    )
}

/// What to do about a client library that is too old (see [`client_library`]).
pub fn client_too_old() -> String {
    let dir = names::ORACLE_CLIENT_LIB_DIR.var;
    format!(
        "the Oracle Client library is too old: install Oracle Instant Client 19 or later and \
         point {dir} at it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_is_listed_once() {
        let mut codes: Vec<_> = KNOWN.iter().map(|(code, _)| *code).collect();
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
    fn network_session_and_pool_conditions_are_transient_the_others_are_not() {
        for code in [
            "ORA-12541",
            "ORA-03113",
            "DPI-1067",
            "ORA-24459",
            "ORA-12545",
        ] {
            assert!(condition_of(code).unwrap().is_transient(), "{code}");
        }
        for code in ["ORA-01017", "ORA-00942", "DPI-1047", "ORA-00933"] {
            assert!(!condition_of(code).unwrap().is_transient(), "{code}");
        }
        assert_eq!(condition_of("ORA-02291"), None);
    }
}
