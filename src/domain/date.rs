//! Calendar dates as days since 1970-01-01, with ISO 8601 `YYYY-MM-DD` text.
//!
//! The regulator works in calendar days: an event "takes effect" on a date, windows such as
//! "in the last 3 years" are counted in days. A plain integer keeps storage compact, comparison
//! trivial and arithmetic deterministic. Conversions use Howard Hinnant's civil-date algorithms.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A proleptic Gregorian calendar date between 1900-01-01 and 2199-12-31.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Date(i32);

/// Earliest accepted year.
pub const MIN_YEAR: i32 = 1900;
/// Latest accepted year.
pub const MAX_YEAR: i32 = 2199;

impl Date {
    /// The date `days` after 1970-01-01 (negative before).
    pub fn from_days(days: i32) -> Date {
        Date(days)
    }

    /// Days since 1970-01-01.
    pub fn days(self) -> i32 {
        self.0
    }

    /// The date for a year, month and day, or `None` if it does not exist or is out of range.
    pub fn from_ymd(y: i32, m: u32, d: u32) -> Option<Date> {
        if !(MIN_YEAR..=MAX_YEAR).contains(&y) || !(1..=12).contains(&m) || d == 0 {
            return None;
        }
        if d > days_in_month(y, m) {
            return None;
        }
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m as i32 + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(Date(era * 146_097 + doe - 719_468))
    }

    /// Year, month (1-12) and day (1-31).
    pub fn ymd(self) -> (i32, u32, u32) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    /// The year of this date.
    pub fn year(self) -> i32 {
        self.ymd().0
    }

    /// Parses `YYYY-MM-DD` exactly (no time, no zone); the error says what is wrong.
    pub fn parse(s: &str) -> Result<Date, String> {
        let b = s.as_bytes();
        let shape_ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape_ok {
            // Quoted cut short: errors travel in HTTP/2 headers, which a huge value would break.
            let more = if s.chars().count() > 24 { "…" } else { "" };
            return Err(format!(
                "`{}{more}` is not a date of the form YYYY-MM-DD",
                crate::domain::validate::truncate(s, 24)
            ));
        }
        let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(0);
        let (y, m, d) = (num(0..4) as i32, num(5..7), num(8..10));
        Date::from_ymd(y, m, d).ok_or_else(|| {
            if (MIN_YEAR..=MAX_YEAR).contains(&y) {
                format!("`{s}` is not a calendar date")
            } else {
                format!("`{s}` is outside the years {MIN_YEAR} to {MAX_YEAR}")
            }
        })
    }

    /// Day of the week, 0 = Monday ... 6 = Sunday.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        (self.0 + 3).rem_euclid(7) as u32
    }

    /// The same month and day `years` earlier (29 February becomes 28 February).
    pub fn years_before(self, years: i32) -> Date {
        let (y, m, d) = self.ymd();
        let y = (y - years).max(MIN_YEAR);
        let d = d.min(days_in_month(y, m));
        // The components come from a valid date and the year is clamped, so this exists.
        Date::from_ymd(y, m, d).unwrap_or(self)
    }

    /// The date `n` days later (negative: earlier).
    pub fn add_days(self, n: i32) -> Date {
        Date(self.0.saturating_add(n))
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl std::str::FromStr for Date {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Date::parse(s)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            s.serialize_i32(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            Date::parse(&s).map_err(serde::de::Error::custom)
        } else {
            i32::deserialize(d).map(Date)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_day_of_three_centuries() {
        let start = Date::from_ymd(1900, 1, 1).unwrap();
        let end = Date::from_ymd(2199, 12, 31).unwrap();
        let mut prev: Option<(i32, u32, u32)> = None;
        for n in start.days()..=end.days() {
            let d = Date::from_days(n);
            let (y, m, dd) = d.ymd();
            assert_eq!(Date::from_ymd(y, m, dd), Some(d));
            assert_eq!(Date::parse(&d.to_string()), Ok(d));
            if let Some(p) = prev {
                assert!((y, m, dd) > p);
            }
            prev = Some((y, m, dd));
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(Date::from_ymd(1970, 1, 1).unwrap().days(), 0);
        assert_eq!(Date::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        assert_eq!(Date::parse("2026-11-27").unwrap().weekday(), 4); // a Friday
        assert!(Date::parse("2023-02-29").is_err());
        assert!(Date::parse("2023-2-01").is_err());
        assert!(Date::parse("1899-12-31").unwrap_err().contains("outside"));
        let leap = Date::parse("2024-02-29").unwrap();
        assert_eq!(leap.years_before(1).to_string(), "2023-02-28");
        assert_eq!(leap.years_before(4).to_string(), "2020-02-29");
    }
}
