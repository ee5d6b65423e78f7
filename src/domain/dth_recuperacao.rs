//! ANEEL's `dthRecuperacao` parameter: `dd/mm/yyyy hh:mm`, Brasília time.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

use crate::hygiene::echo;

/// The format ANEEL sends.
pub const FORMAT: &str = "%d/%m/%Y %H:%M";

/// Parses `dd/mm/yyyy hh:mm` in America/Sao_Paulo into a UTC instant, or says what is wrong.
pub fn parse(value: &str) -> Result<DateTime<Utc>, String> {
    let naive = NaiveDateTime::parse_from_str(value.trim(), FORMAT).map_err(|e| {
        format!(
            "{} is not a date and time in the format dd/mm/yyyy hh:mm ({e})",
            echo(value)
        )
    })?;
    chrono_tz::America::Sao_Paulo
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("{} does not exist in Brasília time", echo(value)))
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
}
