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
//!
//! Bad rows. The server takes or refuses a chunk as a whole and names each bad record as
//! `records[i].field`. A refused chunk is not lost: the rows it names are taken out and written,
//! with every reason and their file line, to the rejects file ([`Options::rejects`]), and the
//! rest of the chunk is sent again, until the server takes it (it may name only some of the bad
//! rows per answer, hence the loop). A refusal that names no row is narrowed down by sending
//! each half of the chunk on its own. Rows the client can already tell are bad (not JSON or
//! CSV, a field of the wrong type)
//! go to the rejects file without being sent. A refused chunk of events (sent through the
//! pipelined stream) is sent again after the rest of that run of events, so the order of its
//! good rows among events can change.
//!
//! Line numbers are 1-based physical lines of the file everywhere (for CSV the header is line
//! 1; a row with a quoted line break is named by its first line).
//!
//! With [`Options::all_or_nothing`] the whole file is read and checked first (parsing and the
//! field checks of the data model), and nothing is sent if any row fails; what only the server
//! can judge stops the import at the first refused chunk, with the chunks before it stored.
//! Per-chunk atomic batches cannot give more than that.

use super::client::{connect, Client, Target};
use crate::app::App;
use crate::domain::{CreditEvent, Enterprise, FieldViolation, Inspection, Inspector, Violations};
use crate::server::{convert, pb, status::violations_of};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// Records per chunk sent to the server.
pub const CHUNK: usize = 1000;

/// Reasons kept in [`Summary::errors`] (the rejects file has them all).
const MAX_ERRORS: usize = 1000;

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

    /// The field checks of the data model, as the server makes them, for `records[0]`.
    fn check(&self) -> Vec<FieldViolation> {
        let mut v = Violations::new();
        let at = "records[0]";
        match self {
            Record::Enterprise(e) => e.validate(at, &mut v),
            Record::Event(e) => e.validate(at, &mut v),
            Record::Inspector(i) => i.validate(at, &mut v),
            Record::Inspection(i) => i.clone().into_event().validate(at, &mut v),
        }
        v.into_vec()
    }
}

/// How to import.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Where bad rows go; default: beside the input, `<input>.rejects.jsonl` (or `.csv` for a
    /// CSV input; `import.rejects.jsonl` in the working directory for standard input). Written
    /// only when a row is rejected; a clean import removes an earlier file of that name, so the
    /// file always belongs to the latest import.
    pub rejects: Option<PathBuf>,
    /// Check the whole file first and send nothing if any row fails; stop at the first chunk
    /// the server refuses (see the module docs for what this guarantees).
    pub all_or_nothing: bool,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Records stored.
    pub accepted: u64,
    /// Records already stored identically.
    pub duplicates: u64,
    /// Rows rejected: each is in the rejects file with its reasons.
    pub rejected: u64,
    /// Why, as `line N: field: problem`, in the order found (the first 1,000).
    pub errors: Vec<String>,
    /// The rejects file, when a row was rejected.
    pub rejects: Option<PathBuf>,
    /// With `all_or_nothing`: why the import stopped before the end of the file.
    pub stopped: Option<String>,
}

impl Summary {
    /// The one-line summary: `accepted N, duplicates M, rejected K (reasons in PATH)`.
    pub fn line(&self) -> String {
        let mut s = format!(
            "accepted {}, duplicates {}, rejected {}",
            self.accepted, self.duplicates, self.rejected
        );
        if let Some(p) = &self.rejects {
            s.push_str(&format!(" (reasons in {})", p.display()));
        }
        s
    }

    /// Prints the first reasons and why the import stopped to standard error, then
    /// [`Summary::line`] to standard output.
    pub fn print(&self) {
        const SHOWN: usize = 10;
        for e in self.errors.iter().take(SHOWN) {
            eprintln!("{e}");
        }
        if let (true, Some(p)) = (self.errors.len() > SHOWN, &self.rejects) {
            eprintln!("... every rejected row and its reasons: {}", p.display());
        }
        if let Some(why) = &self.stopped {
            eprintln!("{why}");
        }
        println!("{}", self.line());
    }

    fn error(&mut self, line: usize, msg: &str) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(format!("line {line}: {msg}"));
        }
    }
}

