//! Reading what a classification needs from a consistent snapshot: the enterprise version and
//! its events up to the snapshot's ingest seq (the "cut"), and the relation features of its
//! legal representative, computed as [`crate::rules::Relations`] documents.

use crate::domain::{CreditCode, Date, EnterpriseVersion, StoredEvent};
use crate::error::{Error, Result};
use crate::rules::{compute, FeatureInput, FeatureVector, Relations, RepContribution};
use crate::storage::codec::decode;
use crate::storage::keys::{code_in, prefix, trailing_seq};
use crate::storage::Key;
use crate::storage::{EventSegments, Records};
use std::collections::HashMap;

/// The records of one enterprise at a cut.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// The enterprise version in force at the cut.
    pub version: EnterpriseVersion,
    /// Its events with seq at most the cut.
    pub events: Vec<StoredEvent>,
    /// Relation features.
    pub relations: Relations,
    /// Ingest seq of the newest record read (enterprise version, events, related enterprises).
    pub data_seq: u64,
}

/// Reads the inputs of `code` at `cut`; `None` when the enterprise did not exist then.
///
/// Related enterprises are found through the current legal-representative index and kept only
/// if, at the cut, they had the same representative. (An enterprise whose representative has
/// changed since the cut is not found for the old one: a known limitation of the index.)
pub fn gather(
    records: &Records,
    code: &CreditCode,
    cut: u64,
    as_of: Date,
) -> Result<Option<Inputs>> {
    let Some(version) = records.enterprise_as_of(code, cut)? else {
        return Ok(None);
    };
    let events = records.all_events_of(code, cut)?;
    let siblings = records.enterprises_of_rep(&version.enterprise.legal_representative)?;
    assemble(records, version, events, &siblings, cut, as_of, None).map(Some)
}

/// An enterprise's share in its legal representative's relation features, at one cut and date.
#[derive(Clone, Debug)]
struct Share {
    rep: String,
    contribution: RepContribution,
    data_seq: u64,
}

impl Share {
    fn of(version: &EnterpriseVersion, events: &[StoredEvent], as_of: Date) -> Share {
        let f = compute(
            &FeatureInput {
                enterprise: &version.enterprise,
                events,
                relations: Relations::default(),
            },
            as_of,
        );
        Share {
            rep: version.enterprise.legal_representative.clone(),
            contribution: RepContribution::of(&f),
            data_seq: version.seq.max(events.last().map_or(0, |e| e.seq)),
        }
    }
}

/// The shares of every enterprise whose representative has others, computed once for a batch
/// (`None`: the enterprise did not exist at the cut), so that relation features cost no
/// lookups per enterprise.
#[derive(Debug, Default)]
pub struct Shares(HashMap<CreditCode, Option<Share>>);

impl Shares {
    /// Reads every enterprise of `reps` at `cut` (events from `segments` when given) and
    /// computes its share as of `as_of`, on every core.
    pub fn load(
        records: &Records,
        reps: &RepIndex,
        segments: Option<&EventSegments>,
        cut: u64,
        as_of: Date,
    ) -> Result<Shares> {
        let mut members: Vec<CreditCode> = reps.shared.values().flatten().copied().collect();
        members.sort_unstable();
        members.dedup();
        let parts = super::batch::parallel_parts(&members, |part| {
            let mut events = match segments {
                Some(s) => s.events_of(records.engine().as_ref(), part)?,
                None => part
                    .iter()
                    .map(|c| Ok((*c, records.all_events_of(c, cut)?)))
                    .collect::<Result<Vec<_>>>()?,
            }
            .into_iter()
            .peekable();
            let mut out = Vec::with_capacity(part.len());
            for code in part {
                let evs = events
                    .next_if(|(c, _)| c == code)
                    .map(|(_, e)| e)
                    .unwrap_or_default();
                let share = records
                    .enterprise_as_of(code, cut)?
                    .map(|v| Share::of(&v, &evs, as_of));
                out.push((*code, share));
            }
            Ok(out)
        })?;
        Ok(Shares(parts.into_iter().collect()))
    }
}

