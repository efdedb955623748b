//! `creditrisk store copy`: moves a whole store between backends (sled and PostgreSQL) with
//! [`crate::storage::copy`], checking the audit log on both sides afterwards.

use crate::storage::{open_engine, Location};

/// Copies the store at `from` into the empty store at `to` and prints what was checked.
pub fn copy(from: &str, to: &str, batch: usize) -> anyhow::Result<()> {
    let from_at = Location::parse(from).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    let to_at = Location::parse(to).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    if from_at == to_at {
        anyhow::bail!("--from and --to name the same store `{from_at}`");
    }
    if let Location::Sled(dir) = &from_at {
        if !dir.join("db").exists() {
            anyhow::bail!(
                "--from: no sled store in `{}` (expected `{}/db`)",
                dir.display(),
                dir.display()
            );
        }
    }
    let source = open_engine(&from_at, 256 << 20)
        .map_err(|e| anyhow::anyhow!("cannot open `{from_at}`: {e}"))?;
    let target = open_engine(&to_at, 256 << 20)
        .map_err(|e| anyhow::anyhow!("cannot open `{to_at}`: {e}"))?;
    let started = std::time::Instant::now();
    let copied = crate::storage::copy::copy(source, target, batch, |n| {
        if n % 1_000_000 < batch as u64 {
            eprintln!("{n} keys copied");
        }
    })
    .map_err(|e| anyhow::anyhow!("copying `{from_at}` to `{to_at}`: {e}"))?;
    println!(
        "copied {} keys from {from_at} to {to_at} in {:.1} s; audit log size {} root {} on both sides",
        copied.keys,
        started.elapsed().as_secs_f64(),
        copied.log_size,
        copied.log_root
    );
    Ok(())
}
