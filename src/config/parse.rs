//! Value parsers of the settings: each turns the text of one flag or variable into its type,
//! or says what is wrong (clap adds the setting and the value, see [`super::ConfigError`]).

use std::fmt::Display;
use std::str::FromStr;
use std::time::Duration;

use crate::domain;

/// Any `FromStr` type, surrounding blanks ignored.
pub fn trimmed<T: FromStr>(value: &str) -> Result<T, String>
where
    T::Err: Display,
{
    value.trim().parse().map_err(|e: T::Err| e.to_string())
}

/// A number greater than 0.
pub fn positive<T: FromStr + PartialOrd + Default>(value: &str) -> Result<T, String>
where
    T::Err: Display,
{
    let n: T = trimmed(value)?;
    if n <= T::default() {
        return Err("must be greater than 0".to_owned());
    }
    Ok(n)
}

/// A whole number of milliseconds from `MIN` to `MAX`.
pub fn millis_between<const MIN: u32, const MAX: u32>(value: &str) -> Result<Duration, String> {
    whole_number::<MIN, MAX>(value).map(|n| Duration::from_millis(n.into()))
}

/// A whole number of seconds from `MIN` to `MAX`.
pub fn secs_between<const MIN: u32, const MAX: u32>(value: &str) -> Result<Duration, String> {
    whole_number::<MIN, MAX>(value).map(|n| Duration::from_secs(n.into()))
}

/// A whole number from `MIN` to `MAX`: the bounds are checked at start-up so that no value
/// is refused later by a driver whose conversions would fail every run instead.
pub fn whole_number<const MIN: u32, const MAX: u32>(value: &str) -> Result<u32, String> {
    match value.trim().parse::<u32>() {
        Ok(n) if (MIN..=MAX).contains(&n) => Ok(n),
        _ => Err(format!("must be a whole number from {MIN} to {MAX}")),
    }
}

/// Text that is not blank, trimmed.
pub fn not_blank(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("must not be empty".to_owned());
    }
    Ok(value.to_owned())
}

/// An IANA time zone name.
pub fn time_zone(value: &str) -> Result<chrono_tz::Tz, String> {
    value
        .parse()
        .map_err(|_| "not an IANA time zone name (e.g. America/Sao_Paulo)".to_owned())
}

/// A cron expression, parsed once.
pub fn cron(value: &str) -> Result<domain::CronSchedule, String> {
    domain::CronSchedule::parse(value).map_err(|e| e.reason)
}

/// A log filter in `tracing`'s EnvFilter syntax: comma-separated directives, each checked
/// here so that logging starts with exactly what was asked.
pub fn log_filter(value: &str) -> Result<String, String> {
    for directive in value.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        directive
            .parse::<tracing_subscriber::filter::Directive>()
            .map_err(|e| e.to_string())?;
    }
    Ok(value.to_owned())
}

/// ANEEL's `emailIndisponibilidade` ([`domain::is_contact_email`]), trimmed.
pub fn email(value: &str) -> Result<String, String> {
    let email = value.trim();
    if !domain::is_contact_email(email) {
        let max = domain::MAX_EMAIL_LEN;
        return Err(format!(
            "expected an e-mail address of at most {max} characters"
        ));
    }
    Ok(email.to_owned())
}

/// The scale of the demo database: a number greater than 0 and at most the generator's
/// largest, checked here so that a bad scale is a usage error (exit 2).
pub fn demo_scale(value: &str) -> Result<f64, String> {
    use domain::MAX_DEMO_SCALE;
    match value.trim().parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale > 0.0 && scale <= MAX_DEMO_SCALE => Ok(scale),
        _ => Err(format!(
            "must be a number greater than 0 and at most {MAX_DEMO_SCALE}"
        )),
    }
}
