//! Access tokens over the store: issuing, revoking, listing and looking up tokens, and the
//! bootstrap that gives a new deployment its first admin token (and, in demo mode, one token
//! per role).
//!
//! The pure rules (token format, hashing, authentication, the role table) are in
//! [`crate::audit::access`]; this module only keeps their records. Secrets are never stored:
//! a token's string is returned once, when it is issued, and the store keeps its SHA-256.
//! Nothing here knows gRPC; the server's access layer calls [`Tokens::lookup`] on every call.

pub mod bootstrap;
pub mod store;

pub use bootstrap::{bootstrap, Bootstrap, DemoTokens};
pub use store::{NewToken, StoredToken, Tokens};
