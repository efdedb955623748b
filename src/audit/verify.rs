//! Offline verification of the audit log: what `creditrisk audit verify` runs over an audit
//! bundle.
//!
//! Why offline: an auditor must not have to trust the service to check the service. Everything
//! here works from a JSON file and a public key; no connection, no clock.
//!
//! # Audit bundle, format `creditrisk-audit-bundle/1`
//!
//! ```json
//! {
//!   "format": "creditrisk-audit-bundle/1",
//!   "public_key": "<base64 of the 32-byte Ed25519 public key>",
//!   "saved_head": { <signed tree head JSON> },
//!   "current_head": { <signed tree head JSON> },
//!   "consistency_proof": ["<64 hex digits>", ...],
//!   "entries": [
//!     {"index": 0, "entry": { <entry JSON> }, "inclusion_proof": ["<64 hex digits>", ...]}
//!   ]
//! }
//! ```
//!
//! * `saved_head` is the head the auditor kept from earlier; `current_head` is the one just
//!   fetched. The signed tree head JSON is documented in [`crate::audit::head`], the entry JSON
//!   in [`crate::audit::entry`].
//! * `consistency_proof` is RFC 6962 `PROOF(saved.size, D[current.size])`, oldest-level first as
//!   served by `GetConsistencyProof`; empty when the sizes are equal or the saved log is empty.
//! * Each `inclusion_proof` is the RFC 6962 audit path of `index` in the *current* head's tree,
//!   from the leaf's sibling upwards. `entries` may be empty or absent.
//! * Unknown fields are rejected everywhere, so a typo cannot silently drop a check.
//!
//! # Checks, in report order
//!
//! 1. `public_key`: the bundle's key equals the key the auditor pinned (skipped when none is
//!    pinned: then the bundle's own key is trusted, which only proves self-consistency).
//! 2. `saved_head_signature`, 3. `current_head_signature`: [`verify_head`] with that key.
//! 4. `tree_size_order`: `current.size >= saved.size` (a log never shrinks).
//! 5. `consistency`: the proof shows the current tree extends the saved one (RFC 9162
//!    2.1.4.2). A saved head of size 0 passes iff its root is the empty-tree root and the proof
//!    is empty.
//! 6. `inclusion[i]` for each entry: the entry encodes, and its RFC 6962 leaf hash with the
//!    proof yields the current root at `index` (RFC 9162 2.1.3.2).
//!
//! Every check runs even if an earlier one failed, so one report shows every problem; the
//! bundle passes only if no check failed.

use crate::audit::entry::Entry;
use crate::audit::error::AuditError;
use crate::audit::head::{key_id, verify_head, SignedTreeHead};
use crate::audit::json::{b64_32, hex32_vec};
use crate::audit::merkle::{self, HashStore, ProofError, EMPTY_ROOT};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The `format` value of a version-1 audit bundle.
pub const BUNDLE_FORMAT: &str = "creditrisk-audit-bundle/1";

/// Everything an auditor needs to check the log offline; see the module doc for the JSON form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditBundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// The service's Ed25519 public key (base64 in JSON).
    #[serde(with = "b64_32")]
    pub public_key: [u8; 32],
    /// The head the auditor saved earlier.
    pub saved_head: SignedTreeHead,
    /// The head the auditor fetched now.
    pub current_head: SignedTreeHead,
    /// Consistency proof from `saved_head.size` to `current_head.size` (hex in JSON).
    #[serde(with = "hex32_vec")]
    pub consistency_proof: Vec<merkle::Hash>,
    /// Entries to check for inclusion in the current tree.
    #[serde(default)]
    pub entries: Vec<BundleEntry>,
}

/// One entry of an [`AuditBundle`] with its claimed position and audit path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleEntry {
    /// Leaf index of the entry in the log (0-based).
    pub index: u64,
    /// The entry itself; its canonical encoding is what was hashed.
    pub entry: Entry,
    /// Audit path of `index` in the current head's tree (hex in JSON).
    #[serde(with = "hex32_vec")]
    pub inclusion_proof: Vec<merkle::Hash>,
}

impl AuditBundle {
    /// Parses the JSON form, rejecting unknown fields and any format but [`BUNDLE_FORMAT`].
    /// Signatures and proofs are not checked here (see [`verify_bundle`]).
    pub fn from_json(text: &str) -> Result<AuditBundle, AuditError> {
        let bundle: AuditBundle =
            serde_json::from_str(text).map_err(|e| AuditError::InvalidJson {
                what: "audit bundle",
                reason: e.to_string(),
            })?;
        if bundle.format != BUNDLE_FORMAT {
            return Err(AuditError::InvalidJson {
                what: "audit bundle",
                reason: format!(
                    "unsupported format `{}`, expected `{BUNDLE_FORMAT}`",
                    bundle.format
                ),
            });
        }
        Ok(bundle)
    }

