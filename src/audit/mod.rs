//! The audit core: tamper-evident log entries, signed tree heads, offline verification and
//! access control. Pure: no I/O, no clock, no randomness; times, seeds and token secrets are
//! inputs. See `docs/audit.md` for the formats.

pub mod access;
pub mod entry;
pub mod error;
pub mod head;
mod json;
pub mod merkle;
pub mod verify;

pub use access::{authenticate, authorize, AuthError, Principal, Role, TokenRecord, POLICY};
pub use entry::{Entry, EntryKind};
pub use error::AuditError;
pub use head::{verify_head, SignedTreeHead, Signer, TreeHead};
pub use verify::{verify_bundle, AuditBundle, VerificationReport};