fn assemble(
    records: &Records,
    version: EnterpriseVersion,
    events: Vec<StoredEvent>,
    siblings: &[CreditCode],
    cut: u64,
    as_of: Date,
    shares: Option<&Shares>,
) -> Result<Inputs> {
    let code = version.enterprise.credit_code;
    let mut data_seq = version.seq.max(events.last().map_or(0, |e| e.seq));
    let rep = &version.enterprise.legal_representative;
    let mut others = RepContribution::default();
    for sibling in siblings {
        if *sibling == code {
            continue;
        }
        let share = match shares.and_then(|s| s.0.get(sibling)) {
            Some(known) => known.clone(),
            None => match records.enterprise_as_of(sibling, cut)? {
                Some(sv) => Some(Share::of(&sv, &records.all_events_of(sibling, cut)?, as_of)),
                None => None,
            },
        };
        let Some(share) = share else { continue };
        if share.rep != *rep {
            continue;
        }
        data_seq = data_seq.max(share.data_seq);
        others.add(&share.contribution);
    }
    Ok(Inputs {
        version,
        events,
        relations: Relations {
            other_enterprises: others.enterprises,
            others_on_serious_list: others.on_serious_list,
            others_on_abnormal_list: others.on_abnormal_list,
            others_penalised_3y: others.penalised_3y,
        },
        data_seq,
    })
}

/// Legal representatives with more than one enterprise, from the current index: read once per
/// batch so that the common case (a representative with one enterprise) costs no lookup.
#[derive(Debug, Default)]
pub struct RepIndex {
    shared: HashMap<String, Vec<CreditCode>>,
}

impl RepIndex {
    /// Reads the whole legal-representative index, in two halves on two threads (split
    /// inside the pseudonyms' hex digits; one representative's keys share their prefix, so a
    /// group is never split).
    pub fn load(records: &Records) -> Result<RepIndex> {
        let mut split = prefix::legal_reps();
        split.extend_from_slice(crate::domain::pseudonym::PREFIX.as_bytes());
        split.push(b'8');
        let mut end = prefix::legal_reps();
        end[0] += 1;
        let halves = [(prefix::legal_reps(), split.clone()), (split, end)];
        let parts = std::thread::scope(|s| {
            let handles: Vec<_> = halves
                .iter()
                .map(|(from, to)| s.spawn(move || Self::groups_in(records, from, to)))
                .collect();
            handles
                .into_iter()
                .map(|h| super::batch::joined(h)?)
                .collect::<Result<Vec<_>>>()
        })?;
        Ok(RepIndex {
            shared: parts.into_iter().flatten().collect(),
        })
    }

    /// The representatives with more than one enterprise among the index keys in `[from, to)`.
    fn groups_in(
        records: &Records,
        from: &[u8],
        to: &[u8],
    ) -> Result<Vec<(String, Vec<CreditCode>)>> {
        let mut shared = Vec::new();
        let mut current: Option<(Vec<u8>, Vec<CreditCode>)> = None;
        let mut flush = |cur: Option<(Vec<u8>, Vec<CreditCode>)>| {
            if let Some((rep, codes)) = cur {
                if codes.len() > 1 {
                    shared.push((String::from_utf8_lossy(&rep).into_owned(), codes));
                }
            }
        };
        for kv in records.engine().range(from, to) {
            let (k, _) = kv?;
            let code = code_in(&k).ok_or_else(|| Error::Corrupt("legal-rep index key".into()))?;
            // Key: tag, rep, 0x00, 18-byte code.
            let rep = k
                .get(1..k.len().saturating_sub(19))
                .unwrap_or_default()
                .to_vec();
            match &mut current {
                Some((r, codes)) if *r == rep => codes.push(code),
                _ => {
                    flush(current.take());
                    current = Some((rep, vec![code]));
                }
            }
        }
        flush(current);
        Ok(shared)
    }

    fn siblings(&self, rep: &str) -> &[CreditCode] {
        self.shared.get(rep).map_or(&[], |v| v.as_slice())
    }
}

/// What a batch over a whole scope at one cut and date reads once: the shared legal
/// representatives, the event segments (when the store has them) and the relation shares.
#[derive(Debug)]
pub struct BatchSource {
    /// Legal representatives with more than one enterprise.
    pub reps: RepIndex,
    /// Event segments at the cut.
    pub segments: Option<EventSegments>,
    /// Shares of the enterprises with shared representatives.
    pub shares: Shares,
}

impl BatchSource {
    /// Reads all three for a batch at `cut` as of `as_of`.
    pub fn load(records: &Records, cut: u64, as_of: Date) -> Result<BatchSource> {
        let reps = RepIndex::load(records)?;
        let segments = EventSegments::load(records.engine().as_ref(), cut)?;
        let shares = Shares::load(records, &reps, segments.as_ref(), cut, as_of)?;
        Ok(BatchSource {
            reps,
            segments,
            shares,
        })
    }

    /// The view [`gather_range`] reads through.
    pub fn view(&self) -> Sources<'_> {
        Sources {
            reps: &self.reps,
            segments: self.segments.as_ref(),
            shares: Some(&self.shares),
        }
    }
}