    /// The JSON form, pretty-printed.
    pub fn to_json(&self) -> String {
        // Cannot fail: every field serializes to strings, numbers, arrays or string-keyed maps.
        serde_json::to_string_pretty(self).expect("audit bundle serializes")
    }

    /// Builds a bundle from a log's hash store: the consistency proof from `saved` to
    /// `current`, and an inclusion proof in `current` for each `(index, entry)`. The caller
    /// (the server) supplies the entries as stored; nothing is checked here.
    pub fn build<S: HashStore + ?Sized>(
        store: &S,
        public_key: [u8; 32],
        saved_head: SignedTreeHead,
        current_head: SignedTreeHead,
        entries: Vec<(u64, Entry)>,
    ) -> Result<AuditBundle, ProofError<S::Error>> {
        let (s1, s2) = (saved_head.head.size, current_head.head.size);
        let consistency_proof = if s1 == 0 {
            Vec::new()
        } else {
            merkle::consistency_proof(store, s1, s2)?
        };
        let entries = entries
            .into_iter()
            .map(|(index, entry)| {
                Ok(BundleEntry {
                    index,
                    inclusion_proof: merkle::inclusion_proof(store, index, s2)?,
                    entry,
                })
            })
            .collect::<Result<_, ProofError<S::Error>>>()?;
        Ok(AuditBundle {
            format: BUNDLE_FORMAT.to_string(),
            public_key,
            saved_head,
            current_head,
            consistency_proof,
            entries,
        })
    }
}

/// Outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// The check held.
    Pass,
    /// The check failed: the bundle is not trustworthy.
    Fail,
    /// The check was not applicable (e.g. no pinned key); does not fail the bundle.
    Skipped,
}

/// One line of a [`VerificationReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Stable check name: `public_key`, `saved_head_signature`, `current_head_signature`,
    /// `tree_size_order`, `consistency`, or `inclusion[<i>]` for the i-th bundle entry.
    pub name: String,
    /// Pass, fail or skipped.
    pub status: CheckStatus,
    /// What was checked, or why it failed.
    pub detail: String,
}

/// Every check run over a bundle, in the order of the module doc.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationReport {
    /// The checks, in order.
    pub checks: Vec<Check>,
}

impl VerificationReport {
    /// Whether no check failed (skipped checks do not count as failures).
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.status != CheckStatus::Fail)
    }

    /// The check with this name, if it ran.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    fn push(&mut self, name: impl Into<String>, result: Result<String, String>) {
        let (status, detail) = match result {
            Ok(d) => (CheckStatus::Pass, d),
            Err(d) => (CheckStatus::Fail, d),
        };
        self.checks.push(Check {
            name: name.into(),
            status,
            detail,
        });
    }
}

impl fmt::Display for VerificationReport {
    /// One line per check (`PASS name: detail`), then `verdict: pass` or `verdict: fail`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            let tag = match c.status {
                CheckStatus::Pass => "PASS",
                CheckStatus::Fail => "FAIL",
                CheckStatus::Skipped => "SKIP",
            };
            writeln!(f, "{tag} {}: {}", c.name, c.detail)?;
        }
        write!(
            f,
            "verdict: {}",
            if self.passed() { "pass" } else { "fail" }
        )
    }
}

fn short(h: &[u8]) -> String {
    hex::encode(h)
}

