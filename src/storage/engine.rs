//! The key-value engine under the record store.
//!
//! Contract of every [`Engine`]:
//! - **ordering**: keys are ordered bytewise; scans return keys in increasing order;
//! - **atomicity**: [`Engine::apply`] applies all of a batch or none of it, also across a crash;
//! - **durability**: a batch is durable once a later [`Engine::flush`] returns; until then it may
//!   be visible to readers but can be lost in a crash (callers acknowledge only after a flush:
//!   this is what makes group commit possible);
//! - **concurrency**: any number of readers run concurrently with one writer; a reader sees each
//!   batch entirely or not at all for single keys, but a scan may see a batch applied midway
//!   through it. Writers must be serialised by the caller (the record store has one writer
//!   thread).

use crate::error::Result;

/// One change of a batch.
#[derive(Clone, Debug)]
pub enum Op {
    /// Set key to value.
    Put(Vec<u8>, Vec<u8>),
    /// Remove key.
    Delete(Vec<u8>),
}

/// Key-value pairs from a scan.
pub type KvIter<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + Send + 'a>;

/// An ordered, atomic, durable-on-flush key-value engine.
pub trait Engine: Send + Sync + 'static {
    /// The value of `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Pairs whose key starts with `prefix` and is strictly greater than `after` (if given), in
    /// key order.
    fn scan<'a>(&'a self, prefix: &[u8], after: Option<&[u8]>) -> KvIter<'a>;
    /// Pairs with key starting with `prefix`, in decreasing key order.
    fn scan_rev<'a>(&'a self, prefix: &[u8]) -> KvIter<'a>;
    /// Pairs with `from <= key < to`, in key order.
    fn range<'a>(&'a self, from: &[u8], to: &[u8]) -> KvIter<'a>;
    /// The pair with the greatest key in `from <= key < to`, if any.
    fn last_in(&self, from: &[u8], to: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>>;
    /// Applies the batch atomically (not yet durable).
    fn apply(&self, batch: Vec<Op>) -> Result<()>;
    /// Makes every applied batch durable.
    fn flush(&self) -> Result<()>;
    /// Bytes the engine occupies on disk, if it keeps any (for metrics).
    fn size_on_disk(&self) -> Result<Option<u64>> {
        Ok(None)
    }
}

/// sled, the default engine: one tree, so one batch is atomic across all key kinds.
pub struct SledEngine {
    db: sled::Db,
    tree: sled::Tree,
}

impl SledEngine {
    /// Opens (or creates) the database in `dir` with a page cache of `cache_bytes`.
    pub fn open(dir: &std::path::Path, cache_bytes: u64) -> Result<SledEngine> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            // Durability comes from explicit flushes before acknowledging; the periodic
            // background flush only bounds how much un-acknowledged work a crash loses.
            .flush_every_ms(Some(1000))
            .open()?;
        let tree = db.open_tree("records")?;
        Ok(SledEngine { db, tree })
    }

    /// The underlying database, for tools that open other trees (tests alter data through it).
    pub fn db(&self) -> &sled::Db {
        &self.db
    }
}

fn kv(r: sled::Result<(sled::IVec, sled::IVec)>) -> Result<(Vec<u8>, Vec<u8>)> {
    let (k, v) = r?;
    Ok((k.to_vec(), v.to_vec()))
}

impl Engine for SledEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }

    fn scan<'a>(&'a self, prefix: &[u8], after: Option<&[u8]>) -> KvIter<'a> {
        let prefix = prefix.to_vec();
        match after {
            Some(a) => {
                let p = prefix.clone();
                let start = std::ops::Bound::Excluded(a.to_vec());
                Box::new(
                    self.tree
                        .range::<Vec<u8>, _>((start, std::ops::Bound::Unbounded))
                        .take_while(move |r| r.as_ref().map_or(true, |(k, _)| k.starts_with(&p)))
                        .map(kv),
                )
            }
            None => Box::new(self.tree.scan_prefix(prefix).map(kv)),
        }
    }

    fn scan_rev<'a>(&'a self, prefix: &[u8]) -> KvIter<'a> {
        Box::new(self.tree.scan_prefix(prefix).rev().map(kv))
    }

    fn range<'a>(&'a self, from: &[u8], to: &[u8]) -> KvIter<'a> {
        Box::new(self.tree.range(from.to_vec()..to.to_vec()).map(kv))
    }

    fn last_in(&self, from: &[u8], to: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.tree
            .range(from.to_vec()..to.to_vec())
            .next_back()
            .map(kv)
            .transpose()
    }

    fn apply(&self, batch: Vec<Op>) -> Result<()> {
        let mut b = sled::Batch::default();
        for op in batch {
            match op {
                Op::Put(k, v) => b.insert(k, v),
                Op::Delete(k) => b.remove(k),
            }
        }
        self.tree.apply_batch(b)?;
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    fn size_on_disk(&self) -> Result<Option<u64>> {
        Ok(Some(self.db.size_on_disk()?))
    }
}

/// An in-memory engine for tests of the layers above; `flush` does nothing.
#[derive(Default)]
pub struct MemoryEngine {
    map: std::sync::RwLock<std::collections::BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryEngine {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, std::collections::BTreeMap<Vec<u8>, Vec<u8>>> {
        // Poisoning needs a panic inside `apply`, whose loop cannot panic; recover the guard.
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl Engine for MemoryEngine {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.read().get(key).cloned())
    }

    fn scan<'a>(&'a self, prefix: &[u8], after: Option<&[u8]>) -> KvIter<'a> {
        let map = self.read();
        let items: Vec<_> = map
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| after.is_none_or(|a| k.as_slice() > a))
            .map(|(k, v)| Ok((k.clone(), v.clone())))
            .collect();
        Box::new(items.into_iter())
    }

    fn scan_rev<'a>(&'a self, prefix: &[u8]) -> KvIter<'a> {
        let mut items: Vec<_> = self.scan(prefix, None).collect();
        items.reverse();
        Box::new(items.into_iter())
    }

    fn range<'a>(&'a self, from: &[u8], to: &[u8]) -> KvIter<'a> {
        let items: Vec<_> = self
            .read()
            .range(from.to_vec()..to.to_vec())
            .map(|(k, v)| Ok((k.clone(), v.clone())))
            .collect();
        Box::new(items.into_iter())
    }

    fn last_in(&self, from: &[u8], to: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        Ok(self
            .read()
            .range(from.to_vec()..to.to_vec())
            .next_back()
            .map(|(k, v)| (k.clone(), v.clone())))
    }

    fn apply(&self, batch: Vec<Op>) -> Result<()> {
        // Readers take the lock, so they see the batch entirely or not at all.
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        for op in batch {
            match op {
                Op::Put(k, v) => {
                    map.insert(k, v);
                }
                Op::Delete(k) => {
                    map.remove(&k);
                }
            }
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }
}
