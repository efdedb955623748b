//! `creditrisk import FILE`: stream a data file into a running server, and the demo loader.
//!
//! File formats:
//! - JSON lines (`.jsonl`, `.json`, or `-` for standard input): one record per line, tagged by
//!   kind: `{"enterprise": {...}}`, `{"event": {...}}`, `{"inspector": {...}}` or
//!   `{"inspection": {...}}`, with the fields of the data model in the README. Blank lines and
//!   lines starting with `#` are skipped. `creditrisk demo-data` writes this format.
//! - CSV (`.csv`): enterprises only, one per row, with a header naming the enterprise fields.
//!
//! Records go in file order: consecutive records of one kind are sent in chunks (events through
//! the pipelined bulk stream, the rest as unary batches), and a chunk of another kind waits until
//! the previous ones are acknowledged, so an event may follow its enterprise in the same file.
//! A rejected chunk is reported with the file line of each bad record, and the import goes on.

use super::client::{connect, Client, Target};
use crate::app::App;
use crate::domain::{CreditEvent, Enterprise, FieldViolation, Inspection, Inspector};
use crate::server::{convert, pb, status::violations_of};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::io::BufRead;
use std::path::Path;

/// Records per chunk sent to the server.
pub const CHUNK: usize = 1000;

/// One line of a JSON-lines data file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// An enterprise.
    Enterprise(Enterprise),
    /// A credit event.
    Event(CreditEvent),
    /// An inspector.
    Inspector(Inspector),
    /// An inspection.
    Inspection(Inspection),
}

impl Record {
    fn kind(&self) -> &'static str {
        match self {
            Record::Enterprise(_) => "enterprise",
            Record::Event(_) => "event",
            Record::Inspector(_) => "inspector",
            Record::Inspection(_) => "inspection",
        }
    }
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Records stored.
    pub accepted: u64,
    /// Records already stored identically.
    pub duplicates: u64,
    /// Records rejected (unreadable lines, or members of a rejected chunk).
    pub rejected: u64,
    /// Why, as `line N: field: problem`, in file order (the first 1,000).
    pub errors: Vec<String>,
}

impl Summary {
    fn error(&mut self, line: usize, msg: String) {
        if self.errors.len() < 1000 {
            self.errors.push(format!("line {line}: {msg}"));
        }
    }
}

/// Imports `path` into the server `target` names; `progress` shows a bar on a terminal.
/// Inspector records go with `roster_token` when given (the roster is the admin's, the other
/// records the ingest role's), so one file in file order needs no split.
pub async fn run(
    target: &Target,
    roster_token: Option<&str>,
    path: &Path,
    progress: bool,
) -> anyhow::Result<Summary> {
    let mut client = connect(target).await?;
    let roster = match roster_token {
        Some(t) => Some(
            connect(&Target {
                token: Some(t.to_string()),
                ..target.clone()
            })
            .await?,
        ),
        None => None,
    };
    let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(path)
                .with_context(|| format!("cannot open `{}`", path.display()))?,
        ))
    };
    let total = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let bar = if progress && total > 0 {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut summary = Summary::default();
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let mut sender = Sender::new(&mut client, roster);
    if is_csv {
        let mut rdr = csv::Reader::from_reader(reader);
        for (i, row) in rdr.deserialize::<Enterprise>().enumerate() {
            let line = i + 2;
            match row {
                Ok(e) => {
                    sender
                        .push(line, Record::Enterprise(e), &mut summary)
                        .await?
                }
                Err(e) => {
                    summary.rejected += 1;
                    summary.error(line, format!("unreadable row: {e}"));
                }
            }
        }
    } else {
        for (i, text) in reader.lines().enumerate() {
            let text = text.with_context(|| format!("reading line {}", i + 1))?;
            bar.inc(text.len() as u64 + 1);
            let t = text.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            match serde_json::from_str::<Record>(t) {
                Ok(r) => sender.push(i + 1, r, &mut summary).await?,
                Err(e) => {
                    summary.rejected += 1;
                    summary.error(i + 1, format!("unreadable record: {e}"));
                }
            }
            bar.set_message(format!("{} stored", summary.accepted));
        }
    }
    sender.flush(&mut summary).await?;
    bar.finish_and_clear();
    Ok(summary)
}

/// Accumulates records of one kind and sends them in chunks.
struct Sender<'a> {
    client: &'a mut Client,
    roster: Option<Client>,
    kind: &'static str,
    lines: Vec<usize>,
    records: Vec<Record>,
    events: Option<EventStream>,
}

struct EventStream {
    tx: tokio::sync::mpsc::Sender<pb::AppendEventsRequest>,
    lines: std::sync::Arc<std::sync::Mutex<Vec<Vec<usize>>>>,
    acks: tokio::task::JoinHandle<anyhow::Result<Summary>>,
}

impl<'a> Sender<'a> {
    fn new(client: &'a mut Client, roster: Option<Client>) -> Self {
        Sender {
            client,
            roster,
            kind: "",
            lines: Vec::new(),
            records: Vec::new(),
            events: None,
        }
    }