/// The default rejects file for `input`.
pub fn default_rejects(input: &Path) -> PathBuf {
    if input.as_os_str() == "-" {
        return PathBuf::from("import.rejects.jsonl");
    }
    let ext = if is_csv(input) { "csv" } else { "jsonl" };
    let mut name = input.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".rejects.{ext}"));
    input.with_file_name(name)
}

fn is_csv(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// A row of the input as read: its file line, its text (or CSV fields) for the rejects file.
#[derive(Debug, Clone)]
enum Raw {
    Line(String),
    Fields(csv::ByteRecord),
}

/// A readable row, kept with its origin until the server has taken it.
#[derive(Debug, Clone)]
struct Row {
    line: usize,
    raw: Raw,
    record: Record,
}

/// The rejects file, created at the first rejected row.
struct Rejects {
    path: PathBuf,
    csv_header: Option<csv::ByteRecord>,
    out: Option<Box<dyn Write + Send>>,
}

impl Rejects {
    /// Writes one rejected row with its reasons, and counts it.
    fn write(
        &mut self,
        s: &mut Summary,
        line: usize,
        raw: &Raw,
        reasons: &[String],
    ) -> anyhow::Result<()> {
        s.rejected += 1;
        for r in reasons {
            s.error(line, r);
        }
        s.rejects = Some(self.path.clone());
        if self.out.is_none() {
            let f = std::fs::File::create(&self.path)
                .with_context(|| format!("cannot create `{}`", self.path.display()))?;
            let mut w: Box<dyn Write + Send> = Box::new(std::io::BufWriter::new(f));
            if let Some(h) = &self.csv_header {
                let mut c = csv::Writer::from_writer(Vec::new());
                let mut full = csv::ByteRecord::from(vec!["line", "reasons"]);
                full.extend(h.iter());
                c.write_byte_record(&full)?;
                w.write_all(&c.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
            }
            self.out = Some(w);
        }
        let Some(w) = self.out.as_mut() else {
            unreachable!("created above")
        };
        let mut buf = Vec::new();
        match raw {
            Raw::Line(text) => {
                serde_json::to_writer(
                    &mut buf,
                    &serde_json::json!({"line": line, "reasons": reasons, "text": text}),
                )?;
                buf.push(b'\n');
            }
            Raw::Fields(f) => {
                let mut c = csv::WriterBuilder::new()
                    .flexible(true)
                    .from_writer(&mut buf);
                let mut full = csv::ByteRecord::new();
                full.push_field(line.to_string().as_bytes());
                full.push_field(reasons.join("; ").as_bytes());
                full.extend(f.iter());
                c.write_byte_record(&full)?;
                c.flush()?;
            }
        }
        w.write_all(&buf)
            .with_context(|| format!("cannot write `{}`", self.path.display()))
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        match self.out.as_mut() {
            Some(w) => w
                .flush()
                .with_context(|| format!("cannot write `{}`", self.path.display())),
            None => {
                // A clean import: an earlier import's rejects would mislead.
                match std::fs::remove_file(&self.path) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e).with_context(|| {
                        format!("cannot remove the old `{}`", self.path.display())
                    }),
                }
            }
        }
    }
}

