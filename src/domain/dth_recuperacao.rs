//! ANEEL's `dthRecuperacao` parameter: exactly `dd/mm/yyyy hh:mm` (two digits for the day,
//! month, hour and minute, four for the year, one space), Brasília time.
//!
//! The format is checked character by character rather than with chrono's parser, whose
//! `%d`, `%Y` and spaces are lenient (`6/12/2026 7:7`, `+2026`, a tab or no space at all
//! would pass): a value ANEEL did not write in its own format is a mistake to report, not a
//! moment to guess.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

use crate::hygiene::echo;

/// The format ANEEL sends (chrono's notation, for formatting).
pub const FORMAT: &str = "%d/%m/%Y %H:%M";

/// The format as people read it.
pub const FORMAT_TEXT: &str = "dd/mm/yyyy hh:mm";

/// What each of the 16 characters of a value must be: a digit, or this separator.
const SHAPE: &[u8; 16] = b"00/00/0000 00:00";

/// Parses `dd/mm/yyyy hh:mm` in America/Sao_Paulo into a UTC instant, or says what is wrong.
pub fn parse(value: &str) -> Result<DateTime<Utc>, String> {
    let bytes = value.as_bytes();
    let well_formed = bytes.len() == SHAPE.len()
        && bytes.iter().zip(SHAPE).all(|(&b, &shape)| {
            if shape == b'0' {
                b.is_ascii_digit()
            } else {
                b == shape
            }
        });
    if !well_formed {
        return Err(format!(
            "{} is not a date and time in the format {FORMAT_TEXT} (two digits for the day, \
             month, hour and minute, four for the year, one space between date and time)",
            echo(value)
        ));
    }
    let number = |from: usize, to: usize| -> u32 {
        value[from..to]
            .bytes()
            .fold(0, |n, digit| n * 10 + u32::from(digit - b'0'))
    };
    let naive = NaiveDate::from_ymd_opt(number(6, 10) as i32, number(3, 5), number(0, 2))
        .and_then(|date| date.and_hms_opt(number(11, 13), number(14, 16), 0))
        .ok_or_else(|| {
            format!(
                "{} is in the format {FORMAT_TEXT} but is not a valid date and time",
                echo(value)
            )
        })?;
    in_brasilia(value, naive)
}

/// `naive` read in Brasília time: a moment that the clocks skipped does not exist.
fn in_brasilia(value: &str, naive: NaiveDateTime) -> Result<DateTime<Utc>, String> {
    chrono_tz::America::Sao_Paulo
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("{} does not exist in Brasília time", echo(value)))
}

/// Formats `at` as ANEEL writes it (`dd/mm/yyyy hh:mm`, Brasília time); seconds are
/// dropped.
pub fn format(at: DateTime<Utc>) -> String {
    at.with_timezone(&chrono_tz::America::Sao_Paulo)
        .format(FORMAT)
        .to_string()
}

/// As [`format`], but rounded up to the next whole minute when `at` has seconds, so that
/// the moment written is never before `at` (for "the oldest moment that can be answered").
pub fn format_at_or_after(at: DateTime<Utc>) -> String {
    let whole_minute = at.timestamp().rem_euclid(60) == 0 && at.timestamp_subsec_nanos() == 0;
    if whole_minute {
        format(at)
    } else {
        // The last minute there is stays itself: no panic at the end of the calendar.
        format(
            at.checked_add_signed(chrono::Duration::minutes(1))
                .unwrap_or(at),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brasilia_time_is_utc_minus_three() {
        let t = parse("28/11/2026 14:30").unwrap();
        assert_eq!(t, Utc.with_ymd_and_hms(2026, 11, 28, 17, 30, 0).unwrap());
    }

    #[test]
    fn edges_of_days_months_and_years_convert_to_utc() {
        let utc = |y, mo, d, h, mi| Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap();
        let cases = [
            ("28/11/2026 00:00", utc(2026, 11, 28, 3, 0)),
            ("28/11/2026 23:59", utc(2026, 11, 29, 2, 59)),
            ("30/11/2026 21:00", utc(2026, 12, 1, 0, 0)),
            ("31/12/2026 23:30", utc(2027, 1, 1, 2, 30)),
            ("01/01/2027 00:00", utc(2027, 1, 1, 3, 0)),
            ("29/02/2028 12:00", utc(2028, 2, 29, 15, 0)),
            // Before 2019 Brasília had daylight saving time (UTC-2 in summer).
            ("01/01/2018 12:00", utc(2018, 1, 1, 14, 0)),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap(), want, "{text}");
            assert_eq!(format(want), text, "{text} round trip");
        }
    }

    #[test]
    fn impossible_dates_are_refused() {
        for bad in [
            "29/02/2026 10:00",
            "31/02/2028 10:00",
            "31/04/2026 10:00",
            "00/01/2026 10:00",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(bad) && e.contains("dd/mm/yyyy hh:mm"), "{e}");
        }
    }

    #[test]
    fn a_moment_with_seconds_is_written_as_the_next_minute() {
        let t = Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 0).unwrap(); // 20:59 in Brasília
        assert_eq!(format_at_or_after(t), "31/12/2026 20:59");
        let later = t + chrono::Duration::milliseconds(250);
        assert_eq!(format(later), "31/12/2026 20:59");
        assert_eq!(format_at_or_after(later), "31/12/2026 21:00");
    }

    #[test]
    fn other_formats_are_refused_with_the_value() {
        for bad in [
            "2026-11-28 14:30",
            "28/11/2026",
            "32/11/2026 10:00",
            "28/11/2026 24:00",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
            assert!(e.contains("dd/mm/yyyy hh:mm"), "{e}");
        }
    }

    #[test]
    fn only_two_digits_each_four_for_the_year_and_one_space_are_accepted() {
        // Each of these was once read as a moment: chrono's parser is lenient.
        for bad in [
            "6/12/2026 7:7",
            "06/12/2026 7:07",
            "06/12/202607:07",
            "06/12/+2026 07:07",
            "06/12/2026\t07:07",
            "06/12/2026  07:07",
            " 06/12/2026 07:07",
            "06/12/2026 07:07 ",
            "06/12/2026 07:07\n",
            "06/12/02026 07:07",
            "06/12/2026 07:07:00",
            "06/12/2026 07h07",
            "０6/12/2026 07:07",
            "",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("dd/mm/yyyy hh:mm"), "{bad:?}: {e}");
        }
        assert_eq!(
            parse("06/12/2026 07:07").unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 6, 10, 7, 0).unwrap()
        );
    }
}
