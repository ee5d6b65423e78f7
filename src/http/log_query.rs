//! The query string as the request log may show it: the value of every parameter the
//! endpoint does not know is replaced, so a key sent as `?x-api-key=…` (refused with 401:
//! the key goes in the header) never reaches a log, and neither does anything else a
//! client puts where it does not belong.

/// The parameters of the ANEEL endpoint, whose values are logged as they came (they are
/// what a record of ANEEL's requests is for).
const KNOWN: [&str; 1] = ["dthRecuperacao"];

/// What replaces a value that is not logged.
pub const REDACTED: &str = "[redacted]";

/// Longest parameter name logged as it came: shorter than the shortest key the service
/// accepts, so a key sent as a name is never shown; a longer name is redacted whole.
const MAX_NAME_LEN: usize = super::api_key::MIN_KEY_LEN - 1;

/// `query` (the raw text after `?`) with the value of every parameter not in [`KNOWN`]
/// replaced by [`REDACTED`]. A name is compared as sent (a percent-encoded spelling of a
/// known name is unknown, and so redacted), and a part with no `=`, or a name that is not
/// a plain short word, is redacted whole: it may be a key itself.
pub fn redacted(query: &str) -> String {
    if query.is_empty() {
        return String::new();
    }
    query
        .split('&')
        .map(|part| match part.split_once('=') {
            Some((name, value)) if KNOWN.contains(&name) => format!("{name}={value}"),
            Some((name, _)) if plain_name(name) => format!("{name}={REDACTED}"),
            None if part.is_empty() => String::new(),
            _ => REDACTED.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A parameter name that can be shown: short, letters, digits, `-`, `_` and `.` only.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_endpoints_own_parameter_keeps_its_value() {
        assert_eq!(redacted(""), "");
        assert_eq!(
            redacted("dthRecuperacao=28%2F11%2F2026+14%3A30"),
            "dthRecuperacao=28%2F11%2F2026+14%3A30"
        );
        assert_eq!(
            redacted("x-api-key=Zm9vYmFyYmF6cXV4MTIzNDU2&dthRecuperacao=28/11/2026%2014:30"),
            "x-api-key=[redacted]&dthRecuperacao=28/11/2026%2014:30"
        );
        for (query, logged) in [
            ("apikey=s3cr3t-value-0123456789", "apikey=[redacted]"),
            (
                "token=a&key=b&api_key=c",
                "token=[redacted]&key=[redacted]&api_key=[redacted]",
            ),
            // Spelled otherwise, or as a bare word, or under an odd name: all redacted.
            ("dthrecuperacao=x", "dthrecuperacao=[redacted]"),
            ("dth%52ecuperacao=x", "[redacted]"),
            ("Zm9vYmFyYmF6cXV4MTIzNDU2", "[redacted]"),
            ("x-api-key%3DZm9vYmFy", "[redacted]"),
            ("a=1&&b", "a=[redacted]&&[redacted]"),
            ("Zm9vYmFyYmF6cXV4MTIzNDU2=", "[redacted]"),
            ("abcdefghijklmno=1", "abcdefghijklmno=[redacted]"),
            ("abcdefghijklmnop=1", "[redacted]"),
            ("dthRecuperacao", "[redacted]"),
        ] {
            assert_eq!(redacted(query), logged, "{query}");
        }
    }
}
