//! Instants from the many date spellings of Calabrio exports (`reference/calabrio.md` §8.5).
//!
//! Accepted: epoch milliseconds; RFC 3339 / ISO 8601 with `Z` or an offset; naive
//! `YYYY-MM-DD[ T]HH:MM[:SS[.fff]]`, `YYYY-MM-DD` and `MM/DD/YYYY hh:mm[:ss] AM|PM`. A naive value is
//! only accepted with a configured source time zone, and a wall time that falls in a DST gap or fold
//! of that zone is an error: we never guess which of two instants was meant.

use jiff::{Timestamp, civil, tz::TimeZone};

/// Why a date could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// Not a date in any accepted format.
    #[error(
        "'{0}' is not a date in an accepted format (epoch ms, ISO 8601, YYYY-MM-DD HH:MM:SS, MM/DD/YYYY hh:mm AM)"
    )]
    Unrecognised(String),
    /// A wall time without zone and no `[source] time_zone` configured.
    #[error("'{0}' has no time zone; set [source] time_zone to read naive times")]
    NaiveWithoutZone(String),
    /// A wall time that does not exist or exists twice in the configured zone.
    #[error("'{value}' is ambiguous or does not exist in {zone} (DST gap or fold): {detail}")]
    Ambiguous {
        /// The text.
        value: String,
        /// The zone name.
        zone: String,
        /// jiff's explanation.
        detail: String,
    },
}

/// Parses `text` into a UTC instant. `zone` is the configured source time zone, used only for
/// naive values.
///
/// # Errors
/// [`TimeError`] naming the text and why.
pub fn parse_instant(text: &str, zone: Option<&TimeZone>) -> Result<Timestamp, TimeError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(TimeError::Unrecognised(text.to_owned()));
    }
    if t.len() >= 10 && t.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = t
            .parse()
            .map_err(|_| TimeError::Unrecognised(text.to_owned()))?;
        return Timestamp::from_millisecond(ms)
            .map_err(|_| TimeError::Unrecognised(text.to_owned()));
    }
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    let civil = parse_civil(t).ok_or_else(|| TimeError::Unrecognised(text.to_owned()))?;
    let zone = zone.ok_or_else(|| TimeError::NaiveWithoutZone(text.to_owned()))?;
    zone.to_ambiguous_timestamp(civil)
        .unambiguous()
        .map_err(|e| TimeError::Ambiguous {
            value: text.to_owned(),
            zone: zone.iana_name().unwrap_or("the configured zone").to_owned(),
            detail: e.to_string(),
        })
}

fn parse_civil(t: &str) -> Option<civil::DateTime> {
    if let Ok(dt) = t.parse::<civil::DateTime>() {
        return Some(dt);
    }
    if let Ok(d) = t.parse::<civil::Date>() {
        return Some(d.to_datetime(civil::Time::midnight()));
    }
    for fmt in [
        "%m/%d/%Y %I:%M:%S %p",
        "%m/%d/%Y %I:%M %p",
        "%m/%d/%Y %H:%M:%S",
        "%m/%d/%Y %H:%M",
    ] {
        if let Ok(dt) = civil::DateTime::strptime(fmt, t) {
            return Some(dt);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> TimeZone {
        TimeZone::get("America/New_York").unwrap()
    }

    #[test]
    fn accepts_every_documented_spelling() {
        let want = "2022-10-18T15:02:11Z".parse::<Timestamp>().unwrap();
        assert_eq!(parse_instant("1666105331000", None).unwrap(), want);
        assert_eq!(parse_instant("2022-10-18T15:02:11Z", None).unwrap(), want);
        assert_eq!(
            parse_instant("2022-10-18T11:02:11-04:00", None).unwrap(),
            want
        );
        let utc = TimeZone::UTC;
        assert_eq!(
            parse_instant("2022-10-18 15:02:11", Some(&utc)).unwrap(),
            want
        );
        assert_eq!(
            parse_instant("10/18/2022 11:02:11 AM", Some(&ny())).unwrap(),
            want
        );
        assert_eq!(
            parse_instant("10/18/2022 3:02 PM", Some(&utc)).unwrap(),
            "2022-10-18T15:02:00Z".parse::<Timestamp>().unwrap()
        );
    }

    #[test]
    fn naive_needs_a_zone() {
        let err = parse_instant("2022-10-18 15:02:11", None).unwrap_err();
        assert!(matches!(err, TimeError::NaiveWithoutZone(_)), "{err}");
    }

    #[test]
    fn dst_gap_and_fold_are_errors() {
        let gap = parse_instant("2024-03-10 02:30:00", Some(&ny())).unwrap_err();
        assert!(matches!(gap, TimeError::Ambiguous { .. }), "{gap}");
        let fold = parse_instant("2024-11-03 01:30:00", Some(&ny())).unwrap_err();
        assert!(matches!(fold, TimeError::Ambiguous { .. }), "{fold}");
    }

    #[test]
    fn garbage_is_unrecognised() {
        for bad in ["", "yesterday", "2022-13-45", "31/12/2022 25:00"] {
            assert!(parse_instant(bad, Some(&TimeZone::UTC)).is_err(), "{bad}");
        }
    }
}
