//! Client commands: call the service from the command line and print JSON lines, so a person
//! can use it without writing code. Writes read JSON lines in the import format's record shape
//! (without the kind tag) from a file or standard input.

use crate::domain::{Enterprise, Inspection, Inspector, InspectorVersion};
use crate::server::{convert, pb, status::violations_of};
use anyhow::Context;
use pb::record_service_client::RecordServiceClient;
use serde::de::DeserializeOwned;
use std::io::BufRead;
use tonic::transport::Channel;

/// The generated client over a channel.
pub type Client = RecordServiceClient<Channel>;

/// A channel to `server` (e.g. `http://127.0.0.1:50051`), for any service's client.
pub async fn channel(server: &str) -> anyhow::Result<Channel> {
    Channel::from_shared(server.to_string())
        .with_context(|| format!("`{server}` is not a server address"))?
        .connect()
        .await
        .with_context(|| format!("cannot connect to `{server}`"))
}

/// Connects the record client to `server`.
pub async fn connect(server: &str) -> anyhow::Result<Client> {
    Ok(RecordServiceClient::new(channel(server).await?)
        .max_decoding_message_size(64 * 1024 * 1024)
        .max_encoding_message_size(64 * 1024 * 1024))
}

/// Turns a failed call into a readable error listing its field violations.
pub fn explain(status: tonic::Status) -> anyhow::Error {
    let mut msg = format!("{:?}: {}", status.code(), status.message());
    for v in violations_of(&status) {
        msg.push_str(&format!("\n  {}: {}", v.field, v.description));
    }
    anyhow::anyhow!(msg)
}

/// Reads JSON lines of `T` from a file, or standard input for `-`.
pub fn read_lines<T: DeserializeOwned>(path: &str) -> anyhow::Result<Vec<T>> {
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
        out.push(serde_json::from_str(&line).with_context(|| format!("line {}", i + 1))?);
    }
    Ok(out)
}

fn print(v: &serde_json::Value) {
    println!("{v}");
}

fn enterprise_json(e: &pb::Enterprise) -> serde_json::Value {
    serde_json::json!({
        "credit_code": e.credit_code,
        "legacy_code": e.legacy_code,
        "name": e.name,
        "kind": format!("{:?}", e.kind()),
        "registering_authority": e.registering_authority,
        "jurisdiction": e.jurisdiction,
        "industry": e.industry,
        "established": e.established,
        "registered_capital_yuan": e.registered_capital_yuan,
        "status": format!("{:?}", e.status()),
        "legal_representative": e.legal_representative,
        "address": e.address,
        "seq": e.seq,
        "warnings": e.warnings,
    })
}

fn summary_json(s: pb::WriteSummary) -> serde_json::Value {
    serde_json::json!({"accepted": s.accepted, "duplicates": s.duplicates, "seqs": s.seqs})
}

/// `enterprise get CODE`.
pub async fn get_enterprise(server: &str, code: &str) -> anyhow::Result<()> {
    let mut c = connect(server).await?;
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
    server: &str,
    mut req: pb::ListEnterprisesRequest,
    all: bool,
) -> anyhow::Result<()> {
    let mut c = connect(server).await?;
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
pub async fn put_enterprises(server: &str, path: &str) -> anyhow::Result<()> {
    let recs: Vec<Enterprise> = read_lines(path)?;
    let mut c = connect(server).await?;
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
pub async fn list_events(server: &str, code: &str) -> anyhow::Result<()> {
    let mut c = connect(server).await?;
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
pub async fn append_events(server: &str, path: &str) -> anyhow::Result<()> {
    let recs: Vec<crate::domain::CreditEvent> = read_lines(path)?;
    let mut c = connect(server).await?;
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
    server: &str,
    mut req: pb::ListInspectorsRequest,
) -> anyhow::Result<()> {
    let mut c = connect(server).await?;
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
pub async fn put_inspectors(server: &str, path: &str) -> anyhow::Result<()> {
    let recs: Vec<Inspector> = read_lines(path)?;
    let mut c = connect(server).await?;
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
pub async fn record_inspections(server: &str, path: &str) -> anyhow::Result<()> {
    let recs: Vec<Inspection> = read_lines(path)?;
    let mut c = connect(server).await?;
    let r = c
        .record_inspections(pb::RecordInspectionsRequest {
            records: recs.iter().map(convert::inspection_to).collect(),
        })
        .await
        .map_err(explain)?;
    print(&summary_json(r.into_inner()));
    Ok(())
}
