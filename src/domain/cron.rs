//! Cron expressions: standard 5-field (`*/30 * * * *`) or 6-field with seconds, parsed and
//! checked once (at start-up, by the settings), then evaluated in the scheduler's time zone.
//! [`CronSchedule::longest_gap_beyond`] finds how long the schedule can leave between two
//! firings, so that a schedule slower than the staleness limit is refused at start-up.

use chrono::{DateTime, NaiveDate, SubsecRound, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

/// An invalid cron expression, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron expression {expression:?}: {reason}")]
pub struct CronError {
    /// The expression as given.
    pub expression: String,
    /// Why it was refused.
    pub reason: String,
}

/// A parsed and validated cron schedule.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expression: String,
    with_seconds: String,
    cron: Cron,
}

impl std::str::FromStr for CronSchedule {
    type Err = CronError;

    fn from_str(expression: &str) -> Result<Self, CronError> {
        Self::parse(expression)
    }
}

impl CronSchedule {
    /// Parses a 5-field (minute precision) or 6-field (with seconds) expression.
    pub fn parse(expression: &str) -> Result<Self, CronError> {
        let error = |reason: String| CronError {
            expression: expression.to_owned(),
            reason,
        };
        let fields: Vec<&str> = expression.split_whitespace().collect();
        let with_seconds = match fields.len() {
            5 => format!("0 {}", fields.join(" ")),
            6 => fields.join(" "),
            n => {
                return Err(error(format!(
                    "expected 5 fields (minute hour day-of-month month day-of-week) \
                     or 6 (second first), got {n}"
                )));
            }
        };
        // Counted from the end: day-of-month is third from last, day-of-week last.
        let restricted = |f: &str| f != "*" && f != "?";
        let (dom, dow) = (fields[fields.len() - 3], fields[fields.len() - 1]);
        if restricted(dom) && restricted(dow) {
            return Err(error(format!(
                "restricts both day-of-month ({dom}) and day-of-week ({dow}): classic cron \
                 fires when either matches, this scheduler only when both do; use one of them"
            )));
        }
        let cron = parser()
            .parse(&with_seconds)
            .map_err(|e| error(e.to_string()))?;
        // A pattern that never fires (e.g. 30 February) is a configuration error too; whether
        // it fires depends neither on the time zone nor on when it is asked (the fields repeat
        // every year and a pattern has no year), so a fixed instant answers without a clock.
        cron.find_next_occurrence(&DateTime::<Utc>::UNIX_EPOCH, false)
            .map_err(|e| error(format!("it never fires: {e}")))?;
        Ok(Self {
            expression: expression.trim().to_owned(),
            with_seconds,
            cron,
        })
    }

    /// The expression as configured.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The 6-field form the engine runs.
    pub fn with_seconds(&self) -> &str {
        &self.with_seconds
    }

    /// The latest firing time at or before `at`, reading the expression in `time_zone`: the
    /// tick that `at` belongs to. Always a whole second (the search keeps the fraction of
    /// its start, so it starts from one), so replicas waking at different fractions of a
    /// second name the tick alike.
    pub fn latest_at_or_before(&self, at: DateTime<Utc>, time_zone: Tz) -> Option<DateTime<Utc>> {
        let at = at.trunc_subsecs(0);
        self.cron
            .find_previous_occurrence(&at.with_timezone(&time_zone), true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The first firing time strictly after `after`, reading the expression in `time_zone`.
    pub fn next_after(&self, after: DateTime<Utc>, time_zone: Tz) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&time_zone), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// A wait between two consecutive firings of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CronGap {
    /// The firing the wait starts at (read in UTC).
    pub after: DateTime<Utc>,
    /// How long until the next firing; `None` when there is none for as far as the cron
    /// engine looks ahead.
    pub length: Option<chrono::Duration>,
}

impl std::fmt::Display for CronGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let after = self.after.format("%Y-%m-%d %H:%M:%S");
        match self.length {
            Some(length) => write!(
                f,
                "{} s ({}) after the firing at {after}",
                length.num_seconds(),
                readable(length)
            ),
            None => write!(f, "no firing for years after the one at {after}"),
        }
    }
}

