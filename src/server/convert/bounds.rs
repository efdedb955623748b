//! Bounds of request numbers and lengths that only the gRPC layer sees (counts, sizes, ids
//! echoed in errors), checked before any work; the policy's numbers are bounded next to the
//! policy (`draw::policy::bounds`), record fields by `domain::validate`.
//!
//! Every refusal is INVALID_ARGUMENT naming the field and the allowed range, e.g.
//! "`4294967295` is out of range: max_changes must be 1 to 10000". A value echoed in a
//! message is cut to [`ECHO_CHARS`] characters: the message and its field violations travel
//! in HTTP/2 headers, and a header of a few hundred kilobytes makes the client drop the whole
//! answer as a protocol error instead of showing the refusal.

use crate::domain::validate::truncate;
use crate::error::{Error, Result};
use std::ops::RangeInclusive;

/// Characters of a refused value quoted in an error message.
pub const ECHO_CHARS: usize = 40;
/// Bytes of an id (token id, draw id, inspector id, rule-set hash) a request may carry; ids
/// themselves are at most 64 characters, so anything longer is refused unread.
pub const MAX_ID_BYTES: usize = 128;
/// `Simulate.max_changes`: changed enterprises listed (0: the default).
pub const MAX_CHANGES: RangeInclusive<u32> = 1..=10_000;
/// Default of `Simulate.max_changes`.
pub const DEFAULT_CHANGES: u32 = 1000;
/// Bytes of a free-text filter or subject (jurisdiction, direction, audit subject).
pub const MAX_FILTER_BYTES: usize = 1000;

/// Files of one rule set.
pub const MAX_RULE_FILES: usize = 200;
/// Bytes of one rule file's path inside the rule set.
pub const MAX_RULE_PATH_BYTES: usize = 200;
/// Bytes of one rule file.
pub const MAX_RULE_FILE_BYTES: usize = 1024 * 1024;

/// Checks the count, the path lengths and the sizes of rule files sent under `field`, before
/// the rule loader reads (and quotes) any of them.
pub fn rule_files<'a>(
    field: &str,
    files: impl ExactSizeIterator<Item = (&'a String, &'a String)>,
) -> Result<()> {
    let n = files.len();
    in_range(field, n, 1..=MAX_RULE_FILES)?;
    for (path, text) in files {
        max_bytes(field, path, MAX_RULE_PATH_BYTES)?;
        if text.len() > MAX_RULE_FILE_BYTES {
            return Err(Error::invalid(
                format!("{field}[{path}]"),
                format!(
                    "`{}` bytes is out of range: a rule file has at most {MAX_RULE_FILE_BYTES}",
                    text.len()
                ),
            ));
        }
    }
    Ok(())
}

/// A value cut for quoting in a message, control characters escaped.
pub fn echo(value: &str) -> String {
    let cut = truncate(value, ECHO_CHARS);
    let more = if cut.len() < value.len() { "…" } else { "" };
    format!("{}{more}", cut.escape_default())
}

/// `value` if it lies in `allowed`, else "`VALUE` is out of range: FIELD must be LO to HI".
pub fn in_range<T>(field: &str, value: T, allowed: RangeInclusive<T>) -> Result<T>
where
    T: PartialOrd + std::fmt::Display,
{
    if allowed.contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(
            field,
            format!(
                "`{value}` is out of range: {} must be {} to {}",
                short(field),
                allowed.start(),
                allowed.end()
            ),
        ))
    }
}

/// `raw`, or `default` when `raw` is 0, checked against `allowed`.
pub fn or_default(
    field: &str,
    raw: u32,
    default: u32,
    allowed: RangeInclusive<u32>,
) -> Result<u32> {
    if raw == 0 {
        Ok(default)
    } else {
        in_range(field, raw, allowed)
    }
}

/// `value` if it has at most `max` bytes, else an error quoting its start and naming the limit.
pub fn max_bytes<'a>(field: &str, value: &'a str, max: usize) -> Result<&'a str> {
    if value.len() <= max {
        Ok(value)
    } else {
        Err(Error::invalid(
            field,
            format!(
                "`{}` is {} bytes: {} may have at most {max}",
                echo(value),
                value.len(),
                short(field)
            ),
        ))
    }
}

/// The last segment of a field path (`overrides.min_team_size` -> `min_team_size`).
fn short(field: &str) -> &str {
    field.rsplit('.').next().unwrap_or(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: Error) -> String {
        match e {
            Error::InvalidInput(v) => format!("{}: {}", v[0].field, v[0].description),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refusals_name_the_field_and_the_range() {
        let e = in_range("max_changes", u32::MAX, MAX_CHANGES).unwrap_err();
        assert_eq!(
            message(e),
            "max_changes: `4294967295` is out of range: max_changes must be 1 to 10000"
        );
        assert_eq!(or_default("max_changes", 0, 7, MAX_CHANGES).unwrap(), 7);
        assert_eq!(
            or_default("max_changes", 10_000, 7, MAX_CHANGES).unwrap(),
            10_000
        );
        let long = "x".repeat(100_000);
        let e = message(max_bytes("id", &long, MAX_ID_BYTES).unwrap_err());
        assert!(e.len() < 200, "{e}");
        assert!(
            e.ends_with("is 100000 bytes: id may have at most 128"),
            "{e}"
        );
        assert_eq!(echo("a\nb"), "a\\nb");
    }
}
