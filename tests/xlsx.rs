//! The inspection list as inspectors open it: a draw on a real server, exported, and the
//! XLSX read back with `calamine` (a reader we did not write) and its sheet XML with `zip`:
//! sheets, headers in both languages, real date cells, words for districts, industries and
//! team members, one row per drawn enterprise, no tickets, empty result columns, frozen header,
//! autofilter and print layout; the CSV lists start with a UTF-8 BOM; the same export twice
//! gives the same bytes.

mod common;

use calamine::{Data, Reader, Xlsx};
use common::*;
use creditrisk::domain::Date;
use creditrisk::server::pb;
use pb::draw_service_client::DrawServiceClient;
use std::collections::BTreeMap;
use std::io::{Cursor, Read};

const AS_OF: &str = "2026-11-01";
const INSPECTION: &str = "2026-11-10";

const HEADERS_ZH: [&str; 15] = [
    "序号",
    "统一社会信用代码",
    "企业名称",
    "风险等级",
    "所属辖区",
    "行业",
    "地址",
    "抽查事项",
    "检查日期",
    "公示截止日期",
    "检查人员",
    "检查结果代码",
    "问题描述",
    "检查人员签字",
    "备注",
];

const HEADERS_EN: [&str; 15] = [
    "No.",
    "Credit code",
    "Enterprise",
    "Risk tier",
    "District",
    "Industry",
    "Address",
    "Inspection item",
    "Inspection date",
    "Publication deadline",
    "Inspectors",
    "Result codes",
    "Findings",
    "Inspectors' signatures",
    "Notes",
];

/// Jurisdiction of enterprise `n`: a current district, a retired division code, a zone, and
/// one district no inspector covers (so some teams are unstaffed).
fn jurisdiction(n: u64) -> &'static str {
    ["510104", "510122", "chengdu-hitech", "510107"][(n % 4) as usize]
}

/// 240 enterprises over four jurisdictions (catering or retail), two of them seriously listed,
/// classified as of AS_OF; 12 food inspectors named `检查员N` covering all but 510107; one item.
async fn population(s: &TestServer) {
    let records: Vec<_> = (0..240)
        .map(|n| {
            let mut e = synthetic_enterprise(n);
            e.jurisdiction = jurisdiction(n).into();
            if n % 3 == 0 {
                e.industry = "H6210".into();
            }
            e
        })
        .collect();
    let mut rec = s.client().await;
    rec.upsert_enterprises(pb::UpsertEnterprisesRequest { records })
        .await
        .unwrap();
    list_seriously(s, &[0, 5]).await;
    let roster = (0..12)
        .map(|i| pb::Inspector {
            inspector_id: format!("food-{i:02}"),
            name: format!("检查员{i}"),
            department: "samr-food".into(),
            jurisdictions: vec!["510104".into(), "510122".into(), "chengdu-hitech".into()],
            qualifications: vec!["food".into()],
            certificate_number: format!("川执{i:04}"),
            certificate_expiry: "2030-12-31".into(),
            active: true,
            ..Default::default()
        })
        .collect();
    s.client_as(Role::Admin)
        .await
        .upsert_inspectors(pb::UpsertInspectorsRequest { records: roster })
        .await
        .unwrap();
    reclassify_all(s, AS_OF).await;
    let mut draws = DrawServiceClient::new(s.channel_as(Role::Planner).await);
    draws
        .upsert_items(pb::UpsertItemsRequest {
            records: vec![pb::InspectionItem {
                id: "food-2026".into(),
                name: "食品经营者监督检查".into(),
                basis: "《中华人民共和国食品安全法》第一百一十条".into(),
                departments: vec!["samr-food".into()],
                kind: pb::ItemKind::Key as i32,
                qualifications: vec!["food".into()],
                scope: None,
            }],
        })
        .await
        .unwrap();
}

/// Every sheet of the workbook: name and rows of cells.
fn sheets(bytes: &[u8]) -> Vec<(String, Vec<Vec<Data>>)> {
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    wb.sheet_names()
        .into_iter()
        .map(|name| {
            let range = wb.worksheet_range(&name).unwrap();
            assert_eq!(range.start(), Some((0, 0)), "{name} starts at A1");
            let rows = range.rows().map(|r| r.to_vec()).collect();
            (name, rows)
        })
        .collect()
}