/// `d` as days, hours or minutes, whichever is the largest whole unit.
fn readable(d: chrono::Duration) -> String {
    let secs = d.num_seconds();
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s >= 3_600 && s % 3_600 == 0 => format!("{} h", s / 3_600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s if s >= 86_400 => format!("{:.1} d", s as f64 / 86_400.0),
        s if s >= 3_600 => format!("{:.1} h", s as f64 / 3_600.0),
        s => format!("{s} s"),
    }
}

/// Where the gap scan starts: the first day of a leap year, so that the scan's four years
/// hold every calendar day (29 February included) and the year after it.
fn gap_scan_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid UTC instant")
}

/// Years the gap scan covers: one leap-year cycle.
const GAP_SCAN_YEARS: i32 = 4;

impl CronSchedule {
    /// The longest wait between two consecutive firings, when it is longer than `limit`;
    /// `None` when every wait is at most `limit`.
    ///
    /// The fields are read as wall-clock times (in UTC: a daylight-saving change, which moves
    /// one wait by an hour twice a year, is not counted). Bounded work: the firings repeat
    /// every day at the same times (seconds, minutes, hours), so the waits within a day are
    /// scanned on one firing day, jumping `limit` ahead at each step (a wait longer than the
    /// longest found so far cannot be jumped over); the waits between firing days are
    /// scanned over one leap-year cycle, one step per firing day (at most 1461). A schedule
    /// that does not fire again for as far as the engine looks ahead is a gap of no length.
    pub fn longest_gap_beyond(&self, limit: chrono::Duration) -> Option<CronGap> {
        let utc = chrono_tz::UTC;
        let start = gap_scan_start();
        let end = start
            .with_timezone(&utc)
            .checked_add_months(chrono::Months::new(12 * GAP_SCAN_YEARS.unsigned_abs()))
            .map_or(start, |t| t.with_timezone(&Utc));
        let mut longest: Option<CronGap> = None;
        let mut threshold = limit;
        // Records the wait from `after` to `next` when it is the longest beyond the limit;
        // false when there is no next firing (nothing more to scan).
        let mut record = |after: DateTime<Utc>,
                          next: Option<DateTime<Utc>>,
                          threshold: &mut chrono::Duration| {
            let length = next.map(|next| next - after);
            if length.is_none_or(|length| length > *threshold) {
                longest = Some(CronGap { after, length });
                if let Some(length) = length {
                    *threshold = length;
                }
            }
            next.is_some()
        };
        // `parse` refused a schedule that never fires.
        let first = self.next_after(start - chrono::Duration::seconds(1), utc)?;
        let day_end = |t: DateTime<Utc>| end_of_day(t.date_naive());
        // Within the first firing day.
        let last_of_day = day_end(first);
        let mut at = first;
        while let Some(next) = self.next_after(at, utc).filter(|next| *next <= last_of_day) {
            if next - at > threshold {
                record(at, Some(next), &mut threshold);
                at = next;
            } else {
                // Every firing up to `at + threshold` is at most `threshold` from the one
                // before it; the latest of them is at least `next`, so the scan moves on.
                let probe = crate::clock::saturating_add(at, threshold).min(last_of_day);
                at = self
                    .latest_at_or_before(probe, utc)
                    .unwrap_or(next)
                    .max(next);
            }
        }
        // From each firing day's last firing to the next firing day.
        let mut last = self.latest_at_or_before(last_of_day, utc).unwrap_or(first);
        while last < end {
            let next = self.next_after(last, utc);
            if !record(last, next, &mut threshold) {
                break;
            }
            let Some(next) = next else { break };
            last = self.latest_at_or_before(day_end(next), utc).unwrap_or(next);
        }
        longest
    }
}

/// The last whole second of `day`, in UTC.
fn end_of_day(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(23, 59, 59)
        .map_or(DateTime::<Utc>::MAX_UTC, |t| t.and_utc())
}

