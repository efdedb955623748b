//! The domain: records, their validation and identifiers. Pure: no I/O, no clock, no gRPC.

pub mod code;
pub mod date;
pub mod enterprise;
pub mod event;
pub mod inspection;
pub mod inspector;
pub mod names;
pub mod pseudonym;
pub mod validate;

pub use code::CreditCode;
pub use date::Date;
pub use enterprise::{Enterprise, EnterpriseVersion, EntityKind, Status};
pub use event::{
    AbnormalGround, CreditEvent, EventBody, RepairClass, Severity, StoredEvent, TaxGrade,
};
pub use inspection::{Inspection, ResultCode};
pub use inspector::{Inspector, InspectorVersion};
pub use names::Lang;
pub use pseudonym::Pseudonymizer;
pub use validate::{FieldViolation, Violations};
