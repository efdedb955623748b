//! Client commands: call the service from the command line and print JSON lines, so a person
//! can use it without writing code. Writes read JSON lines in the import format's record shape
//! (without the kind tag) from a file or standard input.

use crate::domain::{Enterprise, Inspection, Inspector, InspectorVersion};
use crate::server::{convert, pb, status::violations_of};
use anyhow::Context;
use pb::record_service_client::RecordServiceClient;
use serde::de::DeserializeOwned;
use std::io::BufRead;
use std::path::PathBuf;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

/// Where client commands connect, and with which credentials. `Debug` hides the token.
#[derive(Clone, Default)]
pub struct Target {
    /// Server address, e.g. `http://127.0.0.1:50051` (`https://` for TLS).
    pub server: String,
    /// Bearer token `cr_<id>_<secret>`; `None` sends no credentials.
    pub token: Option<String>,
    /// PEM CA certificate to verify the server's certificate with (TLS).
    pub ca: Option<PathBuf>,
    /// PEM client certificate and its key, for servers that require mutual TLS.
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl Target {
    /// A plain-text target with an optional token.
    pub fn new(server: impl Into<String>, token: Option<String>) -> Target {
        Target {
            server: server.into(),
            token,
            ..Default::default()
        }
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("server", &self.server)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("ca", &self.ca)
            .field("identity", &self.identity)
            .finish()
    }
}

/// Adds `authorization: Bearer <token>` to every call (marked sensitive, so the HTTP/2 layer
/// does not index or print it).
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    /// An interceptor sending `token`, or nothing for `None`. Fails if the token is not
    /// printable ASCII (the message does not repeat it).
    pub fn new(token: Option<&str>) -> anyhow::Result<Bearer> {
        let Some(t) = token else {
            return Ok(Bearer(None));
        };
        let mut v = MetadataValue::try_from(format!("Bearer {}", t.trim()))
            .map_err(|_| anyhow::anyhow!("the token is not printable ASCII"))?;
        v.set_sensitive(true);
        Ok(Bearer(Some(v)))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// A channel that sends the bearer token with every call.
pub type AuthChannel = InterceptedService<Channel, Bearer>;

/// The generated client over a channel.
pub type Client = RecordServiceClient<AuthChannel>;

/// A channel to the target's server with its token, for any service's client.
pub async fn channel(target: &Target) -> anyhow::Result<AuthChannel> {
    let server = &target.server;
    let mut endpoint = Channel::from_shared(server.to_string())
        .with_context(|| format!("`{server}` is not a server address"))?;
    if target.ca.is_some() || target.identity.is_some() {
        let mut tls = ClientTlsConfig::new();
        if let Some(ca) = &target.ca {
            let pem =
                std::fs::read(ca).with_context(|| format!("cannot read `{}`", ca.display()))?;
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        if let Some((cert, key)) = &target.identity {
            let c =
                std::fs::read(cert).with_context(|| format!("cannot read `{}`", cert.display()))?;
            let k =
                std::fs::read(key).with_context(|| format!("cannot read `{}`", key.display()))?;
            tls = tls.identity(Identity::from_pem(c, k));
        }
        endpoint = endpoint.tls_config(tls).context("tls")?;
    }
    let ch = endpoint
        .connect()
        .await
        .with_context(|| format!("cannot connect to `{server}`"))?;
    Ok(InterceptedService::new(
        ch,
        Bearer::new(target.token.as_deref())?,
    ))
}

/// Connects the record client to the target.
pub async fn connect(target: &Target) -> anyhow::Result<Client> {
    Ok(RecordServiceClient::new(channel(target).await?)
        .max_decoding_message_size(64 * 1024 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024))
}

/// Turns a failed call into a readable error listing its field violations.
pub fn explain(status: tonic::Status) -> anyhow::Error {
    let mut msg = format!("{:?}: {}", status.code(), status.message());
    if status.code() == tonic::Code::Unauthenticated {
        msg.push_str("\n  hint: pass a token with --token or CREDITRISK_TOKEN");
    }
    for v in violations_of(&status) {
        msg.push_str(&format!("\n  {}: {}", v.field, v.description));
    }
    anyhow::anyhow!(msg)
}

/// Reads JSON lines of `T` from a file, or standard input for `-`.
pub fn read_lines<T: DeserializeOwned>(path: &str) -> anyhow::Result<Vec<T>> {
    read_records(path, "")
}

/// Reads JSON lines of records of `kind` from a file, or standard input for `-`. What the list and get
/// commands print is accepted as it is: a line may wrap the record in its kind (`{"event":
/// {...}}`, as `events list` and the import format do), and the fields the server sets
/// (`seq`, `warnings`) are ignored.
pub fn read_records<T: DeserializeOwned>(path: &str, kind: &str) -> anyhow::Result<Vec<T>> {
    let reader: Box<dyn BufRead> = if path == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot open `{path}`"))?,
        ))
    };
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(parse_line(&line, kind).with_context(|| format!("line {}", i + 1))?);
    }
    Ok(out)
}

