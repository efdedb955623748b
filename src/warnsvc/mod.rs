//! The early-warning service (issue 12) over the store: alerts raised by the pure core's
//! warning rules ([`crate::warn`]), kept one open alert per (rule, subject), and taken through
//! their lifecycle (raised, assessed, warned, disposing, closed) by people with the right
//! roles, every step an audit log entry.
//!
//! - [`alert`]: the alert record and its lifecycle as pure functions.
//! - [`store`]: keys and the writer jobs that change alerts atomically with their audit
//!   entries and change log.
//! - [`service`]: reads, lists, transitions, overdue escalation and the change log, over the
//!   store.
//! - [`eval`]: group evaluation as of a date and cut, enterprise signals inside a
//!   classification's store job, back-tests, replay.
//! - [`export`]: a group alert with its rule's parameters and the facts or tier counts behind
//!   it, for the independent checker `tools/verify_alert.py`.
//! - [`webhook`]: push to departments' webhooks from a durable outbox, signed, retried.

pub mod alert;
pub mod eval;
pub mod export;
pub mod service;
pub mod store;
pub mod webhook;

pub use alert::{Action, ActionKind, Alert, NewFiring, State};
pub use eval::{Backtest, EnterpriseSignals, Evaluation, Replay, RuleSource};
pub use service::{AlertFilter, NewAction, Warnings};
pub use store::{AlertChange, Fired};

#[cfg(test)]
mod joint_tests;
#[cfg(test)]
mod run_tests;
#[cfg(test)]
mod tests;
