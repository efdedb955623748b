//! The library's one error type, by category. The server maps it to a gRPC status in one place
//! (`server::status`); nothing else in the library knows about gRPC.

use crate::domain::FieldViolation;

/// Result with the library's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is bad; every bad field is listed. Fix the input and send again.
    #[error("invalid input: {}", join(.0))]
    InvalidInput(Vec<FieldViolation>),
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The input contradicts what is stored (e.g. an event id re-sent with other content);
    /// nothing was changed.
    #[error("conflict: {}", join(.0))]
    Conflict(Vec<FieldViolation>),
    /// The request is valid but the service's state does not allow it (e.g. no rule set is in
    /// force on the requested date).
    #[error("failed precondition: {0}")]
    FailedPrecondition(String),
    /// The service is shutting down or overloaded; try again later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Storage failed; the write, if any, was not acknowledged.
    #[error("storage: {0}")]
    Storage(String),
    /// A stored value cannot be decoded: corruption or an unknown schema version.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// A bug: an invariant did not hold.
    #[error("internal: {0}")]
    Internal(String),
    /// The caller has no valid credentials, or may not do this (see
    /// [`crate::audit::AuthError::is_denial`]). The message reveals nothing about stored data.
    #[error(transparent)]
    Access(#[from] crate::audit::AuthError),
}

fn join(v: &[FieldViolation]) -> String {
    let mut s = v
        .iter()
        .take(10)
        .map(|f| f.to_string())
        .collect::<Vec<_>>()
        .join("; ");
    if v.len() > 10 {
        s.push_str(&format!("; and {} more", v.len() - 10));
    }
    s
}

impl Error {
    /// An invalid-input error for one field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Error {
        Error::InvalidInput(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }
}

impl From<crate::draw::DrawError> for Error {
    fn from(e: crate::draw::DrawError) -> Self {
        use crate::draw::DrawError as D;
        match e {
            D::Invalid(v) => Error::InvalidInput(v),
            D::Bundle(m) => Error::invalid("bundle", m),
            e @ (D::RuleFile { .. } | D::CalendarYear(_)) => {
                Error::FailedPrecondition(e.to_string())
            }
            e @ D::Mismatch(_) => Error::Corrupt(e.to_string()),
            D::Xlsx(m) => Error::Internal(format!("xlsx export failed: {m}")),
        }
    }
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Storage(e.to_string())
    }
}
