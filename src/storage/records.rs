//! Typed reads of the record store. Writes go through the single writer ([`super::Writer`]).

use super::codec::decode;
use super::engine::Engine;
use super::event_ids::EventIds;
use super::keys::{code_in, prefix, trailing_seq, Key};
use crate::domain::{
    CreditCode, EnterpriseVersion, EntityKind, InspectorVersion, Status, StoredEvent,
};
use crate::error::{Error, Result};
use std::sync::Arc;

/// How many keys a filtered list call examines at most before it returns a short page with a
/// continuation token, so that a rare filter cannot make one call scan millions of records.
pub const SCAN_BUDGET: usize = 20_000;

/// Filters for listing enterprises, combined with AND.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnterpriseFilter {
    /// Exact jurisdiction (uses the jurisdiction index).
    pub jurisdiction: Option<String>,
    /// GB/T 4754 section letter.
    pub industry_section: Option<String>,
    /// Entity kind.
    pub kind: Option<EntityKind>,
    /// Status.
    pub status: Option<Status>,
}

impl EnterpriseFilter {
    /// True when the enterprise passes every filter.
    pub fn matches(&self, e: &crate::domain::Enterprise) -> bool {
        self.jurisdiction
            .as_ref()
            .is_none_or(|j| *j == e.jurisdiction)
            && self
                .industry_section
                .as_ref()
                .is_none_or(|s| s == e.industry_section())
            && self.kind.is_none_or(|k| k == e.kind)
            && self.status.is_none_or(|s| s == e.status)
    }
}

/// Filters for listing inspectors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InspectorFilter {
    /// Department id.
    pub department: Option<String>,
    /// Covers this jurisdiction.
    pub jurisdiction: Option<String>,
    /// Only active inspectors.
    pub active_only: bool,
}

/// A page of results and where the next one starts (`None`: no more).
#[derive(Debug)]
pub struct Page<T, C> {
    /// The items.
    pub items: Vec<T>,
    /// Continue after this position.
    pub next: Option<C>,
}

/// Read access to stored records. Cheap to clone; safe to use from many threads.
#[derive(Clone)]
pub struct Records {
    engine: Arc<dyn Engine>,
    event_ids: EventIds,
}

impl Records {
    /// Reads through `engine`, loading the event-id index from it.
    pub fn open(engine: Arc<dyn Engine>) -> Result<Self> {
        let event_ids = EventIds::load(engine.as_ref())?;
        Ok(Records { engine, event_ids })
    }

    /// The engine, for modules that keep their own records (classifications, rule sets).
    pub fn engine(&self) -> &Arc<dyn Engine> {
        &self.engine
    }

    /// The in-memory event-id index (the writer adds to it as it commits).
    pub fn event_ids(&self) -> &EventIds {
        &self.event_ids
    }

    /// The current version of an enterprise.
    pub fn enterprise(&self, code: &CreditCode) -> Result<Option<EnterpriseVersion>> {
        let key = Key::Enterprise(*code);
        self.engine
            .get(&key.encode())?
            .map(|v| decode(&v, &format_args!("enterprise `{code}`")))
            .transpose()
    }

    /// The version of an enterprise that was current after ingest sequence number `seq`.
    pub fn enterprise_as_of(
        &self,
        code: &CreditCode,
        seq: u64,
    ) -> Result<Option<EnterpriseVersion>> {
        if let Some(cur) = self.enterprise(code)? {
            if cur.seq <= seq {
                return Ok(Some(cur));
            }
        }
        for kv in self.engine.scan_rev(&prefix::enterprise_history(code)) {
            let (k, v) = kv?;
            if trailing_seq(&k).is_some_and(|s| s <= seq) {
                return decode(&v, &format_args!("enterprise `{code}` history")).map(Some);
            }
        }
        Ok(None)
    }

    /// Enterprises in credit-code order after `after`, filtered, at most `limit`.
    pub fn list_enterprises(
        &self,
        filter: &EnterpriseFilter,
        after: Option<CreditCode>,
        limit: usize,
    ) -> Result<Page<EnterpriseVersion, CreditCode>> {
        let mut items = Vec::new();
        let mut scanned = 0usize;
        if let Some(j) = &filter.jurisdiction {
            let p = prefix::jurisdiction(j);
            let after_key = after.map(|c| Key::Jurisdiction(j, c).encode());
            for kv in self.engine.scan(&p, after_key.as_deref()) {
                let (k, _) = kv?;
                let code =
                    code_in(&k).ok_or_else(|| Error::Corrupt("jurisdiction index key".into()))?;
                scanned += 1;
                if let Some(e) = self.enterprise(&code)? {
                    if filter.matches(&e.enterprise) {
                        items.push(e);
                    }
                }
                if items.len() >= limit || scanned >= SCAN_BUDGET {
                    return Ok(Page {
                        items,
                        next: Some(code),
                    });
                }
            }
        } else {
            let after_key = after.map(|c| Key::Enterprise(c).encode());
            for kv in self
                .engine
                .scan(&prefix::enterprises(), after_key.as_deref())
            {
                let (k, v) = kv?;
                let code = code_in(&k).ok_or_else(|| Error::Corrupt("enterprise key".into()))?;
                scanned += 1;
                let e: EnterpriseVersion = decode(&v, &format_args!("enterprise `{code}`"))?;
                if filter.matches(&e.enterprise) {
                    items.push(e);
                }
                if items.len() >= limit || scanned >= SCAN_BUDGET {
                    return Ok(Page {
                        items,
                        next: Some(code),
                    });
                }
            }
        }
        Ok(Page { items, next: None })
    }