/// What [`gather_range`] reads besides the keys of the enterprises asked for.
#[derive(Clone, Copy, Debug)]
pub struct Sources<'a> {
    /// Legal representatives with more than one enterprise.
    pub reps: &'a RepIndex,
    /// Event segments at the cut (else the event keys are scanned).
    pub segments: Option<&'a EventSegments>,
    /// Precomputed relation shares at the cut and date (else related enterprises are read).
    pub shares: Option<&'a Shares>,
}

/// Reads the inputs of a sorted run of codes with range reads instead of a lookup per code:
/// the batch path. Enterprises come from one range scan; events from the event segments when
/// given (see [`crate::storage::segments`]), else from a range scan of the event keys. `None`
/// for codes that did not exist at the cut.
pub fn gather_range(
    records: &Records,
    codes: &[CreditCode],
    cut: u64,
    as_of: Date,
    src: Sources<'_>,
) -> Result<Vec<Option<Inputs>>> {
    let (Some(first), Some(last)) = (codes.first(), codes.last()) else {
        return Ok(Vec::new());
    };
    let engine = records.engine();
    let mut end = Key::Enterprise(*last).encode();
    end.push(0);
    let mut versions: Vec<(CreditCode, EnterpriseVersion)> = Vec::with_capacity(codes.len());
    let mut wanted = codes.iter().peekable();
    for kv in engine.range(&Key::Enterprise(*first).encode(), &end) {
        let (k, v) = kv?;
        let Some(code) = code_in(&k) else { continue };
        while wanted.next_if(|c| **c < code).is_some() {}
        if wanted.peek() == Some(&&code) {
            versions.push((code, decode(&v, &format_args!("enterprise `{code}`"))?));
        }
    }
    let events = match src.segments {
        Some(s) if s.cut() != cut => {
            return Err(Error::Internal(format!(
                "event segments read at cut {} used at cut {cut}",
                s.cut()
            )))
        }
        Some(s) => s.events_between(engine.as_ref(), first, last)?,
        None => scan_events(records, codes, cut)?,
    };
    let mut versions = versions.into_iter().peekable();
    let mut events = events.into_iter().peekable();
    let mut out = Vec::with_capacity(codes.len());
    for code in codes {
        while events.next_if(|(c, _)| c < code).is_some() {}
        let evs = events
            .next_if(|(c, _)| c == code)
            .map(|(_, e)| e)
            .unwrap_or_default();
        let version = match versions.next_if(|(c, _)| c == code) {
            Some((_, v)) if v.seq <= cut => Some(v),
            Some(_) => records.enterprise_as_of(code, cut)?,
            None => None,
        };
        let Some(version) = version else {
            out.push(None);
            continue;
        };
        let siblings = src.reps.siblings(&version.enterprise.legal_representative);
        out.push(Some(assemble(
            records, version, evs, siblings, cut, as_of, src.shares,
        )?));
    }
    Ok(out)
}

/// The events with seq at most `cut` of the enterprises in `codes` (sorted), grouped by
/// enterprise in code order, from one range scan of the event keys.
fn scan_events(
    records: &Records,
    codes: &[CreditCode],
    cut: u64,
) -> Result<Vec<(CreditCode, Vec<StoredEvent>)>> {
    let (Some(first), Some(last)) = (codes.first(), codes.last()) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<(CreditCode, Vec<StoredEvent>)> = Vec::new();
    let mut end = Key::Event(*last, u64::MAX).encode();
    end.push(0);
    let mut wanted = codes.iter().peekable();
    for kv in records
        .engine()
        .range(&Key::Event(*first, 0).encode(), &end)
    {
        let (k, v) = kv?;
        let (Some(code), Some(seq)) = (code_in(&k), trailing_seq(&k)) else {
            continue;
        };
        while wanted.next_if(|c| **c < code).is_some() {}
        if seq > cut || wanted.peek() != Some(&&code) {
            continue;
        }
        let e = decode(&v, &format_args!("event {seq} of `{code}`"))?;
        match out.last_mut() {
            Some((c, evs)) if *c == code => evs.push(e),
            _ => out.push((code, vec![e])),
        }
    }
    Ok(out)
}

impl Inputs {
    /// The feature vector as of `as_of`, relations included.
    pub fn features(&self, as_of: Date) -> FeatureVector {
        compute(
            &FeatureInput {
                enterprise: &self.version.enterprise,
                events: &self.events,
                relations: self.relations,
            },
            as_of,
        )
    }
}
