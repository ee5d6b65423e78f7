//! Reading a stacked Oracle message: every `ORA-nnnnn` in it, which one is the cause, and the
//! database link it came through.
//!
//! Errors raised on the far side of a database link arrive wrapped:
//!
//! ```text
//! ORA-04052: error occurred when looking up remote object INSERVICE.AGENCY_EVENT@DBLINK_INSERVICE
//! ORA-00604: error occurred at recursive SQL level 1
//! ORA-12541: TNS:no listener
//! ```
//!
//! The driver reports the first code (here ORA-04052, "missing object"), but the cause is the
//! first code that is not a wrapper (here ORA-12541, transient). ORA-02063 ("preceding line
//! from LINK") and ORA-02068 ("following severe error from LINK") name the link; so does the
//! remote object in ORA-04052. An error that came through a link is about the link's own
//! login, descriptor or grants, not about the service's own Oracle settings: what to advise
//! then is each port's (the source's `link_advice`).

/// Codes that only say where another error happened.
pub const WRAPPERS: [&str; 4] = ["ORA-00604", "ORA-04052", "ORA-02063", "ORA-02068"];

/// The codes of a message, in order, and the database link it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    /// Every `ORA-nnnnn` / `DPI-nnnn` code, in the order they appear, normalised to five
    /// (ORA) or four (DPI) digits: ODPI-C writes `ORA-3113` inside its own messages.
    pub codes: Vec<String>,
    /// The database link named by ORA-02063, ORA-02068 or ORA-04052, if any.
    pub link: Option<String>,
}

impl Stack {
    /// Reads `message`; `code` (the driver's own code) goes first when the message lacks it.
    pub fn parse(code: &str, message: &str) -> Self {
        let mut codes = codes_in(message);
        if !codes.iter().any(|c| c == code) {
            codes.insert(0, code.to_owned());
        }
        Self {
            codes,
            link: link_in(message),
        }
    }

    /// The first code that is not a wrapper; the first code if all are wrappers.
    pub fn cause(&self) -> &str {
        self.codes
            .iter()
            .find(|c| !WRAPPERS.contains(&c.as_str()))
            .or_else(|| self.codes.first())
            .map_or("", String::as_str)
    }

    /// Whether the message holds more than one code.
    pub fn is_stacked(&self) -> bool {
        self.codes.len() > 1
    }
}

/// Every code in `message`, in order, normalised (`ORA-3113` becomes `ORA-03113`).
pub fn codes_in(message: &str) -> Vec<String> {
    let mut codes = Vec::new();
    for (prefix, width) in [("ORA-", 5), ("DPI-", 4)] {
        let mut from = 0;
        while let Some(at) = message[from..].find(prefix) {
            let start = from + at;
            let digits: String = message[start + prefix.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            from = start + prefix.len();
            if let Ok(number) = digits.parse::<u32>() {
                codes.push((start, format!("{prefix}{number:0width$}")));
            }
        }
    }
    codes.sort_by_key(|(start, _)| *start);
    let mut out: Vec<String> = Vec::with_capacity(codes.len());
    for (_, code) in codes {
        if !out.contains(&code) {
            out.push(code);
        }
    }
    out
}

/// The database link a stacked message names.
pub fn link_in(message: &str) -> Option<String> {
    for line in message.lines() {
        let line = line.trim();
        let named = if line.starts_with("ORA-02063") || line.starts_with("ORA-02068") {
            line.rsplit_once(" from ").map(|(_, link)| link)
        } else if line.starts_with("ORA-04052") {
            line.rsplit_once('@').map(|(_, link)| link)
        } else {
            None
        };
        let link = named
            .map(|l| l.trim().trim_end_matches('.').trim())
            .filter(|l| !l.is_empty());
        if let Some(link) = link {
            return Some(link.to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_read_in_order_and_normalised() {
        assert_eq!(
            codes_in(
                "ORA-04052: error occurred when looking up remote object X.T@L\n\
                 ORA-00604: error occurred at recursive SQL level 1\n\
                 ORA-12154: TNS:could not resolve the connect identifier specified"
            ),
            ["ORA-04052", "ORA-00604", "ORA-12154"]
        );
        assert_eq!(
            codes_in("DPI-1080: connection was closed by ORA-3113"),
            ["DPI-1080", "ORA-03113"]
        );
        assert!(codes_in("no code, ORA- alone").is_empty());
    }

    #[test]
    fn the_cause_is_the_first_code_that_is_not_a_wrapper() {
        let stack = Stack::parse(
            "ORA-00604",
            "ORA-00604: error occurred at recursive SQL level 1\nORA-12541: TNS:no listener",
        );
        assert_eq!(stack.cause(), "ORA-12541");
        assert!(stack.is_stacked());
        let alone = Stack::parse("ORA-02068", "ORA-02068: following severe error from L");
        assert_eq!(alone.cause(), "ORA-02068");
        assert!(!alone.is_stacked());
        let missing = Stack::parse("ORA-03113", "end-of-file on communication channel");
        assert_eq!(missing.codes, ["ORA-03113"]);
    }

    #[test]
    fn the_link_is_named_by_02063_02068_or_04052() {
        assert_eq!(
            link_in("ORA-01017: x\nORA-02063: preceding line from DBLINK_INSERVICE").as_deref(),
            Some("DBLINK_INSERVICE")
        );
        assert_eq!(
            link_in("ORA-02068: following severe error from OMS.EXAMPLE.COM\nORA-03113: eof")
                .as_deref(),
            Some("OMS.EXAMPLE.COM")
        );
        assert_eq!(
            link_in(
                "ORA-04052: error occurred when looking up remote object \
                 INSERVICE.AGENCY_EVENT@DBLINK_INSERVICE"
            )
            .as_deref(),
            Some("DBLINK_INSERVICE")
        );
        assert_eq!(link_in("ORA-12541: TNS:no listener"), None);
    }
}