/// Imports `path` into the server `target` names. Inspector records go with `roster_token` when
/// given (the roster is the admin's, the other records the ingest role's), so one file in file
/// order needs no split. Fails only when the import cannot go on (no server, a token refused,
/// a refusal naming no row); rejected rows are counted in the summary.
pub async fn run(
    target: &Target,
    roster_token: Option<&str>,
    path: &Path,
    opts: &Options,
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
    let bar = if opts.progress && total > 0 {
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
    let mut rows = Reader::new(reader, is_csv(path))?;
    let mut rejects = Rejects {
        path: opts
            .rejects
            .clone()
            .unwrap_or_else(|| default_rejects(path)),
        csv_header: rows.csv_header(),
        out: None,
    };
    let mut sender = Sender {
        client: &mut client,
        roster,
        kind: "",
        rows: Vec::new(),
        events: None,
        stream_events: !opts.all_or_nothing,
        stop_at_refusal: opts.all_or_nothing,
    };
    let result = async {
        if opts.all_or_nothing {
            // Read and check everything first; send nothing if any row is bad.
            let mut all = Vec::new();
            while let Some(item) = rows.next_row()? {
                bar.set_position(rows.position());
                match item {
                    Ok(row) => {
                        let v = row.record.check();
                        if v.is_empty() {
                            all.push(row);
                        } else {
                            let reasons = v.iter().map(|f| reason(&f.field, &f.description));
                            let reasons: Vec<String> = reasons.collect();
                            rejects.write(&mut summary, row.line, &row.raw, &reasons)?;
                        }
                    }
                    Err((line, raw, why)) => rejects.write(&mut summary, line, &raw, &[why])?,
                }
            }
            if summary.rejected > 0 {
                summary.stopped = Some(format!(
                    "nothing sent: {} bad {} (--all-or-nothing)",
                    summary.rejected,
                    plural(summary.rejected, "row", "rows")
                ));
                return Ok(());
            }
            // The second pass counts records sent, not bytes.
            bar.set_length(all.len() as u64);
            bar.set_position(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} records eta {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            for row in all {
                bar.inc(1);
                if !sender.push(row, &mut summary, &mut rejects).await? {
                    return Ok(());
                }
            }
        } else {
            while let Some(item) = rows.next_row()? {
                bar.set_position(rows.position());
                match item {
                    Ok(row) => {
                        sender.push(row, &mut summary, &mut rejects).await?;
                    }
                    Err((line, raw, why)) => rejects.write(&mut summary, line, &raw, &[why])?,
                }
                bar.set_message(format!("{} stored", summary.accepted));
            }
        }
        sender.flush(&mut summary, &mut rejects).await?;
        anyhow::Ok(())
    }
    .await;
    bar.finish_and_clear();
    // The rejects found so far are kept even when the import stops with an error.
    rejects.finish()?;
    result?;
    Ok(summary)
}

/// The form of a noun that goes with `n`: `one` for 1 (`1 row`), else `many` (`2 rows`).
pub fn plural<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// A reason for the rejects file: `field: problem`, the `records[i].` prefix taken off.
fn reason(field: &str, description: &str) -> String {
    let field = field
        .strip_prefix("records[")
        .and_then(|r| r.split_once(']'))
        .map(|(_, rest)| rest.trim_start_matches('.'))
        .unwrap_or(field);
    if field.is_empty() {
        description.to_string()
    } else {
        format!("{field}: {description}")
    }
}

/// Reads rows from JSON lines or CSV, with 1-based file lines.
struct Reader {
    lines: Option<std::io::Lines<Box<dyn BufRead>>>,
    csv: Option<csv::Reader<Box<dyn BufRead>>>,
    headers: Option<csv::StringRecord>,
    line: usize,
    bytes: u64,
}

/// A row that cannot be read: its line, what there is of it, and why.
type Unreadable = (usize, Raw, String);

impl Reader {
    fn new(r: Box<dyn BufRead>, csv: bool) -> anyhow::Result<Reader> {
        if !csv {
            return Ok(Reader {
                lines: Some(r.lines()),
                csv: None,
                headers: None,
                line: 0,
                bytes: 0,
            });
        }
        let mut c = csv::ReaderBuilder::new().flexible(true).from_reader(r);
        let headers = c.headers().context("reading the CSV header")?.clone();
        Ok(Reader {
            lines: None,
            csv: Some(c),
            headers: Some(headers),
            line: 1,
            bytes: 0,
        })
    }

    fn csv_header(&self) -> Option<csv::ByteRecord> {
        self.headers.as_ref().map(|h| h.as_byte_record().clone())
    }

    /// Bytes read so far, for the progress bar.
    fn position(&self) -> u64 {
        match &self.csv {
            Some(c) => c.position().byte(),
            None => self.bytes,
        }
    }

    /// The next row, `Err` for one that cannot be read; `None` at the end. Fails only when the
    /// file itself cannot be read.
    fn next_row(&mut self) -> anyhow::Result<Option<Result<Row, Unreadable>>> {
        if let Some(lines) = self.lines.as_mut() {
            loop {
                let Some(text) = lines.next() else {
                    return Ok(None);
                };
                self.line += 1;
                let line = self.line;
                let text = text.with_context(|| format!("reading line {line}"))?;
                self.bytes += text.len() as u64 + 1;
                let t = text.trim();
                if t.is_empty() || t.starts_with('#') {
                    continue;
                }
                return Ok(Some(match super::client::from_json_line::<Record>(t) {
                    Ok(record) => Ok(Row {
                        line,
                        raw: Raw::Line(text),
                        record,
                    }),
                    Err(e) => {
                        let why = json_error(&e);
                        Err((line, Raw::Line(text), why))
                    }
                }));
            }
        }
        let (Some(c), Some(headers)) = (self.csv.as_mut(), self.headers.as_ref()) else {
            return Ok(None);
        };
        let mut rec = csv::ByteRecord::new();
        let more = match c.read_byte_record(&mut rec) {
            Ok(more) => more,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(self.line);
                anyhow::bail!("line {line}: the CSV cannot be read: {e}");
            }
        };
        if !more {
            return Ok(None);
        }
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        self.line = line;
        let raw = Raw::Fields(rec.clone());
        if rec.len() != headers.len() {
            let why = format!(
                "the row has {} {}, the header {}",
                rec.len(),
                plural(rec.len() as u64, "field", "fields"),
                headers.len()
            );
            return Ok(Some(Err((line, raw, why))));
        }
        let srec = match csv::StringRecord::from_byte_record(rec) {
            Ok(s) => s,
            Err(e) => {
                let col = headers.get(e.utf8_error().field()).unwrap_or("?");
                let why = format!("column `{col}`: not UTF-8 text");
                return Ok(Some(Err((line, raw, why))));
            }
        };
        Ok(Some(match srec.deserialize::<Enterprise>(Some(headers)) {
            Ok(e) => Ok(Row {
                line,
                raw,
                record: Record::Enterprise(e),
            }),
            Err(e) => {
                let why = match e.kind() {
                    csv::ErrorKind::Deserialize { err, .. } => match err.field() {
                        Some(i) => {
                            let i = i as usize;
                            format!(
                                "column `{}`: value `{}`: {}",
                                headers.get(i).unwrap_or("?"),
                                srec.get(i).unwrap_or(""),
                                err.kind()
                            )
                        }
                        None => {
                            column_error(headers, &srec).unwrap_or_else(|| err.kind().to_string())
                        }
                    },
                    _ => e.to_string(),
                };
                Err((line, raw, why))
            }
        }))
    }
}

/// The first column of `row` whose value its enterprise field cannot take, named by header:
/// the types that check their own text (codes, kinds, dates, statuses) report no column to the
/// CSV reader, so each is tried on its own here.
fn column_error(headers: &csv::StringRecord, row: &csv::StringRecord) -> Option<String> {
    fn try_as<T: serde::de::DeserializeOwned>(value: &str) -> Option<String> {
        serde_json::from_value::<T>(serde_json::Value::String(value.to_string()))
            .err()
            .map(|e| e.to_string())
    }
    headers.iter().zip(row.iter()).find_map(|(h, value)| {
        let why = match h {
            "credit_code" => try_as::<crate::domain::CreditCode>(value),
            "kind" => try_as::<crate::domain::EntityKind>(value),
            "established" => try_as::<crate::domain::Date>(value),
            "status" => try_as::<crate::domain::Status>(value),
            _ => None,
        }?;
        Some(format!("column `{h}`: value `{value}`: {why}"))
    })
}

/// A JSON error without serde's position inside the line (the file line is given instead).
fn json_error(e: &super::client::RecordError) -> String {
    match e.column {
        Some(c) => format!("unreadable record (column {c}): {e}"),
        None => format!("unreadable record: {e}"),
    }
}

/// Accumulates rows of one kind and sends them in chunks.
struct Sender<'a> {
    client: &'a mut Client,
    roster: Option<Client>,
    kind: &'static str,
    rows: Vec<Row>,
    events: Option<EventStream>,
    /// Send events through the pipelined bulk stream (else one unary call at a time).
    stream_events: bool,
    /// Stop at the first refused chunk instead of taking the bad rows out and sending again.
    stop_at_refusal: bool,
}