    async fn push(&mut self, line: usize, r: Record, s: &mut Summary) -> anyhow::Result<()> {
        if r.kind() != self.kind || self.records.len() >= CHUNK {
            let switching = r.kind() != self.kind;
            self.send_chunk(s).await?;
            if switching {
                self.close_events(s).await?;
            }
            self.kind = r.kind();
        }
        self.lines.push(line);
        self.records.push(r);
        Ok(())
    }

    async fn flush(&mut self, s: &mut Summary) -> anyhow::Result<()> {
        self.send_chunk(s).await?;
        self.close_events(s).await
    }

    async fn close_events(&mut self, s: &mut Summary) -> anyhow::Result<()> {
        if let Some(es) = self.events.take() {
            drop(es.tx);
            let got = es.acks.await??;
            merge(s, got);
        }
        Ok(())
    }

    async fn send_chunk(&mut self, s: &mut Summary) -> anyhow::Result<()> {
        if self.records.is_empty() {
            return Ok(());
        }
        let records = std::mem::take(&mut self.records);
        let lines = std::mem::take(&mut self.lines);
        let n = records.len() as u64;
        let result = match self.kind {
            "event" => {
                let evs = records
                    .into_iter()
                    .filter_map(|r| match r {
                        Record::Event(e) => Some(convert::event_to(&e, 0)),
                        _ => None,
                    })
                    .collect();
                return self.send_events(evs, lines).await;
            }
            "enterprise" => {
                let recs = records
                    .iter()
                    .filter_map(|r| match r {
                        Record::Enterprise(e) => Some(convert::enterprise_to(e, 0)),
                        _ => None,
                    })
                    .collect();
                self.client
                    .upsert_enterprises(pb::UpsertEnterprisesRequest { records: recs })
                    .await
            }
            "inspector" => {
                let recs = records
                    .iter()
                    .filter_map(|r| match r {
                        Record::Inspector(i) => {
                            Some(convert::inspector_to(&crate::domain::InspectorVersion {
                                seq: 0,
                                inspector: i.clone(),
                            }))
                        }
                        _ => None,
                    })
                    .collect();
                self.roster
                    .as_mut()
                    .unwrap_or(&mut *self.client)
                    .upsert_inspectors(pb::UpsertInspectorsRequest { records: recs })
                    .await
            }
            _ => {
                let recs = records
                    .iter()
                    .filter_map(|r| match r {
                        Record::Inspection(i) => Some(convert::inspection_to(i)),
                        _ => None,
                    })
                    .collect();
                self.client
                    .record_inspections(pb::RecordInspectionsRequest { records: recs })
                    .await
            }
        };
        match result {
            Ok(r) => {
                let r = r.into_inner();
                s.accepted += r.accepted as u64;
                s.duplicates += r.duplicates as u64;
            }
            Err(status) if status.code() == tonic::Code::Unavailable => {
                anyhow::bail!("server unavailable: {}", status.message())
            }
            // Every later chunk of this kind would be refused too: stop and say why.
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::Unauthenticated | tonic::Code::PermissionDenied
                ) =>
            {
                return Err(super::client::explain(status).context(format!(
                    "line {}: cannot import {} records with this token",
                    lines.first().copied().unwrap_or(0),
                    self.kind
                )));
            }
            Err(status) => reject(s, &lines, n, status.message(), &violations_of(&status)),
        }
        Ok(())
    }

    async fn send_events(
        &mut self,
        evs: Vec<pb::CreditEvent>,
        lines: Vec<usize>,
    ) -> anyhow::Result<()> {
        if self.events.is_none() {
            let (tx, rx) = tokio::sync::mpsc::channel::<pb::AppendEventsRequest>(8);
            let line_book = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Vec<usize>>::new()));
            let book = line_book.clone();
            let mut client = self.client.clone();
            let acks = tokio::spawn(async move {
                let mut s = Summary::default();
                let mut stream = client
                    .bulk_append_events(tokio_stream::wrappers::ReceiverStream::new(rx))
                    .await?
                    .into_inner();
                while let Some(ack) = stream.message().await? {
                    let lines = book
                        .lock()
                        .map(|b| b.get(ack.chunk as usize).cloned().unwrap_or_default())
                        .unwrap_or_default();
                    if ack.ok {
                        if let Some(sum) = ack.summary {
                            s.accepted += sum.accepted as u64;
                            s.duplicates += sum.duplicates as u64;
                        }
                    } else {
                        let v: Vec<FieldViolation> = ack
                            .violations
                            .iter()
                            .map(|f| FieldViolation {
                                field: f.field.clone(),
                                description: f.description.clone(),
                            })
                            .collect();
                        reject(&mut s, &lines, lines.len() as u64, &ack.error_message, &v);
                    }
                }
                Ok(s)
            });
            self.events = Some(EventStream {
                tx,
                lines: line_book,
                acks,
            });
        }
        if let Some(es) = &self.events {
            if let Ok(mut b) = es.lines.lock() {
                b.push(lines);
            }
            if es
                .tx
                .send(pb::AppendEventsRequest { records: evs })
                .await
                .is_err()
            {
                // The stream ended early; its task holds the reason.
                if let Some(es) = self.events.take() {
                    es.acks.await??;
                }
                anyhow::bail!("the bulk stream closed early");
            }
        }
        Ok(())
    }
}

