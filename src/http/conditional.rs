//! Conditional requests to the ANEEL endpoint: validators that follow the body.
//!
//! The body of the current answer changes in two ways: a new snapshot loads, or the one
//! served passes the hard limit and the body becomes ANEEL's error answer. Both change the
//! validators, so a poller that sends them back never keeps old numbers as current:
//!
//! - `ETag` (strong) names the snapshot (when and by which instance it was collected: the
//!   same on every replica that serves it) and whether the body is the error answer;
//! - `Last-Modified` is the collection time while the data is served, and the moment it
//!   expired (collection time plus the hard limit) once it is not. That moment is computed,
//!   not read from a clock, so every replica gives the same one and a poller going from one
//!   replica to another does not flip between 200 and 304.
//!
//! `If-None-Match` is honoured (weak comparison, as RFC 9110 §13.1.2 says for it) and, when
//! present, `If-Modified-Since` is ignored (§13.2.2).

use axum::http::header::{IF_MODIFIED_SINCE, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue};
use chrono::{DateTime, Utc};

use crate::cache::Snapshot;

/// The validators of one body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    /// `ETag`, quoted.
    pub etag: HeaderValue,
    /// `Last-Modified`.
    pub last_modified: HeaderValue,
    /// `Last-Modified` as an instant, for `If-Modified-Since`.
    modified_at: DateTime<Utc>,
}

impl Validators {
    /// The validators of the body that serves `snapshot`'s data.
    pub fn of_data(snapshot: &Snapshot) -> Self {
        Self::new(
            &format!("\"{}\"", snapshot_tag(snapshot)),
            snapshot.collected_at,
        )
    }

    /// The validators of ANEEL's error answer for `snapshot` once it expired at
    /// `expired_at` (its collection time plus the hard limit).
    pub fn of_expired(snapshot: &Snapshot, expired_at: DateTime<Utc>) -> Self {
        Self::new(
            &format!("\"{}-expired\"", snapshot_tag(snapshot)),
            expired_at,
        )
    }

    fn new(etag: &str, modified_at: DateTime<Utc>) -> Self {
        Self {
            etag: HeaderValue::from_str(etag).expect("hex digits and dashes are a valid header"),
            last_modified: http_date(modified_at),
            modified_at,
        }
    }

    /// Whether the client already holds this body, by the conditional headers of its
    /// request: then the answer is 304.
    pub fn not_modified(&self, request: &HeaderMap) -> bool {
        let mut if_none_match = request.get_all(IF_NONE_MATCH).iter().peekable();
        if if_none_match.peek().is_some() {
            return if_none_match.any(|value| self.matches_any(value));
        }
        not_modified_since(self.modified_at, request.get(IF_MODIFIED_SINCE))
    }

    /// Whether an `If-None-Match` value (`*`, or a list of entity tags) names this body.
    fn matches_any(&self, value: &HeaderValue) -> bool {
        let Ok(value) = value.to_str() else {
            return false;
        };
        let ours = self.etag.as_bytes();
        value.split(',').map(str::trim).any(|tag| {
            // Weak comparison: a weak tag (W/"...") matches the strong one it names.
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == ours
        })
    }
}

/// What names a snapshot on every replica that serves it: its collection time (in
/// milliseconds, as stored) and the instance that collected it (hashed, so that any
/// instance name makes a valid tag).
fn snapshot_tag(snapshot: &Snapshot) -> String {
    format!(
        "{:x}-{:016x}",
        snapshot.collected_at.timestamp_millis(),
        fnv1a(snapshot.instance.as_bytes())
    )
}

/// FNV-1a, 64 bits: a hash whose value is fixed by its definition, so that every replica
/// and every build computes the same tag (std's hasher makes no such promise).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// An HTTP-date (RFC 9110, IMF-fixdate): `Sun, 29 Nov 2026 14:30:00 GMT`.
pub fn http_date(at: DateTime<Utc>) -> HeaderValue {
    HeaderValue::from_str(&at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .expect("a formatted date is a valid header value")
}

/// Whether `modified_at` is no later than `If-Modified-Since` (compared in whole seconds,
/// as `Last-Modified` has no fractions). An unparsable date is ignored, as RFC 9110 says.
fn not_modified_since(modified_at: DateTime<Utc>, header: Option<&HeaderValue>) -> bool {
    header
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .is_some_and(|since| modified_at.timestamp() <= since.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn snapshot(collected_at: DateTime<Utc>, instance: &str) -> Snapshot {
        Snapshot {
            collected_at,
            source: "test".to_owned(),
            instance: instance.to_owned(),
            items: Vec::new(),
            rejected: Vec::new(),
        }
    }

    fn request(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn dates_are_imf_fixdate_and_if_modified_since_compares_whole_seconds() {
        let at = Utc.with_ymd_and_hms(2026, 11, 29, 14, 30, 0).unwrap()
            + chrono::Duration::milliseconds(700);
        let value = http_date(at);
        assert_eq!(value, "Sun, 29 Nov 2026 14:30:00 GMT");
        assert!(not_modified_since(at, Some(&value)));
        let earlier = http_date(at - chrono::Duration::seconds(1));
        assert!(!not_modified_since(at, Some(&earlier)));
        assert!(!not_modified_since(
            at,
            Some(&HeaderValue::from_static("yesterday"))
        ));
        assert!(!not_modified_since(at, None));
    }

    #[test]
    fn the_tags_name_the_snapshot_and_whether_it_expired_the_same_on_every_replica() {
        let at = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        let expired_at = at + chrono::Duration::hours(2);
        let data = Validators::of_data(&snapshot(at, "radar-0"));
        let expired = Validators::of_expired(&snapshot(at, "radar-0"), expired_at);
        assert_eq!(data, Validators::of_data(&snapshot(at, "radar-0")));
        assert_ne!(data.etag, expired.etag);
        assert_eq!(data.last_modified, "Sun, 29 Nov 2026 12:00:00 GMT");
        assert_eq!(expired.last_modified, "Sun, 29 Nov 2026 14:00:00 GMT");
        let later = at + chrono::Duration::milliseconds(1);
        assert_ne!(
            data.etag,
            Validators::of_data(&snapshot(later, "radar-0")).etag
        );
        assert_ne!(
            data.etag,
            Validators::of_data(&snapshot(at, "radar-1")).etag
        );
        // Fixed by definition: the FNV-1a test vector of "a".
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn if_none_match_decides_before_if_modified_since() {
        let at = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        let data = Validators::of_data(&snapshot(at, "radar-0"));
        let ours = data.etag.to_str().unwrap().to_owned();
        let since = data.last_modified.to_str().unwrap().to_owned();
        assert!(data.not_modified(&request(&[("if-none-match", &ours)])));
        assert!(data.not_modified(&request(&[("if-none-match", &format!("W/{ours}"))])));
        assert!(data.not_modified(&request(&[("if-none-match", &format!("\"x\", {ours}"))])));
        assert!(data.not_modified(&request(&[
            ("if-none-match", "\"x\""),
            ("if-none-match", &ours)
        ])));
        assert!(data.not_modified(&request(&[("if-none-match", "*")])));
        assert!(data.not_modified(&request(&[("if-modified-since", &since)])));
        // A tag that does not match wins over a date that would.
        assert!(!data.not_modified(&request(&[
            ("if-none-match", "\"other\""),
            ("if-modified-since", &since)
        ])));
        assert!(!data.not_modified(&request(&[])));
    }
}