/// What the bulk stream's acknowledgements told.
#[derive(Default)]
struct Acks {
    accepted: u64,
    duplicates: u64,
    /// The rows of refused chunks, in the order acknowledged (the order sent).
    refused: Vec<Vec<Row>>,
}

struct EventStream {
    tx: tokio::sync::mpsc::Sender<pb::AppendEventsRequest>,
    /// The rows of each chunk sent and not yet acknowledged, by chunk number.
    book: std::sync::Arc<std::sync::Mutex<BTreeMap<u64, Vec<Row>>>>,
    next: u64,
    acks: tokio::task::JoinHandle<anyhow::Result<Acks>>,
}

impl<'a> Sender<'a> {
    /// Queues a row; false when the import stopped (all-or-nothing, a chunk refused).
    async fn push(&mut self, row: Row, s: &mut Summary, rj: &mut Rejects) -> anyhow::Result<bool> {
        if row.record.kind() != self.kind || self.rows.len() >= CHUNK {
            let switching = row.record.kind() != self.kind;
            if !self.send_chunk(s, rj).await? {
                return Ok(false);
            }
            if switching {
                self.close_events(s, rj).await?;
            }
            self.kind = row.record.kind();
        }
        self.rows.push(row);
        Ok(true)
    }

    async fn flush(&mut self, s: &mut Summary, rj: &mut Rejects) -> anyhow::Result<()> {
        if self.send_chunk(s, rj).await? {
            self.close_events(s, rj).await?;
        }
        Ok(())
    }