/// One line of [`read_records`].
pub fn parse_line<T: DeserializeOwned>(line: &str, kind: &str) -> anyhow::Result<T> {
    let mut v: serde_json::Value = serde_json::from_str(line)?;
    if let Some(obj) = v.as_object_mut() {
        if obj.get(kind).is_some_and(|r| r.is_object()) {
            if let Some(inner) = obj.remove(kind) {
                v = inner;
            }
        }
    }
    if let (false, Some(obj)) = (kind.is_empty(), v.as_object_mut()) {
        obj.remove("seq");
        obj.remove("warnings");
        // `enterprise list` shows the current tier, which is derived, never put.
        if kind == "enterprise" {
            obj.remove("tier");
        }
    }
    Ok(from_json_value(v)?)
}

/// A JSON value read as a record whose fields failed to parse name themselves: the error is
/// ``field `body.penalty.amount_yuan`: ...`` rather than serde's bare message.
pub fn from_json_value<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, RecordError> {
    serde_path_to_error::deserialize(v).map_err(RecordError::from)
}

/// A JSON line of a record file read as a record (see [`from_json_value`]); the error also
/// gives the column where reading stopped.
pub fn from_json_line<T: DeserializeOwned>(line: &str) -> Result<T, RecordError> {
    let mut de = serde_json::Deserializer::from_str(line);
    let value = serde_path_to_error::deserialize(&mut de).map_err(RecordError::from)?;
    de.end().map_err(|e| RecordError {
        field: String::new(),
        column: Some(e.column()),
        message: bare(&e),
    })?;
    Ok(value)
}

/// Why a JSON record could not be read, naming its field when one is at fault.
#[derive(Debug)]
pub struct RecordError {
    /// Dotted path of the field (`effective_date`, `body.penalty.amount_yuan`), empty when the
    /// record as a whole is at fault.
    pub field: String,
    /// Column of the line where reading stopped, when known.
    pub column: Option<usize>,
    /// What is wrong, without serde's position suffix.
    pub message: String,
}

