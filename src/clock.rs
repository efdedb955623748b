//! The wall clock, read only at the edges (handlers, background tasks, the command line) and
//! passed into the domain as plain values.

use crate::domain::Date;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Today's date in China Standard Time (UTC+8), the regulator's calendar.
pub fn today() -> Date {
    Date::from_days((now_ms() + 8 * 3_600_000).div_euclid(86_400_000) as i32)
}

/// RFC 3339 UTC text of a millisecond timestamp.
pub fn rfc3339(ms: i64) -> String {
    let day = Date::from_days(ms.div_euclid(86_400_000) as i32);
    let rem = ms.rem_euclid(86_400_000);
    let (h, m, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{day}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_timestamps() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::rfc3339(1_764_201_600_123),
            "2025-11-27T00:00:00.123Z"
        );
    }
}