/// Runs every check of the module doc over `bundle`. `pinned_key` is the public key the auditor
/// trusts (from an earlier export); without it the bundle's own key is used and the
/// `public_key` check is skipped. Never fails: problems are failed checks in the report.
pub fn verify_bundle(bundle: &AuditBundle, pinned_key: Option<&[u8; 32]>) -> VerificationReport {
    let mut report = VerificationReport { checks: Vec::new() };
    let key = &bundle.public_key;
    match pinned_key {
        Some(pinned) => report.push(
            "public_key",
            if pinned == key {
                Ok(format!(
                    "bundle key `{}` is the pinned key",
                    short(&key_id(key))
                ))
            } else {
                Err(format!(
                    "bundle key `{}` is not the pinned key `{}`",
                    short(&key_id(key)),
                    short(&key_id(pinned))
                ))
            },
        ),
        None => report.checks.push(Check {
            name: "public_key".into(),
            status: CheckStatus::Skipped,
            detail: format!(
                "no pinned key given: trusting bundle key `{}`",
                short(&key_id(key))
            ),
        }),
    }
    let (old, new) = (&bundle.saved_head, &bundle.current_head);
    for (name, sth) in [
        ("saved_head_signature", old),
        ("current_head_signature", new),
    ] {
        report.push(
            name,
            verify_head(key, sth)
                .map(|()| {
                    format!(
                        "size {} root `{}` at {} ms signed by `{}`",
                        sth.head.size,
                        short(&sth.head.root),
                        sth.head.at_unix_ms,
                        short(&sth.key_id)
                    )
                })
                .map_err(|e| e.to_string()),
        );
    }
    let (s1, s2) = (old.head.size, new.head.size);
    report.push(
        "tree_size_order",
        if s2 >= s1 {
            Ok(format!("current size {s2} >= saved size {s1}"))
        } else {
            Err(format!(
                "current size {s2} is smaller than saved size {s1}: the log shrank"
            ))
        },
    );
    let consistency = if s1 == 0 {
        if old.head.root != EMPTY_ROOT {
            Err("saved head has size 0 but not the empty-tree root".to_string())
        } else if !bundle.consistency_proof.is_empty() {
            Err("proof must be empty from an empty saved tree".to_string())
        } else {
            Ok("saved log is empty: every log extends it".to_string())
        }
    } else {
        merkle::verify_consistency(
            s1,
            s2,
            &old.head.root,
            &new.head.root,
            &bundle.consistency_proof,
        )
        .map(|()| format!("tree of size {s2} extends tree of size {s1}"))
        .map_err(|e| format!("tree of size {s2} does not extend tree of size {s1}: {e}"))
    };
    report.push("consistency", consistency);
    for (i, be) in bundle.entries.iter().enumerate() {
        let result = be
            .entry
            .leaf_hash()
            .map_err(|e| e.to_string())
            .and_then(|leaf| {
                let what = format!(
                    "entry {} ({} of `{}`, leaf `{}`)",
                    be.index,
                    be.entry.kind.as_str(),
                    be.entry.subject,
                    short(&leaf)
                );
                merkle::verify_inclusion(be.index, s2, &leaf, &be.inclusion_proof, &new.head.root)
                    .map(|()| format!("{what} is in the tree of size {s2}"))
                    .map_err(|e| format!("{what} is not in the tree of size {s2}: {e}"))
            });
        report.push(format!("inclusion[{i}]"), result);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::entry::{payload_digest, EntryKind};
    use crate::audit::head::{Signer, TreeHead};
    use crate::audit::merkle::MemoryStore;

    fn entry(i: u64) -> Entry {
        Entry {
            kind: EntryKind::ALL[(i % 8) as usize],
            at_unix_ms: 1_700_000_000_000 + i as i64,
            actor: if i.is_multiple_of(3) {
                "system".into()
            } else {
                format!("tok-{i}")
            },
            subject: format!("enterprise/{i:018}"),
            payload_digest: payload_digest(&i.to_be_bytes()),
            details: [("n".to_string(), i.to_string())].into_iter().collect(),
        }
    }

    /// A log of `n` entries with a signed head at every size in `at`.
    struct Log {
        signer: Signer,
        entries: Vec<Entry>,
        store: MemoryStore,
    }

    impl Log {
        fn new(n: u64) -> Log {
            let mut log = Log {
                signer: Signer::from_seed([9; 32]),
                entries: Vec::new(),
                store: MemoryStore::new(),
            };
            for i in 0..n {
                let e = entry(i);
                log.store.push(e.leaf_hash().expect("leaf")).expect("push");
                log.entries.push(e);
            }
            log
        }

        fn head(&self, size: u64) -> SignedTreeHead {
            self.signer.sign(TreeHead {
                size,
                root: merkle::root(&self.store, size).expect("root"),
                at_unix_ms: 1_800_000_000_000 + size as i64,
            })
        }

        fn bundle(&self, old: u64, new: u64, indices: &[u64]) -> AuditBundle {
            AuditBundle::build(
                &self.store,
                self.signer.public_key_bytes(),
                self.head(old),
                self.head(new),
                indices
                    .iter()
                    .map(|&i| (i, self.entries[i as usize].clone()))
                    .collect(),
            )
            .expect("bundle")
        }
    }

    fn failed(report: &VerificationReport) -> Vec<&str> {
        report
            .checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .map(|c| c.name.as_str())
            .collect()
    }

    #[test]
    fn honest_log_verifies_at_many_sizes() {
        let log = Log::new(41);
        let pk = log.signer.public_key_bytes();
        let sizes = [0u64, 1, 2, 3, 7, 8, 9, 16, 17, 31, 32, 33, 40, 41];
        for (a, &old) in sizes.iter().enumerate() {
            for &new in &sizes[a..] {
                let indices: Vec<u64> = [0, new / 2, new.saturating_sub(1)]
                    .into_iter()
                    .filter(|&i| i < new)
                    .collect();
                let bundle = log.bundle(old, new, &indices);
                // Through JSON, as the CLI reads it.
                let parsed = AuditBundle::from_json(&bundle.to_json()).expect("parse");
                assert_eq!(parsed, bundle);
                let report = verify_bundle(&parsed, Some(&pk));
                assert!(report.passed(), "{old} -> {new}:\n{report}");
                assert_eq!(report.checks.len(), 5 + indices.len());
                assert!(report.checks.iter().all(|c| c.status == CheckStatus::Pass));
            }
        }
    }

    #[test]
    fn unpinned_key_is_skipped_not_failed() {
        let log = Log::new(5);
        let report = verify_bundle(&log.bundle(2, 5, &[1]), None);
        assert!(report.passed(), "{report}");
        assert_eq!(
            report.check("public_key").map(|c| c.status),
            Some(CheckStatus::Skipped)
        );
        assert!(report.to_string().contains("SKIP public_key"));
        assert!(report.to_string().ends_with("verdict: pass"));
    }

    #[test]
    fn tampered_entry_fails_inclusion_only() {
        let log = Log::new(20);
        let pk = log.signer.public_key_bytes();
        let mut bundle = log.bundle(10, 20, &[3, 15]);
        // One byte of the entry's subject changes (as if altered in storage).
        bundle.entries[1].entry.subject.replace_range(0..1, "E");
        let report = verify_bundle(&bundle, Some(&pk));
        assert_eq!(failed(&report), vec!["inclusion[1]"], "{report}");
        assert!(report.to_string().contains("root hash mismatch"));
        // Each field matters.
        let mut b = log.bundle(10, 20, &[3]);
        b.entries[0].entry.payload_digest[0] ^= 1;
        assert_eq!(failed(&verify_bundle(&b, Some(&pk))), vec!["inclusion[0]"]);
        let mut b = log.bundle(10, 20, &[3]);
        b.entries[0].entry.at_unix_ms += 1;
        assert_eq!(failed(&verify_bundle(&b, Some(&pk))), vec!["inclusion[0]"]);
        let mut b = log.bundle(10, 20, &[3]);
        b.entries[0].entry.details.clear();
        assert_eq!(failed(&verify_bundle(&b, Some(&pk))), vec!["inclusion[0]"]);
        // Right entry, wrong index; and a tampered proof.
        let mut b = log.bundle(10, 20, &[3]);
        b.entries[0].index = 4;
        assert_eq!(failed(&verify_bundle(&b, Some(&pk))), vec!["inclusion[0]"]);
        let mut b = log.bundle(10, 20, &[3]);
        b.entries[0].inclusion_proof[2][9] ^= 4;
        assert_eq!(failed(&verify_bundle(&b, Some(&pk))), vec!["inclusion[0]"]);
        // An oversized entry cannot even be encoded.
        let mut b = log.bundle(10, 20, &[3]);
        b.entries[0].entry.actor = "x".repeat(5000);
        let report = verify_bundle(&b, Some(&pk));
        assert_eq!(failed(&report), vec!["inclusion[0]"]);
        assert!(report.to_string().contains("too large"));
    }

    #[test]
    fn tampered_byte_in_canonical_encoding_changes_the_leaf() {
        // Every single-byte change of the stored encoding either fails to decode or changes
        // the leaf hash, so the inclusion check catches it.
        let log = Log::new(6);
        let original = log.entries[4].encode().expect("encode");
        let proof = merkle::inclusion_proof(&log.store, 4, 6).expect("proof");
        let root = merkle::root(&log.store, 6).expect("root");
        for i in 0..original.len() {
            let mut bytes = original.clone();
            bytes[i] ^= 0x01;
            if let Ok(e) = Entry::decode(&bytes) {
                let leaf = e.leaf_hash().expect("leaf");
                assert!(merkle::verify_inclusion(4, 6, &leaf, &proof, &root).is_err());
            }
        }
    }

    #[test]
    fn rewritten_history_fails_consistency() {
        let log = Log::new(30);
        let pk = log.signer.public_key_bytes();
        let saved = log.head(12);
        // The service rewrites entry 5 (e.g. drops an enterprise from a draw) and re-signs.
        let mut forged = Log::new(0);
        forged.signer = Signer::from_seed([9; 32]);
        for (i, e) in log.entries.iter().enumerate() {
            let mut e = e.clone();
            if i == 5 {
                e.details.insert("n".into(), "rewritten".into());
            }
            forged
                .store
                .push(e.leaf_hash().expect("leaf"))
                .expect("push");
            forged.entries.push(e);
        }
        let mut bundle = forged.bundle(12, 30, &[5, 20]);
        bundle.saved_head = saved;
        let report = verify_bundle(&bundle, Some(&pk));
        assert_eq!(failed(&report), vec!["consistency"], "{report}");
        // The auditor's own copy of entry 5 is not in the new tree either.
        bundle.entries[0].entry = log.entries[5].clone();
        let report = verify_bundle(&bundle, Some(&pk));
        assert_eq!(
            failed(&report),
            vec!["consistency", "inclusion[0]"],
            "{report}"
        );
        // A log that shrank, and a saved head claiming a bigger size.
        let mut b = log.bundle(12, 30, &[]);
        b.current_head = log.head(10);
        let report = verify_bundle(&b, Some(&pk));
        assert_eq!(
            failed(&report),
            vec!["tree_size_order", "consistency"],
            "{report}"
        );
    }

    #[test]
    fn signatures_and_keys_are_checked() {
        let log = Log::new(10);
        let pk = log.signer.public_key_bytes();
        let mut b = log.bundle(4, 10, &[1]);
        b.saved_head.head.at_unix_ms += 1;
        assert_eq!(
            failed(&verify_bundle(&b, Some(&pk))),
            vec!["saved_head_signature"]
        );
        let mut b = log.bundle(4, 10, &[1]);
        b.current_head.signature[0] ^= 1;
        assert_eq!(
            failed(&verify_bundle(&b, Some(&pk))),
            vec!["current_head_signature"]
        );
        // An impostor re-signs everything with its own key and ships that key: self-consistent,
        // but not the pinned key.
        let impostor = Signer::from_seed([10; 32]);
        let mut b = log.bundle(4, 10, &[1]);
        b.public_key = impostor.public_key_bytes();
        b.saved_head = impostor.sign(b.saved_head.head);
        b.current_head = impostor.sign(b.current_head.head);
        assert!(verify_bundle(&b, None).passed());
        assert_eq!(failed(&verify_bundle(&b, Some(&pk))), vec!["public_key"]);
    }

    #[test]
    fn empty_saved_head() {
        let log = Log::new(5);
        let pk = log.signer.public_key_bytes();
        assert!(verify_bundle(&log.bundle(0, 5, &[0]), Some(&pk)).passed());
        assert!(verify_bundle(&log.bundle(0, 0, &[]), Some(&pk)).passed());
        let mut b = log.bundle(0, 5, &[]);
        b.consistency_proof.push([0; 32]);
        assert_eq!(failed(&verify_bundle(&b, Some(&pk))), vec!["consistency"]);
        let mut b = log.bundle(0, 5, &[]);
        b.saved_head = log.signer.sign(TreeHead {
            size: 0,
            root: [1; 32],
            at_unix_ms: 0,
        });
        assert_eq!(failed(&verify_bundle(&b, Some(&pk))), vec!["consistency"]);
    }

    #[test]
    fn bundle_json_is_strict() {
        let log = Log::new(4);
        let json = log.bundle(2, 4, &[1]).to_json();
        let mut v: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(v["format"], BUNDLE_FORMAT);
        assert_eq!(v["entries"][0]["entry"]["kind"], "rule_set_activated");
        let reparse = |v: &serde_json::Value| AuditBundle::from_json(&v.to_string());
        let mut w = v.clone();
        w["format"] = serde_json::json!("creditrisk-audit-bundle/2");
        assert!(reparse(&w)
            .expect_err("format")
            .to_string()
            .contains("unsupported format `creditrisk-audit-bundle/2`"));
        let mut w = v.clone();
        w["entries"][0]["proof"] = serde_json::json!([]);
        assert!(reparse(&w).is_err());
        let mut w = v.clone();
        w["consistency_proof"][0] = serde_json::json!("00");
        assert!(reparse(&w)
            .expect_err("hash")
            .to_string()
            .contains("`proof hash` must be 64 hex digits"));
        let mut w = v.clone();
        w["public_key"] = serde_json::json!("AAAA");
        assert!(reparse(&w).is_err());
        // `entries` may be omitted.
        v.as_object_mut().expect("object").remove("entries");
        assert!(reparse(&v).expect("no entries").entries.is_empty());
    }
}
