//! What to advise when an error came through the database link to the OMS database: it is
//! about the link's own login, descriptor or grants, not about the service's own Oracle
//! settings (see [`crate::db::oracle::stacked`] for how a stacked message names the link).

use crate::config::names;

/// What to do when `cause` came through the database link `link`, where that differs from
/// the advice for the service's own connection (whose settings `names` names).
pub fn advice_through_link(cause: &str, link: &str) -> Option<String> {
    const CREDENTIALS: [&str; 6] = [
        "ORA-01017",
        "ORA-01005",
        "ORA-28000",
        "ORA-28001",
        "ORA-28009",
        "ORA-01045",
    ];
    const DESCRIPTOR: [&str; 3] = ["ORA-12154", "ORA-12162", "ORA-12262"];
    const GRANTS: [&str; 4] = ["ORA-00942", "ORA-01031", "ORA-01039", "ORA-00980"];
    const NETWORK: [&str; 7] = [
        "ORA-12541",
        "ORA-12543",
        "ORA-12545",
        "ORA-12170",
        "ORA-12535",
        "ORA-12560",
        "ORA-12514",
    ];
    if NETWORK.contains(&cause) {
        return Some(format!(
            "the database server could not reach the OMS database through the database link \
             {link} (its host, listener or the network between the two databases); the job \
             retries, but if this persists ask the DBA to check the host and service in the \
             link's USING clause (DBA_DB_LINKS.HOST) and the OMS listener; {} is not involved",
            names::ORACLE_CONNECT_STRING.var
        ));
    }
    if CREDENTIALS.contains(&cause) {
        Some(format!(
            "the database link {link} cannot log in to the OMS database (its CONNECT TO user \
             or password is wrong, locked or expired): ask the DBA to recreate {link} with \
             valid credentials (see DBA_DB_LINKS); {} and {} are not involved",
            names::ORACLE_USER.var,
            names::ORACLE_PASSWORD.var
        ))
    } else if DESCRIPTOR.contains(&cause) {
        Some(format!(
            "the database server cannot resolve the connect descriptor of the database link \
             {link} (USING clause, DBA_DB_LINKS.HOST): fix the link or the tnsnames.ora of \
             the database server; {} is not involved",
            names::ORACLE_CONNECT_STRING.var
        ))
    } else if GRANTS.contains(&cause) {
        Some(format!(
            "an OMS table is missing or not readable by the user the database link {link} \
             connects as: run sql/oracle/01_grants.sql in the OMS database for that user, and \
             `radar-interrupcoes check-oracle` to name the table"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    fn advice_through_link(cause: &str, link: &str) -> Option<String> {
        super::advice_through_link(cause, link)
    }

    #[test]
    fn link_advice_names_the_link_and_not_the_service_settings() {
        let advice = advice_through_link("ORA-01017", "L1").unwrap();
        assert!(advice.contains("database link L1"), "{advice}");
        assert!(advice.contains("are not involved"), "{advice}");
        assert!(
            advice_through_link("ORA-12154", "L1")
                .unwrap()
                .contains("USING")
        );
        assert!(
            advice_through_link("ORA-00942", "L1")
                .unwrap()
                .contains("01_grants.sql")
        );
        for network in ["ORA-12541", "ORA-12545", "ORA-12170"] {
            let advice = advice_through_link(network, "L1").unwrap();
            assert!(advice.contains("through the database link L1"), "{advice}");
            assert!(
                advice.contains("RADAR_ORACLE_CONNECT_STRING is not involved"),
                "{advice}"
            );
        }
        // Not about the link: the service's own advice, with the link appended.
        assert_eq!(advice_through_link("ORA-01013", "L1"), None);
    }
}
