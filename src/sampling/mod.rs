//! Sampling algorithms whose output anyone can recompute with public tools.

pub mod consistent;
pub mod order;

/// For tests that cross-check with the public Python package: `Err` with the reason when
/// `python3` cannot import `consistent_sampler` (the test then prints SKIPPED with it).
#[cfg(test)]
pub(crate) fn python_package() -> Result<(), String> {
    match std::process::Command::new("python3")
        .args(["-c", "import consistent_sampler"])
        .output()
    {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "consistent_sampler not importable: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run python3: {e}")),
    }
}

pub use consistent::{first_ticket, sample, SampleError, SeedHash, Ticket};
pub use order::smallest;