fn text(d: &Data) -> &str {
    match d {
        Data::String(s) => s,
        other => panic!("expected a string cell, got {other:?}"),
    }
}

/// A date cell as a date: calamine must see a date (not a number or a string).
fn date(d: &Data) -> Date {
    match d {
        Data::DateTime(x) => {
            assert!(x.is_datetime(), "{x:?}");
            // Excel serial 25569 is 1970-01-01 (dates after 1900-03-01).
            Date::from_days(x.as_f64() as i32 - 25569)
        }
        Data::DateTimeIso(s) => Date::parse(&s[..10]).unwrap(),
        other => panic!("expected a date cell, got {other:?}"),
    }
}

fn part(bytes: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
    let mut out = String::new();
    zip.by_name(name).unwrap().read_to_string(&mut out).unwrap();
    out
}

#[tokio::test]
async fn the_inspection_list_is_a_working_document() {
    let s = TestServer::start().await;
    population(&s).await;
    let mut draws = DrawServiceClient::new(s.channel_as(Role::Planner).await);
    let d = draws
        .create_draw(pb::DrawSpec {
            draw_id: "food-2026-11".into(),
            item_id: "food-2026".into(),
            seed: "3-1-4-1-5-9".into(),
            as_of: AS_OF.into(),
            inspection_date: INSPECTION.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let jurisdictions: BTreeMap<String, &str> = (0..240)
        .map(|n| (synthetic_code(n).to_string(), jurisdiction(n)))
        .collect();
    assert!(d.selected.len() >= 8, "{}", d.selected.len());
    assert!(
        d.selected.iter().any(|e| !e.unstaffed_reason.is_empty())
            && d.selected.iter().any(|e| e.unstaffed_reason.is_empty()),
        "both staffed and unstaffed enterprises"
    );
    let deadline = Date::parse(&d.publication_deadline).unwrap();

    let files = export_files(&s, "food-2026-11", "").await;
    let xlsx = &files["inspection-list.xlsx"];
    let book = sheets(xlsx);
    assert_eq!(
        book.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["检查名单", "结果代码说明"]
    );
    let rows = &book[0].1;
    assert_eq!(
        rows[0].iter().map(text).collect::<Vec<_>>(),
        HEADERS_ZH,
        "headers, and no ticket column"
    );
    assert_eq!(rows.len(), d.selected.len() + 1, "one row per enterprise");
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (n, (row, e)) in rows[1..].iter().zip(&d.selected).enumerate() {
        assert_eq!(row[0], Data::Float((n + 1) as f64));
        let code = text(&row[1]);
        *seen.entry(code).or_default() += 1;
        assert_eq!(code, e.credit_code, "draw order");
        assert_eq!(text(&row[2]), e.name);
        assert_eq!(text(&row[3]), e.tier);
        let district = match jurisdictions[code] {
            "510104" => "锦江区",
            "510122" => "双流区",
            "chengdu-hitech" => "高新区",
            _ => "武侯区",
        };
        assert_eq!(text(&row[4]), district);
        let industry = text(&row[5]);
        assert!(
            industry == "住宿和餐饮业 H6210" || industry == "批发和零售业 F5211",
            "{industry}"
        );
        assert_eq!(text(&row[6]), e.address);
        assert_eq!(text(&row[7]), "食品经营者监督检查");
        assert_eq!(date(&row[8]), Date::parse(INSPECTION).unwrap());
        assert_eq!(date(&row[9]), deadline);
        let team = text(&row[10]);
        if e.unstaffed_reason.is_empty() {
            assert!(team.starts_with("samr-food: 检查员"), "{team}");
            assert!(!team.contains("food-0"), "names, not ids: {team}");
        } else {
            assert_eq!(team, format!("未配齐检查人员：{}", e.unstaffed_reason));
        }
        assert!(
            row[11..].iter().all(|c| *c == Data::Empty),
            "empty result columns: {row:?}"
        );
        for c in row {
            if let Data::String(t) = c {
                assert!(!t.contains(&e.ticket[2..20]), "no ticket on the sheet");
            }
        }
    }
    assert_eq!(seen.len(), d.selected.len());
    assert!(seen.values().all(|&k| k == 1), "each code exactly once");

    let codes = &book[1].1;
    assert_eq!(
        codes[0].iter().map(text).collect::<Vec<_>>(),
        ["结果代码", "含义"]
    );
    let listed: Vec<&str> = codes[1..].iter().map(|r| text(&r[0])).collect();
    assert_eq!(
        listed,
        [
            "1", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "A", "B", "C", "D", "E", "F",
            "G"
        ]
    );
    assert_eq!(text(&codes[1][1]), "未发现问题");
    assert!(codes[1..].iter().all(|r| !text(&r[1]).is_empty()));

    // Frozen header, autofilter over the table, landscape, one page wide, header row repeated,
    // creation date = the as-of date.
    let sheet1 = part(xlsx, "xl/worksheets/sheet1.xml");
    assert!(sheet1.contains(r#"state="frozen""#), "{sheet1}");
    let last = format!(r#"<autoFilter ref="A1:O{}"/>"#, d.selected.len() + 1);
    assert!(sheet1.contains(&last), "{sheet1}");
    assert!(sheet1.contains(r#"orientation="landscape""#), "{sheet1}");
    assert!(sheet1.contains(r#"fitToHeight="0""#), "{sheet1}");
    assert!(sheet1.contains(r#"fitToPage="1""#), "{sheet1}");
    let workbook = part(xlsx, "xl/workbook.xml");
    assert!(
        workbook.contains(r#"name="_xlnm.Print_Titles""#) && workbook.contains("!$1:$1<"),
        "{workbook}"
    );
    let core = part(xlsx, "docProps/core.xml");
    assert!(core.contains(">2026-11-01T00:00:00Z<"), "{core}");

    // CSV lists open in Excel on Chinese Windows: UTF-8 with a BOM, which the csv crate skips.
    for f in ["selected.csv", "excluded.csv"] {
        assert!(
            files[f].starts_with(b"\xEF\xBB\xBF"),
            "{f} starts with the BOM"
        );
    }
    let mut csv = csv::Reader::from_reader(&files["selected.csv"][..]);
    assert_eq!(&csv.headers().unwrap()[0], "order");
    assert_eq!(csv.records().count(), d.selected.len());
    // The bundle is unchanged and still verifies.
    let json = String::from_utf8(files["bundle.json"].clone()).unwrap();
    creditrisk::draw::verify_bundle(&json).unwrap();

    // English on request.
    let en = export_files(&s, "food-2026-11", "en").await;
    let book_en = sheets(&en["inspection-list.xlsx"]);
    assert_eq!(
        book_en.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["Inspection list", "Result codes"]
    );
    let rows_en = &book_en[0].1;
    assert_eq!(rows_en[0].iter().map(text).collect::<Vec<_>>(), HEADERS_EN);
    for row in &rows_en[1..] {
        let want = match jurisdictions[text(&row[1])] {
            "510104" => "Jinjiang District",
            "510122" => "Shuangliu District",
            "chengdu-hitech" => "Chengdu Hi-tech Zone",
            _ => "Wuhou District",
        };
        assert_eq!(text(&row[4]), want);
    }
    assert_eq!(text(&book_en[1].1[1][1]), "no problem found");
    assert_eq!(
        en["bundle.json"], files["bundle.json"],
        "language is the list's only"
    );
    let bad = draws
        .export_draw(pb::ExportDrawRequest {
            draw_id: "food-2026-11".into(),
            lang: "fr".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(violations(&bad).iter().any(|(f, _)| f == "lang"), "{bad:?}");

    // The command line writes the same files, in English with `--lang en`.
    let dir = tempfile::tempdir().unwrap();
    creditrisk::cli::draws::export(&s.target(Role::Planner), "food-2026-11", dir.path(), "en")
        .await
        .unwrap();
    let on_disk = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
    assert_eq!(on_disk("inspection-list.xlsx"), en["inspection-list.xlsx"]);
    assert!(on_disk("selected.csv").starts_with(b"\xEF\xBB\xBF"));

    // Same export, same bytes, even with the clock moved on by a second (the old list stamped
    // the creation time from the clock).
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for _ in 0..100 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        if now > start {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let again = export_files(&s, "food-2026-11", "").await;
    assert_eq!(
        again.keys().collect::<Vec<_>>(),
        files.keys().collect::<Vec<_>>()
    );
    for (f, bytes) in &files {
        assert!(again[f] == *bytes, "{f}: same export, same bytes");
    }
    s.stop().await;
}