    /// Enterprises whose current legal representative is `rep` (a pseudonym), in code order.
    pub fn enterprises_of_rep(&self, rep: &str) -> Result<Vec<CreditCode>> {
        let mut out = Vec::new();
        for kv in self.engine.scan(&prefix::legal_rep(rep), None) {
            let (k, _) = kv?;
            out.push(code_in(&k).ok_or_else(|| Error::Corrupt("legal-rep index key".into()))?);
        }
        Ok(out)
    }

    /// Events of an enterprise with seq greater than `after_seq`, in ingest order, at most
    /// `limit`.
    pub fn events_of(
        &self,
        code: &CreditCode,
        after_seq: Option<u64>,
        limit: usize,
    ) -> Result<Page<StoredEvent, u64>> {
        let after_key = after_seq.map(|s| Key::Event(*code, s).encode());
        let mut items = Vec::new();
        for kv in self
            .engine
            .scan(&prefix::events_of(code), after_key.as_deref())
        {
            let (k, v) = kv?;
            let seq = trailing_seq(&k).ok_or_else(|| Error::Corrupt("event key".into()))?;
            items.push(decode(&v, &format_args!("event {seq} of `{code}`"))?);
            if items.len() >= limit {
                return Ok(Page {
                    items,
                    next: Some(seq),
                });
            }
        }
        Ok(Page { items, next: None })
    }

    /// A page of an enterprise's events, newest (highest seq) first, each with seq below
    /// `before` (all when `None`); at most `limit`, with the last seq as `next` when more may
    /// follow. One ordered point lookup per event returned, however many events there are.
    pub fn events_of_newest_first(
        &self,
        code: &CreditCode,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Page<StoredEvent, u64>> {
        let from = prefix::events_of(code);
        let mut to = Key::Event(*code, before.unwrap_or(u64::MAX)).encode();
        let mut items: Vec<StoredEvent> = Vec::new();
        while let Some((k, v)) = self.engine.last_in(&from, &to)? {
            let seq = trailing_seq(&k).ok_or_else(|| Error::Corrupt("event key".into()))?;
            items.push(decode(&v, &format_args!("event {seq} of `{code}`"))?);
            if items.len() >= limit {
                let more = seq > 0 && self.engine.last_in(&from, &k)?.is_some();
                return Ok(Page {
                    items,
                    next: more.then_some(seq),
                });
            }
            to = k;
        }
        Ok(Page { items, next: None })
    }

    /// Every event of an enterprise with seq at most `up_to`, in ingest order.
    pub fn all_events_of(&self, code: &CreditCode, up_to: u64) -> Result<Vec<StoredEvent>> {
        let mut out = Vec::new();
        for kv in self.engine.scan(&prefix::events_of(code), None) {
            let (k, v) = kv?;
            if trailing_seq(&k).is_some_and(|s| s > up_to) {
                break;
            }
            out.push(decode(&v, &format_args!("event of `{code}`"))?);
        }
        Ok(out)
    }

    /// Where an event id is stored: its enterprise and seq.
    pub fn event_location(&self, event_id: &str) -> Result<Option<(CreditCode, u64)>> {
        self.event_ids.locate(self.engine.as_ref(), event_id)
    }

    /// An event by its id.
    pub fn event(&self, event_id: &str) -> Result<Option<StoredEvent>> {
        let Some((code, seq)) = self.event_location(event_id)? else {
            return Ok(None);
        };
        match self.engine.get(&Key::Event(code, seq).encode())? {
            Some(v) => decode(&v, &format_args!("event `{event_id}`")).map(Some),
            None => Err(Error::Corrupt(format!(
                "event `{event_id}` is indexed at seq {seq} but missing"
            ))),
        }
    }

    /// The current version of an inspector.
    pub fn inspector(&self, id: &str) -> Result<Option<InspectorVersion>> {
        self.engine
            .get(&Key::Inspector(id).encode())?
            .map(|v| decode(&v, &format_args!("inspector `{id}`")))
            .transpose()
    }

    /// Inspectors in id order after `after`, filtered, at most `limit`.
    pub fn list_inspectors(
        &self,
        filter: &InspectorFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<InspectorVersion, String>> {
        let after_key = after.map(|a| Key::Inspector(a).encode());
        let mut items = Vec::new();
        let mut scanned = 0;
        for kv in self
            .engine
            .scan(&prefix::inspectors(), after_key.as_deref())
        {
            let (_, v) = kv?;
            let iv: InspectorVersion = decode(&v, &"inspector")?;
            scanned += 1;
            let last = iv.inspector.inspector_id.clone();
            let i = &iv.inspector;
            let ok = filter
                .department
                .as_ref()
                .is_none_or(|d| *d == i.department)
                && filter
                    .jurisdiction
                    .as_ref()
                    .is_none_or(|j| i.jurisdictions.contains(j))
                && (!filter.active_only || i.active);
            if ok {
                items.push(iv);
            }
            if items.len() >= limit || scanned >= SCAN_BUDGET {
                return Ok(Page {
                    items,
                    next: Some(last),
                });
            }
        }
        Ok(Page { items, next: None })
    }

    /// The next ingest sequence number to be assigned (1 on an empty store).
    pub fn next_seq(&self) -> Result<u64> {
        match self.engine.get(&Key::Meta("next_seq").encode())? {
            Some(v) => v
                .as_slice()
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| Error::Corrupt("meta `next_seq`".into())),
            None => Ok(1),
        }
    }

    /// A metadata value.
    pub fn meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.engine.get(&Key::Meta(name).encode())
    }
}
