//! Errors of the draw core, by category. The main crate maps them into its own error enum
//! (invalid input carries field-level violations).

use crate::domain::FieldViolation;

/// Why a draw operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DrawError {
    /// Input fields are invalid; every violation found is listed.
    #[error("invalid input: {}", join(.0))]
    Invalid(Vec<FieldViolation>),
    /// A rule file (policy, calendar) could not be parsed or is inconsistent.
    #[error("rule file `{file}`: {message}")]
    RuleFile {
        /// Name of the file as given by the caller.
        file: String,
        /// What is wrong, with the line when the parser knows it.
        message: String,
    },
    /// A date falls outside the years the calendar covers.
    #[error("calendar has no data for {0}: add `rules/calendar/{0}.toml`")]
    CalendarYear(i32),
    /// A bundle could not be read (bad JSON, unknown field, wrong format version).
    #[error("bundle is unreadable: {0}")]
    Bundle(String),
    /// A bundle was read but does not match a re-run of its draw; each difference is listed.
    #[error("bundle does not verify: {}", .0.join("; "))]
    Mismatch(Vec<String>),
    /// The spreadsheet writer failed.
    #[error("xlsx export failed: {0}")]
    Xlsx(String),
}

fn join(v: &[FieldViolation]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl DrawError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> DrawError {
        DrawError::Invalid(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }
}
