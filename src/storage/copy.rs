//! Moving a whole store between engines (`creditrisk store copy`): every key in key order, in
//! bounded batches, then a check that both sides hold the same number of keys and the same
//! audit log (size and Merkle root, each recomputed from the stored tree).

use super::engine::{Engine, Op};
use super::{LogReader, Records};
use crate::error::{Error, Result};
use std::sync::Arc;

/// Keys per copied batch at most.
pub const MAX_BATCH_KEYS: usize = 100_000;
/// Bytes (keys and values) per copied batch at most, whatever the key count.
const MAX_BATCH_BYTES: usize = 16 << 20;

/// What a copy moved and checked.
#[derive(Debug, PartialEq, Eq)]
pub struct Copied {
    /// Keys copied (and counted on both sides).
    pub keys: u64,
    /// Audit log size, equal on both sides.
    pub log_size: u64,
    /// Audit log root (hex), equal on both sides.
    pub log_root: String,
}

/// The audit log's size and root of a store, recomputed from its stored tree.
pub fn log_summary(engine: Arc<dyn Engine>) -> Result<(u64, String)> {
    let records = Records::open(engine)?;
    let reader = LogReader::new(&records);
    let size = reader.frontier()?.size();
    let root = crate::audit::merkle::root(&reader, size)?;
    Ok((size, hex::encode(root)))
}

/// Copies every key of `from` into `to`, which must be empty, `batch_keys` keys per batch
/// (1 ..= [`MAX_BATCH_KEYS`]), then checks key counts and the audit log on both sides.
/// `progress` is called with the keys copied so far after each batch.
pub fn copy(
    from: Arc<dyn Engine>,
    to: Arc<dyn Engine>,
    batch_keys: usize,
    mut progress: impl FnMut(u64),
) -> Result<Copied> {
    if batch_keys == 0 || batch_keys > MAX_BATCH_KEYS {
        return Err(Error::invalid(
            "batch",
            format!("`{batch_keys}` should be 1 to {MAX_BATCH_KEYS}"),
        ));
    }
    if to.scan(b"", None).next().transpose()?.is_some() {
        return Err(Error::FailedPrecondition(
            "the target store is not empty: copy only into a new one".into(),
        ));
    }
    let mut keys = 0u64;
    let mut batch = Vec::with_capacity(batch_keys.min(4096));
    let mut bytes = 0usize;
    for kv in from.scan(b"", None) {
        let (k, v) = kv?;
        bytes += k.len() + v.len();
        batch.push(Op::Put(k, v));
        if batch.len() >= batch_keys || bytes >= MAX_BATCH_BYTES {
            keys += batch.len() as u64;
            to.apply(std::mem::take(&mut batch))?;
            bytes = 0;
            progress(keys);
        }
    }
    if !batch.is_empty() {
        keys += batch.len() as u64;
        to.apply(batch)?;
        progress(keys);
    }
    to.flush()?;
    // The check: both sides counted again, and the log's root recomputed on each.
    let count = |e: &Arc<dyn Engine>| -> Result<u64> {
        let mut n = 0u64;
        for kv in e.scan(b"", None) {
            kv?;
            n += 1;
        }
        Ok(n)
    };
    let (source_keys, target_keys) = (count(&from)?, count(&to)?);
    if source_keys != keys || target_keys != keys {
        return Err(Error::Storage(format!(
            "key counts differ after the copy: copied {keys}, source holds {source_keys}, \
             target holds {target_keys} (was the source written to meanwhile?)"
        )));
    }
    let (size, root) = log_summary(from)?;
    let (to_size, to_root) = log_summary(to)?;
    if (size, &root) != (to_size, &to_root) {
        return Err(Error::Storage(format!(
            "audit logs differ after the copy: source size {size} root {root}, \
             target size {to_size} root {to_root}"
        )));
    }
    Ok(Copied {
        keys,
        log_size: size,
        log_root: root,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryEngine;

    #[test]
    fn copies_everything_and_refuses_a_full_target() {
        let from: Arc<dyn Engine> = Arc::new(MemoryEngine::default());
        from.apply(
            (0u32..2500)
                .map(|i| Op::Put(i.to_be_bytes().to_vec(), vec![1; 10]))
                .collect(),
        )
        .unwrap();
        let to: Arc<dyn Engine> = Arc::new(MemoryEngine::default());
        let mut seen = vec![];
        let c = copy(from.clone(), to.clone(), 1000, |n| seen.push(n)).unwrap();
        assert_eq!(c.keys, 2500);
        assert_eq!(seen, [1000, 2000, 2500]);
        assert_eq!(c.log_size, 0);
        let e = copy(from, to, 1000, |_| {}).unwrap_err().to_string();
        assert!(e.contains("not empty"), "{e}");
    }
}
