//! Cron expressions: standard 5-field (`*/30 * * * *`) or 6-field with seconds, parsed and
//! checked once (at start-up, by the settings), then evaluated in the scheduler's time zone.

use chrono::{DateTime, SubsecRound, Utc};
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
}