    /// Ends the event stream, then sends the good rows of its refused chunks again.
    async fn close_events(&mut self, s: &mut Summary, rj: &mut Rejects) -> anyhow::Result<()> {
        if let Some(es) = self.events.take() {
            drop(es.tx);
            let got = es.acks.await??;
            s.accepted += got.accepted;
            s.duplicates += got.duplicates;
            // Sent again whole, in order, for a fresh answer: a chunk's acknowledgement may
            // name a row whose only fault was an event of an earlier refused chunk (a credit
            // repair of it), stored by now.
            for rows in got.refused {
                self.send_until_taken("event", rows, s, rj).await?;
            }
        }
        Ok(())
    }

    /// Sends the queued chunk; false when the import stopped.
    async fn send_chunk(&mut self, s: &mut Summary, rj: &mut Rejects) -> anyhow::Result<bool> {
        if self.rows.is_empty() {
            return Ok(true);
        }
        let rows = std::mem::take(&mut self.rows);
        if self.kind == "event" && self.stream_events {
            self.send_events(rows).await?;
            return Ok(true);
        }
        if self.stop_at_refusal {
            return match self.call(self.kind, &rows).await? {
                Ok((a, d)) => {
                    s.accepted += a;
                    s.duplicates += d;
                    Ok(true)
                }
                Err(status) => {
                    let first = rows.first().map(|r| r.line).unwrap_or(0);
                    let v = violations_of(&status);
                    let named = by_row(&v);
                    for (i, r) in rows.iter().enumerate() {
                        let reasons = match named.get(&i) {
                            Some(rs) => rs.clone(),
                            None => vec![format!(
                                "not stored: the chunk from line {first} was refused"
                            )],
                        };
                        rj.write(s, r.line, &r.raw, &reasons)?;
                    }
                    s.stopped = Some(format!(
                        "stopped at line {first} (--all-or-nothing): the server refused the \
                         chunk from there: {}; the chunks before it are stored, nothing from \
                         there on was",
                        status.message()
                    ));
                    Ok(false)
                }
            };
        }
        let kind = self.kind;
        self.send_until_taken(kind, rows, s, rj).await?;
        Ok(true)
    }

