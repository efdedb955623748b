//! Bad input gets the right answer (issue 11, section 4): an undecodable body is the caller's
//! fault, the error details of a huge bad batch stay small enough for standard clients, one
//! answer names every bad field of a batch (conversion, field and store checks together), and
//! an oversize message gets the documented status.

mod common;

use common::*;
use creditrisk::server::{pb, Limits};
use std::collections::BTreeSet;
use tonic::codec::{BufferSettings, Codec, EncodeBuf, Encoder};
use tonic::{Code, Status};

/// A codec that sends raw bytes as the message and decodes the reply as `U` (if any).
struct RawCodec<U>(std::marker::PhantomData<U>);

struct RawEncoder;

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        use prost::bytes::BufMut;
        buf.put_slice(&item);
        Ok(())
    }
}

impl<U: prost::Message + Default + Send + 'static> Codec for RawCodec<U> {
    type Encode = Vec<u8>;
    type Decode = U;
    type Encoder = RawEncoder;
    type Decoder = tonic_prost::ProstDecoder<U>;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstDecoder::new(BufferSettings::default())
    }
}

#[tokio::test]
async fn undecodable_body_is_invalid_argument() {
    let s = TestServer::start().await;
    let mut grpc = tonic::client::Grpc::new(s.channel_as(Role::Ingest).await);
    // Field 1 with wire type 7, which does not exist: no message decodes from this.
    for (path, garbage) in [
        (
            "/creditrisk.v1.RecordService/AppendEvents",
            vec![0x0f, 0xff, 0xff],
        ),
        (
            "/creditrisk.v1.RecordService/UpsertEnterprises",
            vec![0x0a, 0x7f, 0x01],
        ),
    ] {
        grpc.ready().await.unwrap();
        let err = grpc
            .unary(
                tonic::Request::new(garbage),
                http::uri::PathAndQuery::from_static(path),
                RawCodec::<pb::WriteSummary>(std::marker::PhantomData),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{path}: {err:?}");
        let want = path.rsplit('/').next().unwrap();
        assert!(
            err.message().contains("could not be decoded")
                && err.message().contains(&format!("{want}Request")),
            "{path}: {}",
            err.message()
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn ten_thousand_bad_records_get_bounded_details_with_the_count_of_the_rest() {
    let s = TestServer::start().await;
    // A standard tonic client with default settings (16 KiB of headers at most).
    let mut c = s.client().await;
    let records = (0..10_000u64)
        .map(|n| {
            let mut e = synthetic_enterprise(n);
            e.credit_code = format!("bad-code-{n}");
            e
        })
        .collect();
    let err = c
        .upsert_enterprises(pb::UpsertEnterprisesRequest { records })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let v = violations(&err);
    assert_eq!(v.len(), 51, "{v:?}");
    assert_eq!(v[0].0, "records[0].credit_code");
    assert_eq!(v[49].0, "records[49].credit_code");
    assert_eq!(v[50], ("records".into(), "and 9950 more violations".into()));
    assert!(
        err.message().ends_with("and 9990 more violations"),
        "{}",
        err.message()
    );
    // What crossed the wire as headers: the message and the base64 of the details.
    let wire = err.message().len() + err.details().len().div_ceil(3) * 4;
    assert!(wire < 10 * 1024, "{wire} bytes of status metadata");
    s.stop().await;
}

fn fields(err: &Status) -> BTreeSet<String> {
    violations(err).into_iter().map(|(f, _)| f).collect()
}

fn assert_names(err: &Status, want: &[&str]) {
    let got = fields(err);
    for w in want {
        assert!(got.contains(*w), "`{w}` missing from {:?}", violations(err));
    }
}

#[tokio::test]
async fn append_events_names_every_bad_field_of_the_batch_in_one_answer() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    c.upsert_enterprises(pb::UpsertEnterprisesRequest {
        records: vec![synthetic_enterprise(1)],
    })
    .await
    .unwrap();
    let mut bad_code = synthetic_event("ev", 0, 1); // a penalty
    bad_code.credit_code = "not-a-code".into();
    if let Some(pb::credit_event::Body::Penalty(p)) = &mut bad_code.body {
        p.amount_yuan = -5; // a field check on a record whose code did not parse
    }
    let mut bad_date = synthetic_event("ev", 1, 1);
    bad_date.effective_date = "2024-13-45".into();
    let unknown_enterprise = synthetic_event("ev", 2, 99);
    let mut bad_enum = synthetic_event("ev", 3, 1); // a penalty
    if let Some(pb::credit_event::Body::Penalty(p)) = &mut bad_enum.body {
        p.severity = 99;
    }
    let err = c
        .append_events(pb::AppendEventsRequest {
            records: vec![bad_code, bad_date, unknown_enterprise, bad_enum],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_names(
        &err,
        &[
            "records[0].credit_code",
            "records[0].penalty.amount_yuan",
            "records[1].effective_date",
            "records[2].credit_code",
            "records[3].penalty.severity",
        ],
    );
    let v = violations(&err);
    assert!(v[3].1.contains("no enterprise"), "{v:?}");
    // In record order, and nothing written.
    let order: Vec<_> = v.iter().map(|(f, _)| f[..10].to_string()).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    let page = c
        .list_events(pb::ListEventsRequest {
            credit_code: synthetic_code(1).to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(page.events.is_empty());
    s.stop().await;
}

#[tokio::test]
async fn upsert_enterprises_names_every_bad_field_of_the_batch_in_one_answer() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    let mut bad_code = synthetic_enterprise(0);
    bad_code.credit_code = "not-a-code".into();
    bad_code.jurisdiction = "nowhere!".into();
    let mut bad_date = synthetic_enterprise(1);
    bad_date.established = "yesterday".into();
    bad_date.registered_capital_yuan = -1;
    let mut bad_enum = synthetic_enterprise(2);
    bad_enum.kind = 99;
    let mut bad_field = synthetic_enterprise(3);
    bad_field.industry = "Z9".into();
    let err = c
        .upsert_enterprises(pb::UpsertEnterprisesRequest {
            records: vec![bad_code, bad_date, bad_enum, bad_field],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_names(
        &err,
        &[
            "records[0].credit_code",
            "records[0].jurisdiction",
            "records[1].established",
            "records[1].registered_capital_yuan",
            "records[2].kind",
            "records[3].industry",
        ],
    );
    assert_eq!(violations(&err).len(), 6, "{:?}", violations(&err));
    assert!(
        violations(&err)
            .iter()
            .any(|(_, d)| d == "`99` is not an entity kind"),
        "{:?}",
        violations(&err)
    );
    s.stop().await;
}

fn inspector(i: u32) -> pb::Inspector {
    pb::Inspector {
        inspector_id: format!("insp-{i}"),
        name: format!("检查员{i}"),
        department: "samr-chengdu".into(),
        jurisdictions: vec!["510104".into()],
        qualifications: vec!["food".into()],
        certificate_number: format!("CD-{i}"),
        certificate_expiry: "2028-12-31".into(),
        active: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn upsert_inspectors_names_every_bad_field_of_the_batch_in_one_answer() {
    let s = TestServer::start().await;
    let mut c = s.client_as(Role::Admin).await;
    let mut bad_date = inspector(0);
    bad_date.certificate_expiry = "2028-02-30".into();
    bad_date.name = String::new();
    let mut bad_code = inspector(1);
    bad_code.conflict_enterprises = vec!["not-a-code".into()];
    bad_code.jurisdictions = vec!["nowhere!".into()];
    let mut bad_field = inspector(2);
    bad_field.qualifications = vec!["Food".into()];
    let err = c
        .upsert_inspectors(pb::UpsertInspectorsRequest {
            records: vec![bad_date, bad_code, bad_field],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_names(
        &err,
        &[
            "records[0].certificate_expiry",
            "records[0].name",
            "records[1].conflict_enterprises[0]",
            "records[1].jurisdictions[0]",
            "records[2].qualifications[0]",
        ],
    );
    s.stop().await;
}

#[tokio::test]
async fn record_inspections_names_every_bad_field_of_the_batch_in_one_answer() {
    let s = TestServer::start().await;
    let mut c = s.client().await;
    c.upsert_enterprises(pb::UpsertEnterprisesRequest {
        records: vec![synthetic_enterprise(0)],
    })
    .await
    .unwrap();
    s.client_as(Role::Admin)
        .await
        .upsert_inspectors(pb::UpsertInspectorsRequest {
            records: vec![inspector(1)],
        })
        .await
        .unwrap();
    let insp = |i: u32| pb::Inspection {
        inspection_id: format!("ins-{i}"),
        credit_code: synthetic_code(0).to_string(),
        item_id: "item-1".into(),
        date: "2025-07-01".into(),
        department: "samr-chengdu".into(),
        inspector_ids: vec!["insp-1".into()],
        result_codes: vec!["1".into()],
        draw_id: String::new(),
    };
    let mut bad_code = insp(0);
    bad_code.credit_code = "not-a-code".into();
    bad_code.item_id = "bad item".into();
    let mut bad_date = insp(1);
    bad_date.date = "2025-07".into();
    let mut unknown_inspector = insp(2);
    unknown_inspector.inspector_ids = vec!["ghost".into()];
    let mut bad_result = insp(3);
    bad_result.result_codes = vec!["2".into()];
    let err = c
        .record_inspections(pb::RecordInspectionsRequest {
            records: vec![bad_code, bad_date, unknown_inspector, bad_result],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_names(
        &err,
        &[
            "records[0].credit_code",
            "records[0].item_id",
            "records[1].date",
            "records[2].inspector_ids[0]",
            "records[3].result_codes[0]",
        ],
    );
    s.stop().await;
}

#[tokio::test]
async fn oversize_message_is_out_of_range() {
    let limits = Limits {
        max_message_bytes: 64 * 1024,
        ..Limits::default()
    };
    let s = TestServer::start_with(limits).await;
    let mut c = s.client().await;
    let records: Vec<_> = (0..1000).map(synthetic_enterprise).collect();
    let err = c
        .upsert_enterprises(pb::UpsertEnterprisesRequest { records })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    assert!(
        err.message().contains("too large") && err.message().contains("65536"),
        "{}",
        err.message()
    );
    s.stop().await;
}
