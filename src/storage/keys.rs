//! The key space. Every stored key is a [`Key`], encoded so that byte order equals the logical
//! order: a one-byte tag, then fixed-width fields (credit codes are 18 bytes, sequence numbers
//! big-endian u64) and variable strings terminated by 0x00 (validated ids never contain 0x00).
//! Prefix and range scans are therefore right by construction: all events of one enterprise are
//! contiguous and in ingest order, all versions of one record likewise.

use crate::domain::CreditCode;

/// A key of the record store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key<'a> {
    /// Service metadata, e.g. `next_seq`.
    Meta(&'a str),
    /// Current version of an enterprise.
    Enterprise(CreditCode),
    /// A superseded version of an enterprise, by the seq that wrote it.
    EnterpriseHistory(CreditCode, u64),
    /// Index: enterprises by jurisdiction (value empty).
    Jurisdiction(&'a str, CreditCode),
    /// Index: enterprises by legal-representative pseudonym (value empty), for relation features.
    LegalRep(&'a str, CreditCode),
    /// An event, clustered by enterprise and ordered by seq: features read one enterprise's
    /// events with one prefix scan.
    Event(CreditCode, u64),
    /// A block of the event-id index: the ids of consecutive events of one commit, by the seq
    /// of the first (see [`super::event_ids`]).
    EventIdBlock(u64),
    /// An event segment: a derived copy of the events of a range of enterprises, by the first
    /// credit code of the range (see [`super::segments`]).
    EventSegment(CreditCode),
    /// Index: the events a draw snapshot reads (inspections, licences granted or revoked), by
    /// enterprise and seq (value empty): a snapshot of millions of enterprises scans this
    /// small index instead of every event.
    DrawFact(CreditCode, u64),
    /// A stored classification of an enterprise, by its seq (newest last).
    Classification(CreditCode, u64),
    /// The tier of an enterprise's classification stored one by one (not in a run block) when
    /// it changed the tier: one byte (0 = A .. 3 = D), then, since run blocks, the big-endian
    /// seq of that classification (absent in older stores: seq 0). The current tier is the
    /// newer of this and the enterprise's entry in the [`Key::TierLayer`].
    CurrentTier(CreditCode),
    /// The classification records of one committed chunk of a whole-population run, by run id
    /// and the chunk's first credit code (see `classify::blocks`).
    RunBlock(u64, CreditCode),
    /// The tiers of the same chunk (codes and tier bytes only), for draw snapshots.
    RunTiers(u64, CreditCode),
    /// The current-tier layer: for a range of enterprises starting at this code, each one's
    /// newest run classification (tier, seq, run id); see `classify::blocks`.
    TierLayer(CreditCode),
    /// A tier change, by the seq of the classification that made it (the watch cursor).
    TierChange(u64),
    /// A rule set ever uploaded, by hash.
    RuleSet(&'a str),
    /// A rule-set activation, by its seq.
    Activation(u64),
    /// A re-classification run, by id.
    Run(u64),
    /// The tier mix of a run's output so far (counts per tier, overall, by jurisdiction and by
    /// industry section), by run id; rewritten in the same commit as each chunk's checkpoint,
    /// so it always matches the run's stored output (see `classify::report`).
    RunTierMix(u64),
    /// Current version of an inspector.
    Inspector(&'a str),
    /// A superseded version of an inspector.
    InspectorHistory(&'a str, u64),
    /// An inspection item (抽查事项), by id.
    Item(&'a str),
    /// A stored draw, by id.
    Draw(&'a str),
    /// Index: an inspector's assignments, by inspector, draw and enterprise (value empty).
    Assignment(&'a str, &'a str, CreditCode),
    /// The result recorded for a drawn enterprise, by draw and enterprise.
    DrawResult(&'a str, CreditCode),
    /// The publication of a drawn enterprise's result, by draw and enterprise.
    Publication(&'a str, CreditCode),
    /// A group ratio override (differentiated supervision), by its basis (an alert id).
    GroupRatio(&'a str),
    /// An audit log entry by index: its canonical bytes (`audit::entry`; they carry their own
    /// format magic, so no codec version byte).
    LogEntry(u64),
    /// The canonical bytes of consecutive audit log entries stored by one job, by the first
    /// entry's index (a whole-population run logs a chunk's classifications this way).
    LogBlock(u64),
    /// A stored perfect-subtree hash of the audit log's Merkle tree, by level and index (32
    /// bytes). Only every fourth level is stored; the others are recomputed from below.
    LogNode(u8, u64),
    /// The leaf hashes of one group commit's audit log entries, by the first entry's index
    /// (32 bytes per entry, in index order). Stores written before it have none; range replay
    /// uses them to name an altered entry inside a group of 16 (see `auditsvc/locate.rs`).
    LogLeaves(u64),
    /// A signed tree head by tree size (its JSON form).
    LogHead(u64),
    /// Index: the log index of the entry about a subject (8 bytes, big-endian).
    LogSubject(&'a str),
    /// Index of classification entries, one key per storing job instead of one per entry:
    /// the job's first classification seq maps to its first log index and the count (8 + 4
    /// bytes, big-endian); seqs and indices advance in lockstep inside the job. A run chunk
    /// stored as blocks adds its run id (8 bytes) and first credit code (18 bytes): its records
    /// are then in that [`Key::RunBlock`], in the same order.
    LogSeqs(u64),
    /// An access token's stored record (never its secret), by token id. Kept after revocation
    /// so an id is never reused.
    Token(&'a str),
    /// An early-warning alert, by its number (the `n` of id `W<n>`).
    Alert(u64),
    /// Index: the open alert of a (warning rule, subject), if any; value: the alert number
    /// (8 bytes, big-endian). Removed when the alert closes.
    AlertOpen(&'a str, &'a str),
    /// The alert-change log that watchers follow, by change number; value: an
    /// `warnsvc::store::AlertChange`.
    AlertChange(u64),
    /// The warning facts of one ingest job with one effective date, by that date (days since
    /// 1970-01-01, sign bit flipped so the order is right) and the seq of the first: each fact
    /// as a `u16` length and its `warn::Fact::encode` bytes (`ingest::facts_in_block`). Group
    /// evaluation reads one window of dates with one range scan.
    WarnFact(i32, u64),
    /// A warning rule set ever uploaded, by hash.
    WarnRuleSet(&'a str),
    /// A warning rule-set activation, by its seq.
    WarnActivation(u64),
    /// Index of alert audit entries by subject (value empty): each alert step's log index
    /// under `alert/<id>` and under the alert's subject (`enterprise/<code>`, `group/<key>`),
    /// written in the step's commit (`warnsvc::store`).
    AlertEntry(&'a str, u64),
    /// The webhook outbox: an alert step of a warned alert, by change number; value: a
    /// `warnsvc::webhook::OutboxRow` (the event and the departments notified), written in the
    /// step's commit.
    WebhookOutbox(u64),
    /// A department's webhook delivery cursor: the last change number its delivery finished
    /// (delivered, or given up after the bounded attempts), 8 bytes big-endian.
    WebhookCursor(&'a str),
}

const META: u8 = 0x01;
const ENTERPRISE: u8 = 0x10;
const ENTERPRISE_HISTORY: u8 = 0x11;
const JURISDICTION: u8 = 0x12;
const LEGAL_REP: u8 = 0x13;
const EVENT: u8 = 0x20;
/// Event-id keys of development builds before the block index (one key per id); migrated on
/// open by [`super::event_ids`].
const LEGACY_EVENT_ID: u8 = 0x21;
const EVENT_ID_BLOCK: u8 = 0x23;
const DRAW_FACT: u8 = 0x22;
const EVENT_SEGMENT: u8 = 0x24;
const ITEM: u8 = 0x60;
const DRAW: u8 = 0x61;
const ASSIGNMENT: u8 = 0x62;
const DRAW_RESULT: u8 = 0x63;
const PUBLICATION: u8 = 0x64;
const GROUP_RATIO: u8 = 0x65;
const LOG_ENTRY: u8 = 0x80;
const LOG_NODE: u8 = 0x81;
const LOG_HEAD: u8 = 0x82;
const LOG_SUBJECT: u8 = 0x83;
const LOG_SEQS: u8 = 0x84;
const LOG_BLOCK: u8 = 0x85;
const LOG_LEAVES: u8 = 0x86;
const CLASSIFICATION: u8 = 0x50;
const TIER_CHANGE: u8 = 0x51;
const CURRENT_TIER: u8 = 0x55;
const RUN_BLOCK: u8 = 0x56;
const RUN_TIERS: u8 = 0x57;
const TIER_LAYER: u8 = 0x58;
const RUN_TIER_MIX: u8 = 0x59;
const RULE_SET: u8 = 0x52;
const ACTIVATION: u8 = 0x53;
const RUN: u8 = 0x54;
const INSPECTOR: u8 = 0x30;
const INSPECTOR_HISTORY: u8 = 0x31;
const TOKEN: u8 = 0x70;
const ALERT: u8 = 0x90;
const ALERT_OPEN: u8 = 0x91;
const ALERT_CHANGE: u8 = 0x92;
const WARN_FACT: u8 = 0x93;
const WARN_RULE_SET: u8 = 0x94;
const WARN_ACTIVATION: u8 = 0x95;
const ALERT_ENTRY: u8 = 0x9a;
const WEBHOOK_OUTBOX: u8 = 0x9b;
const WEBHOOK_CURSOR: u8 = 0x9c;

/// The readable name of a stored key's kind, from its first byte (`"unknown"` for a tag no
/// [`Key`] uses): the `kind` column of the PostgreSQL table, so a DBA can count and filter
/// rows by kind without decoding keys.
pub fn kind_name(key: &[u8]) -> &'static str {
    match key.first().copied() {
        Some(META) => "meta",
        Some(ENTERPRISE) => "enterprise",
        Some(ENTERPRISE_HISTORY) => "enterprise_history",
        Some(JURISDICTION) => "jurisdiction",
        Some(LEGAL_REP) => "legal_rep",
        Some(EVENT) => "event",
        Some(LEGACY_EVENT_ID) => "legacy_event_id",
        Some(EVENT_ID_BLOCK) => "event_id_block",
        Some(DRAW_FACT) => "draw_fact",
        Some(EVENT_SEGMENT) => "event_segment",
        Some(ITEM) => "item",
        Some(DRAW) => "draw",
        Some(ASSIGNMENT) => "assignment",
        Some(DRAW_RESULT) => "draw_result",
        Some(PUBLICATION) => "publication",
        Some(GROUP_RATIO) => "group_ratio",
        Some(LOG_ENTRY) => "log_entry",
        Some(LOG_NODE) => "log_node",
        Some(LOG_HEAD) => "log_head",
        Some(LOG_SUBJECT) => "log_subject",
        Some(LOG_SEQS) => "log_seqs",
        Some(LOG_BLOCK) => "log_block",
        Some(LOG_LEAVES) => "log_leaves",
        Some(CLASSIFICATION) => "classification",
        Some(TIER_CHANGE) => "tier_change",
        Some(CURRENT_TIER) => "current_tier",
        Some(RUN_BLOCK) => "run_block",
        Some(RUN_TIERS) => "run_tiers",
        Some(TIER_LAYER) => "tier_layer",
        Some(RUN_TIER_MIX) => "run_tier_mix",
        Some(RULE_SET) => "rule_set",
        Some(ACTIVATION) => "activation",
        Some(RUN) => "run",
        Some(INSPECTOR) => "inspector",
        Some(INSPECTOR_HISTORY) => "inspector_history",
        Some(TOKEN) => "token",
        Some(ALERT) => "alert",
        Some(ALERT_OPEN) => "alert_open",
        Some(ALERT_CHANGE) => "alert_change",
        Some(WARN_FACT) => "warn_fact",
        Some(WARN_RULE_SET) => "warn_rule_set",
        Some(WARN_ACTIVATION) => "warn_activation",
        _ => "unknown",
    }
}

impl Key<'_> {
    /// The order-preserving encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut k = Vec::with_capacity(32);
        match self {
            Key::Meta(name) => str0(&mut k, META, name),
            Key::Enterprise(c) => {
                k.push(ENTERPRISE);
                k.extend_from_slice(c.as_bytes());
            }
            Key::EnterpriseHistory(c, seq) => {
                k.push(ENTERPRISE_HISTORY);
                k.extend_from_slice(c.as_bytes());
                k.extend_from_slice(&seq.to_be_bytes());
            }
            Key::Jurisdiction(j, c) => {
                str0(&mut k, JURISDICTION, j);
                k.extend_from_slice(c.as_bytes());
            }
            Key::LegalRep(r, c) => {
                str0(&mut k, LEGAL_REP, r);
                k.extend_from_slice(c.as_bytes());
            }
            Key::Event(c, seq) => {
                k.push(EVENT);
                k.extend_from_slice(c.as_bytes());
                k.extend_from_slice(&seq.to_be_bytes());
            }
            Key::EventIdBlock(seq) => {
                k.push(EVENT_ID_BLOCK);
                k.extend_from_slice(&seq.to_be_bytes());
            }
            Key::EventSegment(c) => {
                k.push(EVENT_SEGMENT);
                k.extend_from_slice(c.as_bytes());
            }
            Key::DrawFact(c, seq) => {
                k.push(DRAW_FACT);
                k.extend_from_slice(c.as_bytes());
                k.extend_from_slice(&seq.to_be_bytes());
            }
            Key::Item(id) => str0(&mut k, ITEM, id),
            Key::Draw(id) => str0(&mut k, DRAW, id),
            Key::GroupRatio(id) => str0(&mut k, GROUP_RATIO, id),
            Key::Assignment(inspector, draw, c) => {
                str0(&mut k, ASSIGNMENT, inspector);
                k.extend_from_slice(draw.as_bytes());
                k.push(0);
                k.extend_from_slice(c.as_bytes());
            }
            Key::DrawResult(draw, c) => {
                str0(&mut k, DRAW_RESULT, draw);
                k.extend_from_slice(c.as_bytes());
            }
            Key::Publication(draw, c) => {
                str0(&mut k, PUBLICATION, draw);
                k.extend_from_slice(c.as_bytes());
            }
            Key::LogEntry(i) => {
                k.push(LOG_ENTRY);
                k.extend_from_slice(&i.to_be_bytes());
            }
            Key::LogBlock(i) => {
                k.push(LOG_BLOCK);
                k.extend_from_slice(&i.to_be_bytes());
            }
            Key::LogLeaves(i) => {
                k.push(LOG_LEAVES);
                k.extend_from_slice(&i.to_be_bytes());
            }
            Key::LogNode(level, i) => {
                k.push(LOG_NODE);
                k.push(*level);
                k.extend_from_slice(&i.to_be_bytes());
            }
            Key::LogHead(size) => {
                k.push(LOG_HEAD);
                k.extend_from_slice(&size.to_be_bytes());
            }
            Key::LogSubject(s) => str0(&mut k, LOG_SUBJECT, s),
            Key::LogSeqs(seq) => {
                k.push(LOG_SEQS);
                k.extend_from_slice(&seq.to_be_bytes());
            }
            Key::Classification(c, seq) => {
                k.push(CLASSIFICATION);
                k.extend_from_slice(c.as_bytes());
                k.extend_from_slice(&seq.to_be_bytes());
            }
            Key::CurrentTier(c) => {
                k.push(CURRENT_TIER);
                k.extend_from_slice(c.as_bytes());
            }
            Key::RunBlock(run, c) => {
                k.push(RUN_BLOCK);
                k.extend_from_slice(&run.to_be_bytes());
                k.extend_from_slice(c.as_bytes());
            }
            Key::RunTiers(run, c) => {
                k.push(RUN_TIERS);
                k.extend_from_slice(&run.to_be_bytes());
                k.extend_from_slice(c.as_bytes());
            }
            Key::TierLayer(c) => {
                k.push(TIER_LAYER);
                k.extend_from_slice(c.as_bytes());
            }
            Key::TierChange(seq) => {
                k.push(TIER_CHANGE);
                k.extend_from_slice(&seq.to_be_bytes());
            }
            Key::RuleSet(h) => str0(&mut k, RULE_SET, h),
            Key::Activation(seq) => {
                k.push(ACTIVATION);
                k.extend_from_slice(&seq.to_be_bytes());
            }
            Key::Run(id) => {
                k.push(RUN);
                k.extend_from_slice(&id.to_be_bytes());
            }
            Key::RunTierMix(id) => {
                k.push(RUN_TIER_MIX);
                k.extend_from_slice(&id.to_be_bytes());
            }
            Key::Inspector(id) => str0(&mut k, INSPECTOR, id),
            Key::InspectorHistory(id, seq) => {
                str0(&mut k, INSPECTOR_HISTORY, id);
                k.extend_from_slice(&seq.to_be_bytes());
            }
            Key::Token(id) => str0(&mut k, TOKEN, id),
            Key::Alert(n) => {
                k.push(ALERT);
                k.extend_from_slice(&n.to_be_bytes());
            }
            Key::AlertOpen(rule, subject) => {
                str0(&mut k, ALERT_OPEN, rule);
                k.extend_from_slice(subject.as_bytes());
                k.push(0);
            }
            Key::AlertChange(n) => {
                k.push(ALERT_CHANGE);
                k.extend_from_slice(&n.to_be_bytes());
            }
            Key::WarnRuleSet(h) => str0(&mut k, WARN_RULE_SET, h),
            Key::WarnActivation(seq) => {
                k.push(WARN_ACTIVATION);
                k.extend_from_slice(&seq.to_be_bytes());
            }
            Key::WarnFact(day, seq) => {
                k.push(WARN_FACT);
                k.extend_from_slice(&day_bytes(*day));
                k.extend_from_slice(&seq.to_be_bytes());
            }
            Key::AlertEntry(subject, index) => {
                str0(&mut k, ALERT_ENTRY, subject);
                k.extend_from_slice(&index.to_be_bytes());
            }
            Key::WebhookOutbox(n) => {
                k.push(WEBHOOK_OUTBOX);
                k.extend_from_slice(&n.to_be_bytes());
            }
            Key::WebhookCursor(d) => str0(&mut k, WEBHOOK_CURSOR, d),
        }
        k
    }
}

/// A day number as order-preserving bytes (sign bit flipped, big-endian).
fn day_bytes(day: i32) -> [u8; 4] {
    ((day as u32) ^ 0x8000_0000).to_be_bytes()
}

fn str0(k: &mut Vec<u8>, tag: u8, s: &str) {
    k.push(tag);
    k.extend_from_slice(s.as_bytes());
    k.push(0);
}

/// Key prefixes for scans.
pub mod prefix {
    use super::*;

    /// All current enterprises.
    pub fn enterprises() -> Vec<u8> {
        vec![ENTERPRISE]
    }
    /// All enterprises of one jurisdiction.
    pub fn jurisdiction(j: &str) -> Vec<u8> {
        let mut k = Vec::new();
        str0(&mut k, JURISDICTION, j);
        k
    }
    /// The whole legal-representative index.
    pub fn legal_reps() -> Vec<u8> {
        vec![LEGAL_REP]
    }
    /// All enterprises of one legal representative.
    pub fn legal_rep(r: &str) -> Vec<u8> {
        let mut k = Vec::new();
        str0(&mut k, LEGAL_REP, r);
        k
    }
    /// All events of one enterprise.
    pub fn events_of(c: &CreditCode) -> Vec<u8> {
        let mut k = vec![EVENT];
        k.extend_from_slice(c.as_bytes());
        k
    }
    /// All superseded versions of one enterprise.
    pub fn enterprise_history(c: &CreditCode) -> Vec<u8> {
        let mut k = vec![ENTERPRISE_HISTORY];
        k.extend_from_slice(c.as_bytes());
        k
    }
    /// All classifications of one enterprise.
    pub fn classifications_of(c: &CreditCode) -> Vec<u8> {
        let mut k = vec![CLASSIFICATION];
        k.extend_from_slice(c.as_bytes());
        k
    }
    /// The chunks of one run stored as blocks, in code order.
    pub fn run_blocks(run: u64) -> Vec<u8> {
        let mut k = vec![RUN_BLOCK];
        k.extend_from_slice(&run.to_be_bytes());
        k
    }
    /// The tiers of one run's chunks stored as blocks, in code order.
    pub fn run_tiers(run: u64) -> Vec<u8> {
        let mut k = vec![RUN_TIERS];
        k.extend_from_slice(&run.to_be_bytes());
        k
    }
    /// Every run's tier blocks, by run.
    pub fn all_run_tiers() -> Vec<u8> {
        vec![RUN_TIERS]
    }
    /// The whole current-tier layer, in code order.
    pub fn tier_layer() -> Vec<u8> {
        vec![TIER_LAYER]
    }
    /// Every enterprise's individually stored current tier.
    pub fn current_tiers() -> Vec<u8> {
        vec![CURRENT_TIER]
    }
    /// The tier-change log.
    pub fn tier_changes() -> Vec<u8> {
        vec![TIER_CHANGE]
    }
    /// Every stored rule set.
    pub fn rule_sets() -> Vec<u8> {
        vec![RULE_SET]
    }
    /// Every activation, oldest first.
    pub fn activations() -> Vec<u8> {
        vec![ACTIVATION]
    }
    /// Every run.
    pub fn runs() -> Vec<u8> {
        vec![RUN]
    }
    /// All current inspectors.
    pub fn inspectors() -> Vec<u8> {
        vec![INSPECTOR]
    }
    /// The whole draw-fact index, in enterprise order.
    pub fn draw_facts() -> Vec<u8> {
        vec![DRAW_FACT]
    }
    /// Every block of the event-id index, in seq order.
    pub fn event_id_blocks() -> Vec<u8> {
        vec![EVENT_ID_BLOCK]
    }
    /// The per-id event-id keys of earlier development builds (key: tag, id, 0x00; value:
    /// 18-byte code, big-endian seq).
    pub fn legacy_event_ids() -> Vec<u8> {
        vec![LEGACY_EVENT_ID]
    }
    /// Every event, in enterprise order.
    pub fn events() -> Vec<u8> {
        vec![EVENT]
    }
    /// Every classification, in enterprise order.
    pub fn classifications() -> Vec<u8> {
        vec![CLASSIFICATION]
    }
    /// Every enterprise history version, in enterprise order.
    pub fn enterprise_histories() -> Vec<u8> {
        vec![ENTERPRISE_HISTORY]
    }
    /// Every inspection item.
    pub fn items() -> Vec<u8> {
        vec![ITEM]
    }
    /// Every draw, by id.
    pub fn draws() -> Vec<u8> {
        vec![DRAW]
    }
    /// Every group ratio override, by basis.
    pub fn group_ratios() -> Vec<u8> {
        vec![GROUP_RATIO]
    }
    /// One inspector's assignments.
    pub fn assignments_of(inspector: &str) -> Vec<u8> {
        let mut k = Vec::new();
        str0(&mut k, ASSIGNMENT, inspector);
        k
    }
    /// Every recorded draw result, by draw.
    pub fn draw_results() -> Vec<u8> {
        vec![DRAW_RESULT]
    }
    /// The recorded results of one draw.
    pub fn draw_results_of(draw: &str) -> Vec<u8> {
        let mut k = Vec::new();
        str0(&mut k, DRAW_RESULT, draw);
        k
    }
    /// Every signed tree head, by size.
    pub fn log_heads() -> Vec<u8> {
        vec![LOG_HEAD]
    }
    /// Every audit log entry, by index.
    pub fn log_entries() -> Vec<u8> {
        vec![LOG_ENTRY]
    }
    /// The publications of one draw.
    pub fn publications_of(draw: &str) -> Vec<u8> {
        let mut k = Vec::new();
        str0(&mut k, PUBLICATION, draw);
        k
    }
    /// Every access token record, in id order.
    pub fn tokens() -> Vec<u8> {
        vec![TOKEN]
    }
    /// Every alert, by number.
    pub fn alerts() -> Vec<u8> {
        vec![ALERT]
    }
    /// The open-alert index, by rule and subject.
    pub fn open_alerts() -> Vec<u8> {
        vec![ALERT_OPEN]
    }
    /// Every stored warning rule set.
    pub fn warn_rule_sets() -> Vec<u8> {
        vec![WARN_RULE_SET]
    }
    /// Every warning rule-set activation, oldest first.
    pub fn warn_activations() -> Vec<u8> {
        vec![WARN_ACTIVATION]
    }
    /// The alert-change log.
    pub fn alert_changes() -> Vec<u8> {
        vec![ALERT_CHANGE]
    }
    /// The alert audit entries about `subject` (`alert/<id>`, `enterprise/<code>`,
    /// `group/<key>`), by log index.
    pub fn alert_entries(subject: &str) -> Vec<u8> {
        let mut k = Vec::new();
        str0(&mut k, ALERT_ENTRY, subject);
        k
    }
    /// The webhook outbox, by change number.
    pub fn webhook_outbox() -> Vec<u8> {
        vec![WEBHOOK_OUTBOX]
    }
    /// The first warning-fact key of day `day` (days since 1970-01-01): facts of days
    /// `from..to` are the keys in `[facts_from(from), facts_from(to))`.
    pub fn facts_from(day: i32) -> Vec<u8> {
        let mut k = vec![WARN_FACT];
        k.extend_from_slice(&day_bytes(day));
        k
    }
}

/// Reads the trailing big-endian u64 of a key (the seq of history and event keys).
pub fn trailing_seq(key: &[u8]) -> Option<u64> {
    let b: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(b))
}

/// Reads the credit code of an enterprise, event or jurisdiction-index key.
pub fn code_in(key: &[u8]) -> Option<CreditCode> {
    match key.first()? {
        &ENTERPRISE | &ENTERPRISE_HISTORY | &EVENT | &CLASSIFICATION | &DRAW_FACT
        | &CURRENT_TIER | &TIER_LAYER => CreditCode::from_bytes(key.get(1..19)?),
        &JURISDICTION | &LEGAL_REP | &ASSIGNMENT | &DRAW_RESULT | &PUBLICATION | &RUN_BLOCK
        | &RUN_TIERS => CreditCode::from_bytes(key.get(key.len().checked_sub(18)?..)?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(s: &str) -> CreditCode {
        CreditCode::parse(s).unwrap()
    }

    #[test]
    fn order_is_logical_order() {
        let a = code("91510100054946627W");
        let b = code("91510132720386386A");
        assert!(Key::Event(a, 5).encode() < Key::Event(a, 6).encode());
        assert!(Key::Event(a, u64::MAX).encode() < Key::Event(b, 0).encode());
        assert!(Key::Event(a, 256).encode() > Key::Event(a, 255).encode());
        assert!(Key::Event(a, 7)
            .encode()
            .starts_with(&prefix::events_of(&a)));
        // A jurisdiction that is a prefix of another does not leak into its scan.
        assert!(!Key::Jurisdiction("chengdu-hitech2", a)
            .encode()
            .starts_with(&prefix::jurisdiction("chengdu-hitech")));
        assert_eq!(
            trailing_seq(&Key::EnterpriseHistory(a, 42).encode()),
            Some(42)
        );
        assert_eq!(code_in(&Key::Jurisdiction("510104", b).encode()), Some(b));
        assert_eq!(code_in(&Key::Event(b, 1).encode()), Some(b));
        for k in [Key::RunBlock(7, b), Key::RunTiers(7, b), Key::TierLayer(b)] {
            assert_eq!(code_in(&k.encode()), Some(b));
        }
        assert_eq!(code_in(&Key::CurrentTier(a).encode()), Some(a));
        // Warning facts sort by day (negative days first), then seq.
        assert!(Key::WarnFact(-1, 9).encode() < Key::WarnFact(0, 1).encode());
        assert!(Key::WarnFact(20_000, u64::MAX).encode() < Key::WarnFact(20_001, 0).encode());
        assert!(Key::WarnFact(20_000, 5).encode() >= prefix::facts_from(20_000));
        assert!(Key::WarnFact(20_000, 5).encode() < prefix::facts_from(20_001));
        assert!(Key::Alert(9).encode() < Key::Alert(10).encode());
        // One run's blocks sort by code and never mix with the next run's.
        assert!(Key::RunBlock(7, b).encode() < Key::RunBlock(8, a).encode());
        assert!(Key::RunBlock(7, b)
            .encode()
            .starts_with(&prefix::run_blocks(7)));
    }
}
