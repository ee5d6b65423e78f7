//! Classification of real stacked messages, as the driver hands them over: the first code is
//! the one the driver reports, the whole text is its message.

use oracle::{DbError, Error};

use super::error::translate;
use crate::source::SourceError;

#[allow(deprecated)] // the variants are the only public way to build a driver error in 0.6
fn stacked(first_code: i32, message: &str) -> SourceError {
    translate(&Error::OciError(DbError::new(
        first_code,
        0,
        message,
        "dpiStmt_execute",
        "execute",
    )))
}

#[test]
fn a_wrapped_missing_listener_is_transient() {
    let e = stacked(
        604,
        "ORA-00604: error occurred at recursive SQL level 1\nORA-12541: TNS:no listener",
    );
    assert_eq!(e.code.as_deref(), Some("ORA-12541"), "{e}");
    assert_eq!(
        e.codes,
        ["ORA-12541", "ORA-00604"],
        "the cause first, each code once"
    );
    assert!(e.is_transient(), "{e}");
    assert!(e.message.contains("listener is unreachable"), "{e}");
    assert!(
        e.message
            .contains("ORA-00604: error occurred at recursive SQL level 1 | ORA-12541"),
        "the whole stack is kept: {e}"
    );
}

#[test]
fn an_unresolvable_link_descriptor_names_the_link_not_the_service_setting() {
    let e = stacked(
        4052,
        "ORA-04052: error occurred when looking up remote object \
         INSERVICE.AGENCY_EVENT@DBLINK_INSERVICE\n\
         ORA-00604: error occurred at recursive SQL level 2\n\
         ORA-12154: TNS:could not resolve the connect identifier specified",
    );
    assert_eq!(e.code.as_deref(), Some("ORA-12154"), "{e}");
    assert_eq!(e.codes, ["ORA-12154", "ORA-04052", "ORA-00604"], "{e}");
    assert!(!e.is_transient(), "{e}");
    assert!(e.message.contains("database link DBLINK_INSERVICE"), "{e}");
    assert!(e.message.contains("USING clause"), "{e}");
    assert!(
        e.message
            .contains("RADAR_ORACLE_CONNECT_STRING is not involved"),
        "{e}"
    );
    assert!(
        !e.message.contains("missing or not visible"),
        "not a missing table: {e}"
    );
}

#[test]
fn wrong_link_credentials_name_the_link_not_the_service_password() {
    let e = stacked(
        1017,
        "ORA-01017: invalid username/password; logon denied\n\
         ORA-02063: preceding line from DBLINK_INSERVICE",
    );
    assert_eq!(e.code.as_deref(), Some("ORA-01017"), "{e}");
    assert!(!e.is_transient(), "{e}");
    assert!(
        e.message
            .contains("The database link DBLINK_INSERVICE cannot log in"),
        "{e}"
    );
    assert!(
        e.message
            .contains("RADAR_ORACLE_USER and RADAR_ORACLE_PASSWORD are not involved"),
        "{e}"
    );
    assert!(!e.message.contains("fix RADAR_ORACLE_USER"), "{e}");
}

#[test]
fn end_of_file_on_the_link_is_transient() {
    let e = stacked(
        3150,
        "ORA-03150: end-of-file on communication channel for database link",
    );
    assert_eq!(e.code.as_deref(), Some("ORA-03150"), "{e}");
    assert!(e.is_transient(), "{e}");
    assert!(
        e.message.contains("database link to the OMS database lost"),
        "{e}"
    );

    let e = stacked(
        3150,
        "ORA-03150: end-of-file on communication channel for database link\n\
         ORA-02063: preceding line from DBLINK_INSERVICE",
    );
    assert_eq!(e.code.as_deref(), Some("ORA-03150"), "{e}");
    assert!(e.is_transient(), "{e}");
    assert!(
        e.message
            .contains("reported through the database link DBLINK_INSERVICE"),
        "{e}"
    );
}

#[test]
fn a_severe_error_from_the_link_is_classified_by_what_follows() {
    let e = stacked(
        2068,
        "ORA-02068: following severe error from DBLINK_INSERVICE\n\
         ORA-03113: end-of-file on communication channel",
    );
    assert_eq!(e.code.as_deref(), Some("ORA-03113"), "{e}");
    assert!(e.is_transient(), "{e}");
    assert!(e.message.contains("DBLINK_INSERVICE"), "{e}");
}

#[test]
fn a_missing_remote_table_points_at_the_grants_of_the_link_user() {
    let e = stacked(
        942,
        "ORA-00942: table or view does not exist\n\
         ORA-02063: preceding line from DBLINK_INSERVICE",
    );
    assert_eq!(e.code.as_deref(), Some("ORA-00942"), "{e}");
    assert!(!e.is_transient(), "{e}");
    assert!(e.message.contains("01_grants.sql"), "{e}");
    assert!(e.message.contains("DBLINK_INSERVICE"), "{e}");
}

#[test]
fn a_wrapper_alone_keeps_its_own_meaning() {
    let e = stacked(
        4052,
        "ORA-04052: error occurred when looking up remote object INSERVICE.CISPERSL@L",
    );
    assert_eq!(e.code.as_deref(), Some("ORA-04052"), "{e}");
    assert!(!e.is_transient(), "{e}");
    assert!(e.message.contains("database link L"), "{e}");
}

#[test]
fn an_unreachable_oms_host_behind_the_link_is_transient_and_names_the_link() {
    let e = stacked(
        12545,
        "ORA-12545: Connect failed because target host or object does not exist\n\
         ORA-02063: preceding line from DBLINK_INSERVICE",
    );
    assert_eq!(e.code.as_deref(), Some("ORA-12545"), "{e}");
    assert!(e.is_transient(), "{e}");
    assert!(
        e.message
            .contains("through the database link DBLINK_INSERVICE"),
        "{e}"
    );
    assert!(
        !e.message
            .contains("check the host in RADAR_ORACLE_CONNECT_STRING"),
        "the service's own connect string is not the problem: {e}"
    );
}
