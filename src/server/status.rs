//! The one mapping from [`Error`] to gRPC [`Status`].
//!
//! Bad input becomes INVALID_ARGUMENT with a `google.rpc.BadRequest` detail listing every field
//! violation (machine-readable) and the same text in the message (human-readable). Conflicts
//! become ALREADY_EXISTS with the same detail. Storage failures and bugs become INTERNAL or
//! UNAVAILABLE, stored data found corrupt DATA_LOSS, with a message that names no stored data.
//! Missing or bad credentials become UNAUTHENTICATED and a wrong role PERMISSION_DENIED, with
//! the access core's messages, which reveal nothing about stored data.

use crate::domain::FieldViolation;
use crate::error::Error;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Converts a library error into the status the client sees.
pub fn to_status(e: Error) -> Status {
    let msg = e.to_string();
    match e {
        Error::InvalidInput(v) => with_violations(Code::InvalidArgument, msg, &v),
        Error::Conflict(v) => with_violations(Code::AlreadyExists, msg, &v),
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

fn with_violations(code: Code, msg: String, v: &[FieldViolation]) -> Status {
    let mut details = ErrorDetails::new();
    for f in v {
        details.add_bad_request_violation(f.field.clone(), f.description.clone());
    }
    Status::with_error_details(code, msg, details)
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
