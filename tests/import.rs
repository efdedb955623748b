//! `creditrisk import`: JSON lines (mixed kinds, in file order) and CSV of enterprises into a
//! real server. Every good row is stored; every bad row goes to the rejects file with its file
//! line and reasons; `--all-or-nothing` stores nothing from a file with a bad row.

mod common;

use common::*;
use creditrisk::cli::import::{run, write_demo, Options, Record};
use creditrisk::server::pb;
use std::collections::BTreeMap;
use std::path::Path;

fn opts() -> Options {
    Options::default()
}

/// Enterprises stored, counted through the server.
async fn count_enterprises(s: &TestServer) -> usize {
    let mut c = s.client().await;
    let mut n = 0;
    let mut token = String::new();
    loop {
        let r = c
            .list_enterprises(pb::ListEnterprisesRequest {
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        n += r.enterprises.len();
        if r.next_page_token.is_empty() {
            return n;
        }
        token = r.next_page_token;
    }
}

/// The rejects file of JSON lines: line number -> (reasons, text).
fn read_rejects(path: &Path) -> BTreeMap<u64, (Vec<String>, String)> {
    let mut out = BTreeMap::new();
    for l in std::fs::read_to_string(path).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let reasons = v["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect();
        let text = v["text"].as_str().unwrap().to_string();
        assert!(
            out.insert(v["line"].as_u64().unwrap(), (reasons, text))
                .is_none(),
            "a line is rejected twice: {l}"
        );
    }
    out
}

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

    let target = s.target(Role::Ingest);
    let admin = s.tokens[&Role::Admin].clone();
    let summary = run(&target, Some(&admin), &path, &opts()).await.unwrap();
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
    // Rejected: exactly the two bad lines; every other record is stored.
    assert_eq!(summary.rejected, 2, "{:?}", summary.errors);
    assert_eq!(summary.accepted, total - 1);
    let rejects = dir.path().join("demo.jsonl.rejects.jsonl");
    assert_eq!(summary.rejects.as_deref(), Some(rejects.as_path()));
    let got = read_rejects(&rejects);
    assert_eq!(
        got.keys().copied().collect::<Vec<_>>(),
        vec![4, bad_line as u64]
    );
    assert_eq!(got[&4].1, "this is not json");
    assert_eq!(got[&(bad_line as u64)].1, lines[bad_line - 1]);

    // A second import of the same file stores nothing new.
    let again = run(&target, Some(&admin), &path, &opts()).await.unwrap();
    assert_eq!(again.accepted, 0);
    assert_eq!(again.duplicates, summary.accepted);
    assert_eq!(again.rejected, 2);

    assert_eq!(count_enterprises(&s).await, 300);
    s.stop().await;
}

/// Bad rows in several chunks, more than 50 in one, of enterprises and of events, some the
/// client can tell and some only the server: every good row is stored, exactly the bad ones
/// are in the rejects file with their lines and reasons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_rows_of_refused_chunks_are_stored_and_bad_rows_written_out() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.jsonl");
    {
        let mut f = std::fs::File::create(&path).unwrap();
        write_demo(2100, 7, &mut f).unwrap();
    }
    let mut lines: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let first_event = lines
        .iter()
        .position(|l| l.starts_with("{\"event\""))
        .unwrap();
    let events = lines.len() - first_event;
    assert!(events > 1600, "only {events} events");
    let mut bad_lines = Vec::new();
    let mut spoil = |lines: &mut Vec<String>, i: usize, f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(&lines[i]).unwrap();
        f(&mut v);
        lines[i] = v.to_string();
        bad_lines.push(i as u64 + 1);
    };
    // 55 enterprises the server refuses in the first chunk, one in the second.
    for i in (10..65).chain([1500]) {
        spoil(&mut lines, i, &|v| {
            v["enterprise"]["registered_capital_yuan"] = (-5).into()
        });
    }
    // One the client can tell: a field of the wrong type.
    spoil(&mut lines, 2050, &|v| {
        v["enterprise"]["registered_capital_yuan"] = "lots".into()
    });
    // 60 events the server refuses in the first chunk of events, one in the second.
    for i in (first_event + 100..first_event + 160).chain([first_event + 1500]) {
        spoil(&mut lines, i, &|v| {
            v["event"]["event_id"] = "not an id!".into()
        });
    }
    std::fs::write(&path, lines.join("\n")).unwrap();
    let total = lines.len() as u64;

    let summary = run(
        &s.target(Role::Ingest),
        Some(&s.tokens[&Role::Admin]),
        &path,
        &opts(),
    )
    .await
    .unwrap();
    // The events of the refused enterprises are refused too: no enterprise to hang them on.
    let mut bad_codes = std::collections::BTreeSet::new();
    for l in &bad_lines {
        if let Ok(Record::Enterprise(e)) = serde_json::from_str(&lines[*l as usize - 1]) {
            bad_codes.insert(e.credit_code.to_string());
        }
    }
    bad_codes.insert(synthetic_code_of(&lines[2050]));
    for (i, l) in lines.iter().enumerate().skip(first_event) {
        if let Ok(Record::Event(e)) = serde_json::from_str(l) {
            if bad_codes.contains(e.credit_code.as_str()) && !bad_lines.contains(&(i as u64 + 1)) {
                bad_lines.push(i as u64 + 1);
            }
        }
    }
    let bad = bad_lines.len() as u64;
    assert_eq!(summary.rejected, bad, "{:?}", &summary.errors[..5]);
    assert_eq!(summary.accepted, total - bad);
    assert_eq!(count_enterprises(&s).await, 2100 - 57);

    let got = read_rejects(&dir.path().join("mixed.jsonl.rejects.jsonl"));
    bad_lines.sort();
    assert_eq!(got.keys().copied().collect::<Vec<_>>(), bad_lines);
    for (line, (reasons, text)) in &got {
        assert_eq!(text, &lines[*line as usize - 1], "line {line}");
        assert!(!reasons.is_empty(), "line {line}");
    }
    assert!(got[&11]
        .0
        .iter()
        .any(|r| r.starts_with("registered_capital_yuan:") && r.contains("-5")));
    assert!(
        got[&2051].0[0].contains("unreadable record"),
        "{:?}",
        got[&2051]
    );
    let ev = (first_event + 101) as u64;
    assert!(
        got[&ev].0.iter().any(|r| r.contains("event_id")),
        "{:?}",
        got[&ev]
    );

    // A good event of a refused chunk is stored, after the rest.
    let good = (first_event..first_event + 1000)
        .filter(|i| !got.contains_key(&(*i as u64 + 1)))
        .find_map(|i| match serde_json::from_str(&lines[i]) {
            Ok(Record::Event(e)) => Some(e),
            _ => None,
        })
        .unwrap();
    let mut c = s.client().await;
    let listed = c
        .list_events(pb::ListEventsRequest {
            credit_code: good.credit_code.to_string(),
            page_size: 1000,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.events.iter().any(|e| e.event_id == good.event_id));
    s.stop().await;
}