    /// Sends `rows` until the server takes them, taking out the rows it names each time. A
    /// refusal that names no row (an old server whose answer naming every bad row was too
    /// large to send, or a check of the batch as a whole) is narrowed down by sending each half
    /// on its own; a single row refused for its input without a name is rejected with the
    /// server's message. Any other refusal of a single row stops the import.
    async fn send_until_taken(
        &mut self,
        kind: &'static str,
        rows: Vec<Row>,
        s: &mut Summary,
        rj: &mut Rejects,
    ) -> anyhow::Result<()> {
        // Parts still to send, the next on top, so file order is kept.
        let mut todo = vec![rows];
        while let Some(mut rows) = todo.pop() {
            while !rows.is_empty() {
                let status = match self.call(kind, &rows).await? {
                    Ok((a, d)) => {
                        s.accepted += a;
                        s.duplicates += d;
                        break;
                    }
                    Err(status) => status,
                };
                let message = format!("{:?}: {}", status.code(), status.message());
                if drop_named(&mut rows, &violations_of(&status), s, rj)? {
                    continue;
                }
                if rows.len() > 1 {
                    let second = rows.split_off(rows.len() / 2);
                    todo.push(second);
                    todo.push(rows);
                    break;
                }
                let input = matches!(
                    status.code(),
                    tonic::Code::InvalidArgument
                        | tonic::Code::AlreadyExists
                        | tonic::Code::FailedPrecondition
                        | tonic::Code::OutOfRange
                );
                let line = rows[0].line;
                if !input {
                    anyhow::bail!("line {line}: the server refused the {kind} record: {message}");
                }
                rj.write(s, line, &rows[0].raw, &[status.message().to_string()])?;
                break;
            }
        }
        Ok(())
    }

