//! The one mapping from [`Error`] to gRPC [`Status`].
//!
//! Bad input becomes INVALID_ARGUMENT with a `google.rpc.BadRequest` detail listing every field
//! violation (machine-readable) and the same text in the message (human-readable). Conflicts
//! become ALREADY_EXISTS with the same detail. Storage failures and bugs become INTERNAL or
//! UNAVAILABLE, stored data found corrupt DATA_LOSS, with a message that names no stored data.
//! Missing or bad credentials become UNAUTHENTICATED and a wrong role PERMISSION_DENIED, with
//! the access core's messages, which reveal nothing about stored data.
//!
//! The message and the detail travel in HTTP/2 headers (`grpc-message`, `grpc-status-details-bin`),
//! and standard gRPC clients refuse more than 16 KiB of them (RESOURCE_EXHAUSTED, and the caller
//! never learns what was wrong). So both are bounded: the detail lists at most
//! [`MAX_DETAIL_VIOLATIONS`] violations and [`MAX_DETAIL_BYTES`] of text, the message at most
//! [`MAX_MESSAGE_VIOLATIONS`] and about [`MAX_MESSAGE_BYTES`], each description cut to
//! [`MAX_DESCRIPTION_CHARS`]; what is left
//! out is counted in a last entry (field `records`, "and N more violations"). Together they stay
//! under 12 KiB on the wire whatever the input.

use crate::domain::FieldViolation;
use crate::error::Error;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Converts a library error into the status the client sees.
pub fn to_status(e: Error) -> Status {
    let msg = e.to_string();
    match e {
        // The message of these is built, bounded, by `with_violations`, not taken from `msg`.
        Error::InvalidInput(v) => with_violations(Code::InvalidArgument, "invalid input", &v),
        Error::Conflict(v) => with_violations(Code::AlreadyExists, "conflict", &v),
        Error::NotFound(_) => Status::not_found(msg),
        Error::Unavailable(_) => Status::unavailable(msg),
        Error::FailedPrecondition(_) => Status::failed_precondition(msg),
        Error::Corrupt(_) => {
            tracing::error!(error = %msg, "stored data is corrupt");
            Status::data_loss(msg)
        }
        Error::Storage(_) | Error::Internal(_) => {
            tracing::error!(error = %msg, "internal failure");
            Status::internal(msg)
        }
        // The messages of AuthError name at most the caller's own role and the method called.
        Error::Access(a) if a.is_denial() => Status::permission_denied(msg),
        Error::Access(_) => Status::unauthenticated(msg),
    }
}

/// Most violations listed in the `BadRequest` detail; the rest are counted.
pub const MAX_DETAIL_VIOLATIONS: usize = 50;
/// Most bytes of field paths and descriptions in the `BadRequest` detail (base64 makes it 4/3
/// on the wire).
pub const MAX_DETAIL_BYTES: usize = 6 * 1024;
/// Most violations spelled out in the status message; the rest are counted.
pub const MAX_MESSAGE_VIOLATIONS: usize = 10;
/// Most bytes of the status message before the count of the rest (percent-encoding may make
/// non-ASCII text three times longer on the wire).
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// Longest description (in characters) in the detail or the message; longer ones are cut with
/// `…`.
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// Longest field path (in characters); paths are built by the server, so this only guards.
const MAX_FIELD_CHARS: usize = 120;

fn with_violations(code: Code, what: &str, v: &[FieldViolation]) -> Status {
    let mut details = ErrorDetails::new();
    let mut bytes = 0;
    let mut listed = 0;
    for f in v.iter().take(MAX_DETAIL_VIOLATIONS) {
        let field = cut(&f.field, MAX_FIELD_CHARS);
        let description = cut(&f.description, MAX_DESCRIPTION_CHARS);
        bytes += field.len() + description.len();
        if bytes > MAX_DETAIL_BYTES {
            break;
        }
        details.add_bad_request_violation(field, description);
        listed += 1;
    }
    if listed < v.len() {
        details.add_bad_request_violation("records", more(v.len() - listed));
    }
    let mut msg = format!("{what}: ");
    let mut told = 0;
    for f in v.iter().take(MAX_MESSAGE_VIOLATIONS) {
        let one = format!(
            "{}: {}",
            cut(&f.field, MAX_FIELD_CHARS),
            cut(&f.description, MAX_DESCRIPTION_CHARS)
        );
        if told > 0 && msg.len() + one.len() > MAX_MESSAGE_BYTES {
            break;
        }
        if told > 0 {
            msg.push_str("; ");
        }
        msg.push_str(&one);
        told += 1;
    }
    if told < v.len() {
        msg.push_str("; ");
        msg.push_str(&more(v.len() - told));
    }
    Status::with_error_details(code, msg, details)
}

fn more(n: usize) -> String {
    if n == 1 {
        "and 1 more violation".to_string()
    } else {
        format!("and {n} more violations")
    }
}

/// `s` if it has at most `n` characters, else its first `n - 1` and `…`.
fn cut(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        None => s.to_string(),
        Some(_) => {
            let end = s.char_indices().nth(n - 1).map_or(s.len(), |(i, _)| i);
            format!("{}…", &s[..end])
        }
    }
}

/// The field violations carried by a status, if any (for clients, e.g. the import command).
pub fn violations_of(s: &Status) -> Vec<FieldViolation> {
    s.get_error_details()
        .bad_request()
        .map(|b| {
            b.field_violations
                .iter()
                .map(|f| FieldViolation {
                    field: f.field.clone(),
                    description: f.description.clone(),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(n: usize, desc: &str) -> Error {
        Error::InvalidInput(
            (0..n)
                .map(|i| FieldViolation {
                    field: format!("records[{i}].credit_code"),
                    description: desc.to_string(),
                })
                .collect(),
        )
    }

    #[test]
    fn details_are_bounded_and_count_the_rest() {
        let s = to_status(bad(10_000, "`x` is not a credit code"));
        assert_eq!(s.code(), Code::InvalidArgument);
        let v = violations_of(&s);
        assert_eq!(v.len(), MAX_DETAIL_VIOLATIONS + 1);
        assert_eq!(v[0].field, "records[0].credit_code");
        assert_eq!(v[50].field, "records");
        assert_eq!(v[50].description, "and 9950 more violations");
        assert!(
            s.message().ends_with("; and 9990 more violations"),
            "{}",
            s.message()
        );
        assert!(s
            .message()
            .starts_with("invalid input: records[0].credit_code: `x`"));
    }

    #[test]
    fn long_descriptions_are_cut_and_bytes_bounded() {
        let long = "é".repeat(5000);
        let s = to_status(bad(10_000, &long));
        let v = violations_of(&s);
        assert!(v.len() < MAX_DETAIL_VIOLATIONS, "{}", v.len());
        let first = &v[0].description;
        assert_eq!(first.chars().count(), MAX_DESCRIPTION_CHARS);
        assert!(first.ends_with('…'));
        assert!(s.details().len() < 8 * 1024, "{}", s.details().len());
        assert!(s.message().len() < 4 * 1024, "{}", s.message().len());
        let rest = &v[v.len() - 1];
        assert_eq!(
            rest.description,
            format!("and {} more violations", 10_000 - (v.len() - 1))
        );
    }

    #[test]
    fn few_violations_are_all_listed() {
        let s = to_status(bad(2, "`x` is bad"));
        assert_eq!(violations_of(&s).len(), 2);
        assert_eq!(
            s.message(),
            "invalid input: records[0].credit_code: `x` is bad; records[1].credit_code: `x` is bad"
        );
    }
}