/// The credit code of an enterprise line, readable or not.
fn synthetic_code_of(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["enterprise"]["credit_code"].as_str().unwrap().to_string()
}

const HEADER: &str = "credit_code,legacy_code,name,kind,registering_authority,jurisdiction,industry,established,registered_capital_yuan,status,legal_representative,address\n";

fn csv_row(n: u64) -> String {
    format!(
        "{},false,成都测试{n}有限公司,enterprise,510104,510104,F5211,2015-03-01,1000000,active,person-{n},成都市锦江区测试路{n}号\n",
        synthetic_code(n)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_of_enterprises() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.csv");
    let mut csv = String::from(HEADER);
    for n in 0..5 {
        csv.push_str(&csv_row(n));
    }
    csv.push_str("91510100054946627X,false,坏的,enterprise,510104,510104,F5211,2015-03-01,10,active,p,addr\n");
    // Column names, not indices, for what the client can tell.
    csv.push_str(&csv_row(5).replace("2015-03-01", "2015-13-01"));
    csv.push_str(&csv_row(6).replace(",enterprise,", ",enterprize,"));
    csv.push_str(&csv_row(7).replace(",1000000,", ",lots,"));
    csv.push_str("too,few\n");
    std::fs::write(&path, csv).unwrap();
    let summary = run(
        &s.target(Role::Ingest),
        Some(&s.tokens[&Role::Admin]),
        &path,
        &opts(),
    )
    .await
    .unwrap();
    assert_eq!(summary.accepted, 5, "the good rows of the chunk are stored");
    assert_eq!(summary.rejected, 5);
    let has = |prefix: &str, needle: &str| {
        assert!(
            summary
                .errors
                .iter()
                .any(|e| e.starts_with(prefix) && e.contains(needle)),
            "{prefix} {needle}: {:?}",
            summary.errors
        )
    };
    has("line 7: credit_code:", "check character");
    has("line 8: column `established`:", "2015-13-01");
    has("line 9: column `kind`:", "enterprize");
    has("line 10: column `registered_capital_yuan`:", "lots");
    has("line 11: the row has 2 fields", "12");
    let rejects = dir.path().join("e.csv.rejects.csv");
    assert_eq!(summary.rejects.as_deref(), Some(rejects.as_path()));
    let mut r = csv::Reader::from_path(&rejects).unwrap();
    assert_eq!(
        r.headers().unwrap().iter().take(3).collect::<Vec<_>>(),
        ["line", "reasons", "credit_code"]
    );
    let rows: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&rejects)
        .unwrap()
        .records()
        .map(|r| r.unwrap())
        .collect();
    let got: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(got, ["8", "9", "10", "11", "7"]);
    assert_eq!(&rows[4][2], "91510100054946627X");
    assert_eq!(count_enterprises(&s).await, 5);

    // Fixed, the file goes in, and the old rejects file goes away.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.lines().take(6).collect::<Vec<_>>().join("\n")).unwrap();
    let summary = run(
        &s.target(Role::Ingest),
        Some(&s.tokens[&Role::Admin]),
        &path,
        &opts(),
    )
    .await
    .unwrap();
    assert_eq!((summary.duplicates, summary.rejected), (5, 0));
    assert!(!rejects.exists());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_or_nothing_stores_nothing_from_a_file_with_a_bad_row() {
    let s = TestServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.csv");
    let mut csv = String::from(HEADER);
    for n in 0..1500 {
        csv.push_str(&csv_row(n));
    }
    // The last row is bad: a negative capital, which the server would refuse.
    csv.push_str(&csv_row(1500).replace(",1000000,", ",-1,"));
    std::fs::write(&path, &csv).unwrap();
    let theirs = dir.path().join("bad-rows.csv");
    let o = Options {
        rejects: Some(theirs.clone()),
        all_or_nothing: true,
        progress: false,
    };
    let summary = run(&s.target(Role::Ingest), None, &path, &o).await.unwrap();
    assert_eq!((summary.accepted, summary.rejected), (0, 1));
    assert!(summary.stopped.is_some());
    assert!(summary.errors[0].starts_with("line 1502: registered_capital_yuan:"));
    assert!(std::fs::read_to_string(&theirs).unwrap().contains("1502,"));
    assert_eq!(count_enterprises(&s).await, 0);
    assert_eq!(
        summary.line(),
        format!(
            "accepted 0, duplicates 0, rejected 1 (reasons in {})",
            theirs.display()
        )
    );

    // Without the bad row, everything goes in.
    let good: String = csv.lines().take(1501).map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, good).unwrap();
    let summary = run(&s.target(Role::Ingest), None, &path, &o).await.unwrap();
    assert_eq!((summary.accepted, summary.rejected), (1500, 0));
    assert!(summary.stopped.is_none());
    s.stop().await;
}