/// The parser options the engine (tokio-cron-scheduler) uses, so that what we accept is
/// exactly what it runs.
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Required)
        .dom_and_dow(true)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SAO_PAULO: Tz = chrono_tz::America::Sao_Paulo;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn five_fields_gain_a_zero_seconds_field() {
        let c = CronSchedule::parse("*/30 * * * *").unwrap();
        assert_eq!(c.with_seconds(), "0 */30 * * * *");
        assert_eq!(c.expression(), "*/30 * * * *");
        assert_eq!(
            c.next_after(utc(2026, 11, 28, 12, 10, 0), SAO_PAULO),
            Some(utc(2026, 11, 28, 12, 30, 0))
        );
        assert_eq!(
            c.next_after(utc(2026, 11, 28, 12, 30, 0), SAO_PAULO),
            Some(utc(2026, 11, 28, 13, 0, 0))
        );
    }

    #[test]
    fn a_moment_belongs_to_the_latest_tick_at_or_before_it() {
        let every_30 = CronSchedule::parse("*/30 * * * *").unwrap();
        let cases = [
            // The tick itself, and just before the next one.
            (utc(2026, 11, 28, 12, 30, 0), utc(2026, 11, 28, 12, 30, 0)),
            (utc(2026, 11, 28, 12, 59, 59), utc(2026, 11, 28, 12, 30, 0)),
            // Midnight in São Paulo is 03:00 UTC; midnight UTC is 21:00 there.
            (utc(2026, 11, 29, 3, 0, 1), utc(2026, 11, 29, 3, 0, 0)),
            (utc(2026, 11, 29, 0, 10, 0), utc(2026, 11, 29, 0, 0, 0)),
            // Month end, year end, and a leap day.
            (utc(2026, 12, 1, 0, 0, 0), utc(2026, 12, 1, 0, 0, 0)),
            (utc(2027, 1, 1, 0, 29, 0), utc(2027, 1, 1, 0, 0, 0)),
            (utc(2028, 2, 29, 23, 45, 0), utc(2028, 2, 29, 23, 30, 0)),
            (utc(2028, 3, 1, 0, 15, 0), utc(2028, 3, 1, 0, 0, 0)),
        ];
        for (at, tick) in cases {
            assert_eq!(
                every_30.latest_at_or_before(at, SAO_PAULO),
                Some(tick),
                "{at}"
            );
            // Replicas wake at different fractions of a second and must name it alike.
            let later = at + chrono::Duration::microseconds(123_456);
            assert_eq!(
                every_30.latest_at_or_before(later, SAO_PAULO),
                Some(tick),
                "{later}"
            );
        }
        // A daily schedule read in São Paulo: 03:00 there is 06:00 UTC, on the right day
        // across a month and a year end.
        let daily = CronSchedule::parse("0 3 * * *").unwrap();
        assert_eq!(
            daily.latest_at_or_before(utc(2027, 1, 1, 5, 59, 0), SAO_PAULO),
            Some(utc(2026, 12, 31, 6, 0, 0))
        );
        assert_eq!(
            daily.latest_at_or_before(utc(2027, 1, 1, 6, 0, 0), SAO_PAULO),
            Some(utc(2027, 1, 1, 6, 0, 0))
        );
        // The 31st of a month that has none: the latest such day before.
        let monthly = CronSchedule::parse("0 0 31 * *").unwrap();
        assert_eq!(
            monthly.latest_at_or_before(utc(2026, 3, 15, 0, 0, 0), chrono_tz::UTC),
            Some(utc(2026, 1, 31, 0, 0, 0))
        );
    }

    #[test]
    fn six_fields_keep_their_seconds() {
        let c = CronSchedule::parse("15 */30 * * * *").unwrap();
        assert_eq!(c.with_seconds(), "15 */30 * * * *");
        assert_eq!(
            c.next_after(utc(2026, 11, 28, 12, 10, 0), SAO_PAULO),
            Some(utc(2026, 11, 28, 12, 30, 15))
        );
    }

    #[test]
    fn hours_are_read_in_the_configured_time_zone() {
        // 06:00 in São Paulo (UTC-3, no daylight saving since 2019) is 09:00 UTC.
        let c = CronSchedule::parse("0 6 * * *").unwrap();
        assert_eq!(
            c.next_after(utc(2026, 11, 28, 0, 0, 0), SAO_PAULO),
            Some(utc(2026, 11, 28, 9, 0, 0))
        );
        let c = CronSchedule::parse("0 6 * * *").unwrap();
        assert_eq!(
            c.next_after(utc(2026, 11, 28, 0, 0, 0), chrono_tz::UTC),
            Some(utc(2026, 11, 28, 6, 0, 0))
        );
    }

    #[test]
    fn wrong_field_counts_are_refused_with_the_count() {
        for (expr, n) in [("* * * *", 4), ("0 0 * * * * 2026", 7), ("", 0)] {
            let e = CronSchedule::parse(expr).unwrap_err();
            assert!(e.reason.contains(&format!("got {n}")), "{e}");
            assert_eq!(e.expression, expr);
        }
    }

    #[test]
    fn restricting_both_day_fields_is_refused_as_ambiguous() {
        let e = CronSchedule::parse("0 6 1 * MON").unwrap_err();
        assert!(
            e.reason.contains("day-of-month (1) and day-of-week (MON)"),
            "{e}"
        );
        assert!(CronSchedule::parse("0 6 1 * *").is_ok());
        assert!(CronSchedule::parse("0 6 * * MON-FRI").is_ok());
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for expr in ["*/30 25 * * *", "61 * * * *", "0 0 32 * *", "abc * * * *"] {
            let e = CronSchedule::parse(expr).unwrap_err();
            assert!(e.to_string().contains(expr), "{e}");
        }
    }

    fn gap(expr: &str, limit_secs: i64) -> Option<CronGap> {
        CronSchedule::parse(expr)
            .unwrap()
            .longest_gap_beyond(chrono::Duration::seconds(limit_secs))
    }

    #[test]
    fn the_longest_gap_is_found_within_a_day_between_days_and_across_years() {
        let hours = |h: i64| Some(chrono::Duration::hours(h));
        // Every 30 minutes: never more than 30 minutes, so nothing beyond 2 h.
        assert_eq!(gap("*/30 * * * *", 7200), None);
        assert_eq!(gap("*/30 * * * *", 1800), None);
        assert_eq!(
            gap("*/30 * * * *", 1799).unwrap().length,
            Some(chrono::Duration::minutes(30))
        );
        // Daily at midnight: 24 h, beyond the 2 h default hard limit.
        let daily = gap("0 0 * * *", 7200).unwrap();
        assert_eq!(daily.length, hours(24));
        assert_eq!(
            daily.to_string().split(" after").next(),
            Some("86400 s (1 d)")
        );
        // Within a day: 08:00, 09:00, 18:00 leaves 9 h in the day and 14 h overnight.
        assert_eq!(gap("0 8,9,18 * * *", 7200).unwrap().length, hours(14));
        assert_eq!(gap("0 8,9,18 * * *", 14 * 3600), None);
        // Working days only: Friday 18:00 to Monday 08:00.
        assert_eq!(gap("0 8-18 * * MON-FRI", 7200).unwrap().length, hours(62));
        // Every second: nothing beyond one second (and bounded work to find out).
        assert_eq!(gap("* * * * * *", 1), None);
        // The 31st: two months in a row without one (e.g. June-July is fine, but 31 May
        // to 31 July is 61 days).
        assert_eq!(
            gap("0 0 31 * *", 7200).unwrap().length.unwrap().num_days(),
            61
        );
        // Weekly: exactly 7 days, which a limit of 7 days accepts.
        assert_eq!(gap("0 0 * * 3", 7 * 86_400), None);
        assert_eq!(
            gap("0 0 * * 3", 7 * 86_400 - 1).unwrap().length,
            hours(7 * 24)
        );
    }

    #[test]
    fn a_schedule_that_fires_once_in_four_years_is_found_with_its_gap() {
        let leap = gap("0 0 29 2 *", 604_800).unwrap();
        assert_eq!(leap.after, utc(2024, 2, 29, 0, 0, 0));
        assert_eq!(
            leap.length,
            Some(utc(2028, 2, 29, 0, 0, 0) - utc(2024, 2, 29, 0, 0, 0))
        );
        assert!(leap.to_string().contains("1461 d"), "{leap}");
        // Yearly: 365 or 366 days, the longest being the one across a 29 February.
        assert_eq!(
            gap("0 0 1 3 *", 604_800)
                .unwrap()
                .length
                .unwrap()
                .num_days(),
            366
        );
    }

    #[test]
    fn no_next_firing_reads_as_no_firing_for_years() {
        let none = CronGap {
            after: utc(2024, 2, 29, 0, 0, 0),
            length: None,
        };
        assert_eq!(
            none.to_string(),
            "no firing for years after the one at 2024-02-29 00:00:00"
        );
    }
}
