//! Offline verification commands: no server, only the file an auditor or a member of the
//! public holds.

use anyhow::Context;
use std::path::Path;

/// `draw verify BUNDLE`: re-runs a draw from its publication bundle and compares every field.
pub fn draw(path: &Path) -> anyhow::Result<bool> {
    let json = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    match crate::draw::verify_bundle(&json) {
        Ok(r) => {
            println!(
                "draw `{}` verified: {} candidates (digest {}), roster digest {}, {} selected, {} staffed, {} unstaffed",
                r.draw_id, r.candidates, r.candidate_digest, r.roster_digest, r.selected, r.staffed, r.unstaffed
            );
            Ok(true)
        }
        Err(e) => {
            println!("draw bundle does NOT verify: {e}");
            Ok(false)
        }
    }
}

/// `audit verify BUNDLE [--public-key HEX]`: checks signatures, consistency and inclusions.
pub fn audit(path: &Path, public_key_hex: Option<&str>) -> anyhow::Result<bool> {
    let json = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    let bundle = crate::audit::AuditBundle::from_json(&json).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pinned = match public_key_hex {
        Some(h) => {
            let b = hex::decode(h).with_context(|| format!("`{h}` is not hex"))?;
            let k: [u8; 32] = b
                .try_into()
                .map_err(|_| anyhow::anyhow!("a public key has 32 bytes"))?;
            Some(k)
        }
        None => None,
    };
    let report = crate::audit::verify_bundle(&bundle, pinned.as_ref());
    println!("{report}");
    Ok(report.passed())
}
