//! Reading what a classification needs from a consistent snapshot: the enterprise version and
//! its events up to the snapshot's ingest seq (the "cut"), and the relation features of its
//! legal representative, computed as [`crate::rules::Relations`] documents.

use crate::domain::{CreditCode, Date, EnterpriseVersion, StoredEvent};
use crate::error::Result;
use crate::rules::{compute, FeatureInput, FeatureVector, Relations, RepContribution};
use crate::storage::Records;

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
pub fn gather(records: &Records, code: &CreditCode, cut: u64, as_of: Date) -> Result<Option<Inputs>> {
    let Some(version) = records.enterprise_as_of(code, cut)? else {
        return Ok(None);
    };
    let events = records.all_events_of(code, cut)?;
    let mut data_seq = version.seq.max(events.last().map_or(0, |e| e.seq));
    let rep = &version.enterprise.legal_representative;
    let mut others = RepContribution::default();
    for sibling in records.enterprises_of_rep(rep)? {
        if sibling == *code {
            continue;
        }
        let Some(sv) = records.enterprise_as_of(&sibling, cut)? else { continue };
        if sv.enterprise.legal_representative != *rep {
            continue;
        }
        let sev = records.all_events_of(&sibling, cut)?;
        data_seq = data_seq.max(sv.seq).max(sev.last().map_or(0, |e| e.seq));
        let f = compute(
            &FeatureInput { enterprise: &sv.enterprise, events: &sev, relations: Relations::default() },
            as_of,
        );
        others.add(&RepContribution::of(&f));
    }
    Ok(Some(Inputs {
        version,
        events,
        relations: Relations {
            other_enterprises: others.enterprises,
            others_on_serious_list: others.on_serious_list,
            others_on_abnormal_list: others.on_abnormal_list,
            others_penalised_3y: others.penalised_3y,
        },
        data_seq,
    }))
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
