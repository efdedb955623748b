//! `creditrisk import`: JSON lines (mixed kinds, in file order) and CSV of enterprises into a
//! real server, with every rejected record reported by file line.

mod common;

use common::*;
use creditrisk::cli::import::{run, write_demo, Record};
use creditrisk::server::pb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_in_file_order_with_line_numbers_for_rejects() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.jsonl");
    {
        let mut f = std::fs::File::create(&path).unwrap();
        write_demo(300, 5, &mut f).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let total = text.lines().count() as u64;
    // Spoil one event: a date that does not exist, on a known line.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let bad = lines
        .iter()
        .position(|l| l.starts_with("{\"event\""))
        .unwrap()
        + 5;
    let mut rec: Record = serde_json::from_str(&lines[bad]).unwrap();
    let Record::Event(ev) = &mut rec else {
        panic!("line {bad} is not an event")
    };
    let original = ev.effective_date.to_string();
    lines[bad] = lines[bad].replace(
        &format!("\"effective_date\":\"{original}\""),
        "\"effective_date\":\"2025-02-30\"",
    );
    lines.insert(3, "this is not json".into());
    std::fs::write(&path, lines.join("\n")).unwrap();

    let summary = run(
        &s.target(Role::Ingest),
        Some(&s.tokens[&Role::Admin]),
        &path,
        false,
    )
    .await
    .unwrap();
    assert!(summary.rejected > 0);
    // The unreadable line is named, and so is the bad date (the line shifted by one).
    assert!(
        summary
            .errors
            .iter()
            .any(|e| e.starts_with("line 4: unreadable record")),
        "{:?}",
        summary.errors
    );
    let bad_line = bad + 2; // 1-based, after the inserted line
    assert!(
        summary
            .errors
            .iter()
            .any(|e| e.starts_with(&format!("line {bad_line}:")) && e.contains("2025-02-30")),
        "{:?}",
        &summary.errors[..summary.errors.len().min(5)]
    );
    // Rejected: the unreadable line and the whole chunk that held the bad event.
    assert_eq!(summary.accepted + summary.rejected, total + 1);

    // A second import of the same file stores nothing new.
    let again = run(
        &s.target(Role::Ingest),
        Some(&s.tokens[&Role::Admin]),
        &path,
        false,
    )
    .await
    .unwrap();
    assert_eq!(again.accepted, 0);
    assert_eq!(again.duplicates, summary.accepted);

    let mut c = s.client().await;
    let listed = c
        .list_enterprises(pb::ListEnterprisesRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.enterprises.len(), 300);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_of_enterprises() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.csv");
    let mut csv = String::from("credit_code,legacy_code,name,kind,registering_authority,jurisdiction,industry,established,registered_capital_yuan,status,legal_representative,address\n");
    for n in 0..5 {
        csv.push_str(&format!(
            "{},false,成都测试{n}有限公司,enterprise,510104,510104,F5211,2015-03-01,1000000,active,person-{n},成都市锦江区测试路{n}号\n",
            synthetic_code(n)
        ));
    }
    csv.push_str("91510100054946627X,false,坏的,enterprise,510104,510104,F5211,2015-03-01,10,active,p,addr\n");
    std::fs::write(&path, csv).unwrap();
    let summary = run(
        &s.target(Role::Ingest),
        Some(&s.tokens[&Role::Admin]),
        &path,
        false,
    )
    .await
    .unwrap();
    assert_eq!(summary.accepted, 0, "the bad row rejects its chunk");
    assert_eq!(summary.rejected, 6);
    assert!(
        summary
            .errors
            .iter()
            .any(|e| e.starts_with("line 7: credit_code:") && e.contains("check character")),
        "{:?}",
        summary.errors
    );
    // Fixed, the file goes in.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.lines().take(6).collect::<Vec<_>>().join("\n")).unwrap();
    let summary = run(
        &s.target(Role::Ingest),
        Some(&s.tokens[&Role::Admin]),
        &path,
        false,
    )
    .await
    .unwrap();
    assert_eq!((summary.accepted, summary.rejected), (5, 0));
    s.stop().await;
}
