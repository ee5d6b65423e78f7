//! Mapping of a fetched row to [`RawInterrupcaoRow`], without a live `oracle::Row`.
//!
//! Every column is fetched as text: the `oracle` crate converts any NUMBER (and a
//! VARCHAR2 holding digits) to its exact decimal text, while a direct `i64` fetch would
//! depend on how the SQL happens to type each expression (`SUM` of a NUMBER, `COUNT`, a
//! string column). The text is parsed here, where it can be tested with plain values.

use crate::domain::RawInterrupcaoRow;
use crate::source::SourceError;

pub use crate::source::AGGREGATION_COLUMNS as COLUMNS;

/// Largest exponent accepted in number text (`1E+40`): enough for any `i64` written with a
/// fraction or trailing zeros, small enough that shifting the digits costs nothing.
const MAX_EXPONENT: u32 = 40;

/// Builds a row from the five column values as text (`None` for SQL NULL).
///
/// A value that is not a whole number fails the fetch: it means the SQL is wrong, and
/// serving a rounded count to the regulator would be worse than serving the last good one.
/// Range checks (negative counts, 32-bit limits, 7-digit IBGE codes) belong to validation.
pub fn map_row(values: [Option<&str>; 5]) -> Result<RawInterrupcaoRow, SourceError> {
    let values: [Option<i64>; 5] = values
        .iter()
        .zip(COLUMNS)
        .map(|(value, column)| parse_integer(column, *value))
        .collect::<Result<Vec<_>, _>>()?
        .try_into()
        .expect("five columns in, five values out");
    Ok(RawInterrupcaoRow::from(values))
}

/// Parses Oracle's decimal text of a NUMBER as a whole number: `"12"`, `" -3 "`, `"42.0"`,
/// `"1E+3"`. Blank text is NULL (Oracle treats the empty string as NULL).
fn parse_integer(column: &str, value: Option<&str>) -> Result<Option<i64>, SourceError> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let bad = |why: &str| {
        SourceError::permanent(
            None,
            format!(
                "column {column} returned {text:?}, {why}: the aggregation SQL must return \
                 whole numbers"
            ),
        )
    };
    if let Ok(n) = text.parse::<i64>() {
        return Ok(Some(n));
    }
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().map_err(|_| bad("not a number"))?),
        None => (text, 0),
    };
    // Checked before the digits are shifted: "1E-2000000000" would otherwise pad with two
    // billion zeros. No whole number in `i64` needs an exponent beyond this.
    if exponent.unsigned_abs() > MAX_EXPONENT {
        return Err(bad("out of range"));
    }
    let (sign, digits) = match mantissa.strip_prefix('-') {
        Some(rest) => (-1i128, rest),
        None => (1, mantissa.strip_prefix('+').unwrap_or(mantissa)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .chars()
            .chain(fraction.chars())
            .all(|c| c.is_ascii_digit())
    {
        return Err(bad("not a number"));
    }
    // Shift the decimal point by the exponent, then require no fractional digits left.
    let mut all: String = format!("{whole}{fraction}");
    let point = i64::try_from(whole.len()).unwrap_or(i64::MAX) + i64::from(exponent);
    if point < 0 {
        all.insert_str(
            0,
            &"0".repeat(usize::try_from(-point).unwrap_or(usize::MAX)),
        );
    }
    let point = usize::try_from(point.max(0)).unwrap_or(usize::MAX);
    if point > 40 {
        return Err(bad("out of range"));
    }
    if all.len() < point {
        all.push_str(&"0".repeat(point - all.len()));
    }
    let (int_part, frac_part) = all.split_at(point.min(all.len()));
    if frac_part.chars().any(|c| c != '0') {
        return Err(bad("not a whole number"));
    }
    let magnitude: i128 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| bad("out of range"))?
    };
    i64::try_from(sign * magnitude)
        .map(Some)
        .map_err(|_| bad("out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Result<Option<i64>, SourceError> {
        parse_integer("qtd_programada", Some(text))
    }

    #[test]
    fn maps_the_five_columns_in_order() {
        let row = map_row([Some("12"), Some("1400100"), Some("5000"), Some("10"), None]).unwrap();
        assert_eq!(
            row,
            RawInterrupcaoRow {
                conjunto: Some(12),
                municipio: Some(1_400_100),
                qtd_ucs_atendidas: Some(5000),
                qtd_programada: Some(10),
                qtd_nao_programada: None,
            }
        );
    }

    #[test]
    fn number_text_in_every_form_oracle_gives() {
        assert_eq!(one("42").unwrap(), Some(42));
        assert_eq!(one(" -3 ").unwrap(), Some(-3));
        assert_eq!(one("+7").unwrap(), Some(7));
        assert_eq!(one("42.0").unwrap(), Some(42));
        assert_eq!(one("42.").unwrap(), Some(42));
        assert_eq!(one("1E+3").unwrap(), Some(1000));
        assert_eq!(one("1.5e1").unwrap(), Some(15));
        assert_eq!(one("0").unwrap(), Some(0));
        assert_eq!(one(".0").unwrap(), Some(0));
        assert_eq!(one("2500E-2").unwrap(), Some(25));
        assert_eq!(one("9223372036854775807").unwrap(), Some(i64::MAX));
    }

    #[test]
    fn null_and_blank_are_none() {
        assert_eq!(parse_integer("conjunto", None).unwrap(), None);
        assert_eq!(one("").unwrap(), None);
        assert_eq!(one("  ").unwrap(), None);
    }

    #[test]
    fn fractions_and_garbage_fail_naming_the_column_and_value() {
        for text in [
            "12.5",
            "abc",
            "1-2",
            ".",
            "1E",
            "1e-1",
            "9223372036854775808",
            "1E+60",
            "1E+41",
            "1E-41",
        ] {
            let e = one(text).unwrap_err();
            assert!(!e.is_transient());
            assert!(e.message.contains("qtd_programada"), "{e}");
            assert!(e.message.contains(text), "{e}");
        }
    }

    #[test]
    fn huge_exponents_fail_at_once_without_allocating() {
        for text in [
            "1E-2000000000",
            "1E+2000000000",
            "0E-2147483648",
            "5E2147483647",
        ] {
            let e = one(text).unwrap_err();
            assert!(e.message.contains("out of range"), "{e}");
            assert!(e.message.contains(text), "{e}");
        }
        assert_eq!(one("0E-40").unwrap(), Some(0));
        assert_eq!(one("1E+18").unwrap(), Some(1_000_000_000_000_000_000));
    }

    #[test]
    fn large_values_pass_through_for_validation_to_judge() {
        let row = map_row([Some("1"), Some("1400100"), Some("3000000000"), None, None]).unwrap();
        assert_eq!(row.qtd_ucs_atendidas, Some(3_000_000_000));
    }
}