impl From<serde_path_to_error::Error<serde_json::Error>> for RecordError {
    fn from(e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let field = e.path().to_string();
        let inner = e.inner();
        RecordError {
            field: if field == "." { String::new() } else { field },
            column: (inner.column() > 0).then(|| inner.column()),
            message: bare(inner),
        }
    }
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.field.is_empty() {
            write!(f, "field `{}`: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RecordError {}

/// serde_json's message without its ` at line L column C` suffix.
fn bare(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn print(v: &serde_json::Value) {
    println!("{v}");
}

/// An enterprise as `enterprise get` and `list` print it: the data model's spelling (the
/// input format of `enterprise put`, enums in kebab-case), with `seq` and `warnings`.
pub fn enterprise_json(e: &pb::Enterprise) -> serde_json::Value {
    let mut v = crate::domain::Violations::new();
    let domain = convert::enterprise_from(e.clone(), "enterprise", &mut v)
        .and_then(|d| serde_json::to_value(d).ok());
    let mut out = match domain {
        Some(d) => d,
        // A value this client does not know (a newer server): print what came.
        None => serde_json::json!({
            "credit_code": e.credit_code,
            "legacy_code": e.legacy_code,
            "name": e.name,
            "kind": e.kind,
            "registering_authority": e.registering_authority,
            "jurisdiction": e.jurisdiction,
            "industry": e.industry,
            "established": e.established,
            "registered_capital_yuan": e.registered_capital_yuan,
            "status": e.status,
            "legal_representative": e.legal_representative,
            "address": e.address,
        }),
    };
    if let Some(o) = out.as_object_mut() {
        o.insert("seq".into(), e.seq.into());
        o.insert("warnings".into(), e.warnings.clone().into());
        // Listings carry the current tier; other answers leave it empty (and `put` ignores it).
        if !e.tier.is_empty() {
            o.insert("tier".into(), e.tier.clone().into());
        }
    }
    out
}

fn summary_json(s: pb::WriteSummary) -> serde_json::Value {
    serde_json::json!({"accepted": s.accepted, "duplicates": s.duplicates, "seqs": s.seqs})
}

/// `enterprise get CODE`.
pub async fn get_enterprise(target: &Target, code: &str) -> anyhow::Result<()> {
    let mut c = connect(target).await?;
    let e = c
        .get_enterprise(pb::GetEnterpriseRequest {
            credit_code: code.into(),
        })
        .await
        .map_err(explain)?
        .into_inner();
    print(&enterprise_json(&e));
    Ok(())
}

/// `enterprise list`: every page when `all`, else the first.
pub async fn list_enterprises(
    target: &Target,
    mut req: pb::ListEnterprisesRequest,
    all: bool,
) -> anyhow::Result<()> {
    let mut c = connect(target).await?;
    loop {
        let r = c
            .list_enterprises(req.clone())
            .await
            .map_err(explain)?
            .into_inner();
        for e in &r.enterprises {
            print(&enterprise_json(e));
        }
        if !all || r.next_page_token.is_empty() {
            if !r.next_page_token.is_empty() {
                eprintln!("more: --page-token {}", r.next_page_token);
            }
            return Ok(());
        }
        req.page_token = r.next_page_token;
    }
}

/// `enterprise put FILE`.
pub async fn put_enterprises(target: &Target, path: &str) -> anyhow::Result<()> {
    let recs: Vec<Enterprise> = read_records(path, "enterprise")?;
    let mut c = connect(target).await?;
    let r = c
        .upsert_enterprises(pb::UpsertEnterprisesRequest {
            records: recs.iter().map(|e| convert::enterprise_to(e, 0)).collect(),
        })
        .await
        .map_err(explain)?;
    print(&summary_json(r.into_inner()));
    Ok(())
}

/// `events list CODE`: every event of the enterprise, in ingest order.
pub async fn list_events(target: &Target, code: &str) -> anyhow::Result<()> {
    let mut c = connect(target).await?;
    let mut token = String::new();
    loop {
        let r = c
            .list_events(pb::ListEventsRequest {
                credit_code: code.into(),
                page_size: 1000,
                page_token: token,
            })
            .await
            .map_err(explain)?
            .into_inner();
        let mut v = crate::domain::Violations::new();
        for e in r.events {
            let seq = e.seq;
            if let Some(ev) = convert::event_from(e, "event", &mut v) {
                print(&serde_json::json!({"seq": seq, "event": ev}));
            }
        }
        if r.next_page_token.is_empty() {
            return Ok(());
        }
        token = r.next_page_token;
    }
}

/// `events append FILE`.
pub async fn append_events(target: &Target, path: &str) -> anyhow::Result<()> {
    let recs: Vec<crate::domain::CreditEvent> = read_records(path, "event")?;
    let mut c = connect(target).await?;
    let r = c
        .append_events(pb::AppendEventsRequest {
            records: recs.iter().map(|e| convert::event_to(e, 0)).collect(),
        })
        .await
        .map_err(explain)?;
    print(&summary_json(r.into_inner()));
    Ok(())
}

/// `inspector list`.
pub async fn list_inspectors(
    target: &Target,
    mut req: pb::ListInspectorsRequest,
) -> anyhow::Result<()> {
    let mut c = connect(target).await?;
    loop {
        let r = c
            .list_inspectors(req.clone())
            .await
            .map_err(explain)?
            .into_inner();
        let mut v = crate::domain::Violations::new();
        for i in r.inspectors {
            let seq = i.seq;
            if let Some(ins) = convert::inspector_from(i, "inspector", &mut v) {
                print(&serde_json::json!({"seq": seq, "inspector": ins}));
            }
        }
        if r.next_page_token.is_empty() {
            return Ok(());
        }
        req.page_token = r.next_page_token;
    }
}

/// `inspector put FILE`.
pub async fn put_inspectors(target: &Target, path: &str) -> anyhow::Result<()> {
    let recs: Vec<Inspector> = read_records(path, "inspector")?;
    let mut c = connect(target).await?;
    let r = c
        .upsert_inspectors(pb::UpsertInspectorsRequest {
            records: recs
                .into_iter()
                .map(|i| {
                    convert::inspector_to(&InspectorVersion {
                        seq: 0,
                        inspector: i,
                    })
                })
                .collect(),
        })
        .await
        .map_err(explain)?;
    print(&summary_json(r.into_inner()));
    Ok(())
}

/// `inspection record FILE`.
pub async fn record_inspections(target: &Target, path: &str) -> anyhow::Result<()> {
    let recs: Vec<Inspection> = read_records(path, "inspection")?;
    let mut c = connect(target).await?;
    let r = c
        .record_inspections(pb::RecordInspectionsRequest {
            records: recs.iter().map(convert::inspection_to).collect(),
        })
        .await
        .map_err(explain)?;
    print(&summary_json(r.into_inner()));
    Ok(())
}