fn merge(s: &mut Summary, got: Summary) {
    s.accepted += got.accepted;
    s.duplicates += got.duplicates;
    s.rejected += got.rejected;
    for e in got.errors {
        if s.errors.len() < 1000 {
            s.errors.push(e);
        }
    }
}

/// Records a rejected chunk: every violation is mapped from `records[i]` to its file line.
fn reject(s: &mut Summary, lines: &[usize], n: u64, message: &str, v: &[FieldViolation]) {
    s.rejected += n;
    if v.is_empty() {
        let first = lines.first().copied().unwrap_or(0);
        s.error(first, format!("chunk of {n} rejected: {message}"));
        return;
    }
    for f in v {
        let (line, field) = match f
            .field
            .strip_prefix("records[")
            .and_then(|r| r.split_once(']'))
            .and_then(|(i, rest)| Some((i.parse::<usize>().ok()?, rest)))
        {
            Some((i, rest)) => (
                lines.get(i).copied().unwrap_or(0),
                rest.trim_start_matches('.').to_string(),
            ),
            None => (lines.first().copied().unwrap_or(0), f.field.clone()),
        };
        s.error(line, format!("{field}: {}", f.description));
    }
    let first = lines.first().copied().unwrap_or(0);
    s.error(
        first,
        format!("the chunk of {n} records starting here was not stored"),
    );
}

/// Loads the deterministic demo population into a store without enterprises, then classifies
/// it once as of the demo's date.
pub async fn load_demo_if_empty(
    app: &App,
    entities: usize,
    seed: u64,
    items_file: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let any = app
        .records()
        .list_enterprises(&Default::default(), None, 1)?
        .items
        .is_empty();
    if !any {
        tracing::info!("store not empty: demo population not loaded again");
        return Ok(());
    }
    let started = std::time::Instant::now();
    let data = crate::demo::generate(entities, seed);
    let (ne, nv, ni) = (
        data.enterprises.len(),
        data.events.len(),
        data.inspectors.len(),
    );
    for chunk in data.enterprises.chunks(CHUNK * 5) {
        app.upsert_enterprises(chunk.to_vec()).await?;
    }
    for chunk in data.inspectors.chunks(CHUNK * 5) {
        app.upsert_inspectors(chunk.to_vec(), crate::classify::service::SYSTEM)
            .await?;
    }
    for chunk in data.events.chunks(CHUNK * 5) {
        app.append_events(chunk.to_vec()).await?;
    }
    tracing::info!(
        enterprises = ne,
        events = nv,
        inspectors = ni,
        ms = started.elapsed().as_millis() as u64,
        "demo population loaded"
    );
    // The demo's inspection items, so the README's draw tour works at once.
    if let Ok(d) = app.draws() {
        let items = match items_file {
            Some(f) => {
                let text = std::fs::read_to_string(f)
                    .map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", f.display()))?;
                crate::drawsvc::Draws::parse_items(&f.display().to_string(), &text)?
            }
            None => {
                let (name, text) = crate::rules::embedded::items();
                crate::drawsvc::Draws::parse_items(name, text)?
            }
        };
        let d = d.clone();
        tokio::task::spawn_blocking(move || d.upsert_items(items)).await??;
    }
    // Event segments first, so that the run below reads them; then classify the population
    // once, as of the demo's date, so tiers exist from the start.
    let c = app.classifier().clone();
    let state = tokio::task::spawn_blocking(move || {
        crate::storage::segments::compact(c.records(), c.writer())?;
        let run = c.start_run(None, crate::demo::demo_as_of(), crate::clock::now_ms())?;
        c.execute_run(run, &mut |_| {})
    })
    .await??;
    tracing::info!(
        run = state.id,
        a = state.tiers[0],
        b = state.tiers[1],
        c = state.tiers[2],
        d = state.tiers[3],
        "demo population classified"
    );
    Ok(())
}

/// Writes the demo population as JSON lines (enterprises, inspectors, then events).
pub fn write_demo(entities: usize, seed: u64, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let data = crate::demo::generate(entities, seed);
    let mut w = std::io::BufWriter::new(out);
    for e in data.enterprises {
        serde_json::to_writer(&mut w, &Record::Enterprise(e))?;
        w.write_all(b"\n")?;
    }
    for i in data.inspectors {
        serde_json::to_writer(&mut w, &Record::Inspector(i))?;
        w.write_all(b"\n")?;
    }
    for e in data.events {
        serde_json::to_writer(&mut w, &Record::Event(e))?;
        w.write_all(b"\n")?;
    }
    use std::io::Write;
    w.flush()?;
    Ok(())
}