    /// One unary call with `rows`: `Ok(Ok((accepted, duplicates)))`, or the refusal. Fails for
    /// what no retry can mend (no server, a token refused).
    async fn call(
        &mut self,
        kind: &'static str,
        rows: &[Row],
    ) -> anyhow::Result<Result<(u64, u64), tonic::Status>> {
        let result = match kind {
            "event" => {
                let records = rows
                    .iter()
                    .filter_map(|r| match &r.record {
                        Record::Event(e) => Some(convert::event_to(e, 0)),
                        _ => None,
                    })
                    .collect();
                self.client
                    .append_events(pb::AppendEventsRequest { records })
                    .await
            }
            "enterprise" => {
                let records = rows
                    .iter()
                    .filter_map(|r| match &r.record {
                        Record::Enterprise(e) => Some(convert::enterprise_to(e, 0)),
                        _ => None,
                    })
                    .collect();
                self.client
                    .upsert_enterprises(pb::UpsertEnterprisesRequest { records })
                    .await
            }
            "inspector" => {
                let records = rows
                    .iter()
                    .filter_map(|r| match &r.record {
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
                    .upsert_inspectors(pb::UpsertInspectorsRequest { records })
                    .await
            }
            _ => {
                let records = rows
                    .iter()
                    .filter_map(|r| match &r.record {
                        Record::Inspection(i) => Some(convert::inspection_to(i)),
                        _ => None,
                    })
                    .collect();
                self.client
                    .record_inspections(pb::RecordInspectionsRequest { records })
                    .await
            }
        };
        match result {
            Ok(r) => {
                let r = r.into_inner();
                Ok(Ok((r.accepted as u64, r.duplicates as u64)))
            }
            Err(status) => {
                let first = rows.first().map(|r| r.line).unwrap_or(0);
                fatal(status, first, kind).map(Err)
            }
        }
    }

    async fn send_events(&mut self, rows: Vec<Row>) -> anyhow::Result<()> {
        if self.events.is_none() {
            let (tx, rx) = tokio::sync::mpsc::channel::<pb::AppendEventsRequest>(8);
            let book = std::sync::Arc::new(std::sync::Mutex::new(BTreeMap::<u64, Vec<Row>>::new()));
            let acks_book = book.clone();
            let mut client = self.client.clone();
            let acks = tokio::spawn(async move {
                let mut got = Acks::default();
                let mut stream = client
                    .bulk_append_events(tokio_stream::wrappers::ReceiverStream::new(rx))
                    .await
                    .map_err(|st| match fatal(st, 0, "event") {
                        Err(e) => e,
                        Ok(st) => super::client::explain(st),
                    })?
                    .into_inner();
                while let Some(ack) = stream.message().await? {
                    let rows = acks_book
                        .lock()
                        .map_err(|_| anyhow::anyhow!("the chunk book is poisoned"))?
                        .remove(&ack.chunk)
                        .unwrap_or_default();
                    if ack.ok {
                        if let Some(sum) = ack.summary {
                            got.accepted += sum.accepted as u64;
                            got.duplicates += sum.duplicates as u64;
                        }
                    } else {
                        got.refused.push(rows);
                    }
                }
                Ok(got)
            });
            self.events = Some(EventStream {
                tx,
                book,
                next: 0,
                acks,
            });
        }
        if let Some(es) = &mut self.events {
            let records = rows
                .iter()
                .filter_map(|r| match &r.record {
                    Record::Event(e) => Some(convert::event_to(e, 0)),
                    _ => None,
                })
                .collect();
            if let Ok(mut b) = es.book.lock() {
                b.insert(es.next, rows);
            }
            es.next += 1;
            if es
                .tx
                .send(pb::AppendEventsRequest { records })
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

/// `Ok(status)` for a refusal worth mending by taking rows out; an error for what stops the
/// import (no server, a token refused).
fn fatal(status: tonic::Status, first_line: usize, kind: &str) -> anyhow::Result<tonic::Status> {
    match status.code() {
        tonic::Code::Unavailable => {
            anyhow::bail!("server unavailable: {}", status.message())
        }
        // Every later chunk of this kind would be refused too: stop and say why.
        tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => {
            Err(super::client::explain(status).context(format!(
                "line {first_line}: cannot import {kind} records with this token"
            )))
        }
        _ => Ok(status),
    }
}

/// The reasons the violations give per row index (`records[i]...`), in row order.
fn by_row(v: &[FieldViolation]) -> BTreeMap<usize, Vec<String>> {
    let mut out: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for f in v {
        let i = f
            .field
            .strip_prefix("records[")
            .and_then(|r| r.split_once(']'))
            .and_then(|(i, _)| i.parse::<usize>().ok());
        if let Some(i) = i {
            out.entry(i)
                .or_default()
                .push(reason(&f.field, &f.description));
        }
    }
    out
}

/// Takes the rows a refusal names out of `rows` and writes them to the rejects file; false
/// when it names none of them.
fn drop_named(
    rows: &mut Vec<Row>,
    v: &[FieldViolation],
    s: &mut Summary,
    rj: &mut Rejects,
) -> anyhow::Result<bool> {
    let named: BTreeMap<usize, Vec<String>> = by_row(v)
        .into_iter()
        .filter(|(i, _)| *i < rows.len())
        .collect();
    if named.is_empty() {
        return Ok(false);
    }
    let mut kept = Vec::with_capacity(rows.len() - named.len());
    for (i, r) in std::mem::take(rows).into_iter().enumerate() {
        match named.get(&i) {
            Some(reasons) => rj.write(s, r.line, &r.raw, reasons)?,
            None => kept.push(r),
        }
    }
    *rows = kept;
    Ok(true)
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
    demo_warnings(app, &data).await
}

/// Early warning on the demo, as of the demo's date: the default warning rules (activated if
/// none is), group signals over the whole population, and the enterprises of the demo's
/// serious-list incidents classified once more through the single-classification path, whose
/// store job evaluates their enterprise signals. So `serve --demo` starts with the injected
/// incidents open as alerts at their levels.
async fn demo_warnings(app: &App, data: &crate::demo::DemoData) -> anyhow::Result<()> {
    let w = app.warnings().clone();
    w.ensure_default_rules(crate::clock::now_ms()).await?;
    let codes: Vec<crate::domain::CreditCode> = data
        .incidents
        .iter()
        .filter_map(|i| i.subject.strip_prefix("enterprise/"))
        .filter_map(|c| crate::domain::CreditCode::parse(c).ok())
        .collect();
    let c = app.classifier().clone();
    let as_of = crate::demo::demo_as_of();
    let (e, enterprises) = tokio::task::spawn_blocking(move || {
        let system = crate::classify::service::SYSTEM;
        let now = crate::clock::now_ms();
        let e = w.evaluate_groups(as_of, None, system, now, crate::clock::today())?;
        for code in &codes {
            c.classify_one_blocking(*code, as_of, None, true)?;
        }
        Ok::<_, crate::error::Error>((e, codes.len()))
    })
    .await??;
    tracing::info!(
        as_of = %e.as_of,
        group_alerts = e.fired.raised.len(),
        enterprises,
        "demo warnings evaluated"
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
