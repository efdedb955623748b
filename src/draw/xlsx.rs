//! The inspection list as an XLSX workbook: the working document an inspector carries.
//!
//! The file is for people, not for verification: the bundle's JSON is the reference, and the
//! tickets stay there and in `selected.csv`. Sheet one lists the drawn enterprises in draw order
//! with everything needed on the visit (district and industry in words, the item, the planned
//! date and the publication deadline as real date cells, the team by name) and empty columns
//! for the result; sheet two explains the result codes. Headers are Chinese by default, English
//! on request.
//!
//! The bytes are a function of the inputs only: the document's creation date is the draw's
//! as-of date (not the clock), and the ZIP entries carry the writer's fixed timestamp, so the
//! same export twice gives the same file.

use super::assign::TeamOutcome;
use super::bundle::EnterpriseInfo;
use super::candidate::Candidate;
use super::error::DrawError;
use super::record::DrawRecord;
use crate::domain::names::{self, Lang};
use crate::domain::{CreditCode, Date};
use rust_xlsxwriter::{
    DocProperties, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};
use std::collections::BTreeMap;

/// Columns of the list: Chinese header, English header, width in characters.
const COLUMNS: [(&str, &str, f64); 15] = [
    ("序号", "No.", 6.0),
    ("统一社会信用代码", "Credit code", 21.0),
    ("企业名称", "Enterprise", 28.0),
    ("风险等级", "Risk tier", 9.0),
    ("所属辖区", "District", 12.0),
    ("行业", "Industry", 22.0),
    ("地址", "Address", 32.0),
    ("抽查事项", "Inspection item", 22.0),
    ("检查日期", "Inspection date", 12.0),
    ("公示截止日期", "Publication deadline", 13.0),
    ("检查人员", "Inspectors", 28.0),
    ("检查结果代码", "Result codes", 12.0),
    ("问题描述", "Findings", 28.0),
    ("检查人员签字", "Inspectors' signatures", 14.0),
    ("备注", "Notes", 16.0),
];

/// Index of the first of the empty result columns.
const FIRST_RESULT_COLUMN: u16 = 11;

/// The first sheet's name.
pub fn list_sheet(lang: Lang) -> &'static str {
    lang.pick("检查名单", "Inspection list")
}

/// The second sheet's name.
pub fn codes_sheet(lang: Lang) -> &'static str {
    lang.pick("结果代码说明", "Result codes")
}

/// What the list is made of. Everything but `record` and the deadline only adds words: a
/// missing name, address, candidate or inspector name leaves a blank (or the id) in its place.
#[derive(Clone, Copy, Debug)]
pub struct ListInput<'a> {
    /// The draw.
    pub record: &'a DrawRecord,
    /// The candidate snapshot of the draw (jurisdiction and industry of each enterprise); any
    /// order.
    pub candidates: &'a [Candidate],
    /// Names and addresses of the drawn enterprises.
    pub info: &'a BTreeMap<CreditCode, EnterpriseInfo>,
    /// Inspector id to name, for the team members.
    pub inspector_names: &'a BTreeMap<String, String>,
    /// Last day to publish the results.
    pub publication_deadline: Date,
    /// Language of headers and words.
    pub lang: Lang,
}

/// Writes the workbook (see the module doc) and returns its bytes. Deterministic: the same
/// input gives the same bytes.
pub fn xlsx(input: &ListInput<'_>) -> Result<Vec<u8>, DrawError> {
    build(input).map_err(|e| DrawError::Xlsx(e.to_string()))
}

fn build(input: &ListInput<'_>) -> Result<Vec<u8>, XlsxError> {
    let ListInput {
        record,
        lang,
        publication_deadline,
        ..
    } = *input;
    let mut wb = Workbook::new();
    // A fixed creation date (the draw's as-of date) instead of the clock: same bytes each time.
    let created = excel_date(record.as_of)?;
    wb.set_properties(
        &DocProperties::new()
            .set_title(format!("{} {}", list_sheet(lang), record.draw_id))
            .set_subject(record.item.name.clone())
            .set_author("creditrisk")
            .set_creation_datetime(&created),
    );
    let header = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_background_color(0xD9E1F2)
        .set_border(FormatBorder::Thin);
    let cell = Format::new()
        .set_text_wrap()
        .set_align(FormatAlign::Top)
        .set_border(FormatBorder::Thin);
    let date = cell.clone().set_num_format("yyyy-mm-dd");

    let ws = wb.add_worksheet();
    ws.set_name(list_sheet(lang))?;
    for (c, (zh, en, width)) in COLUMNS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, lang.pick(zh, en), &header)?;
        ws.set_column_width(c as u16, *width)?;
    }
    let by_code: BTreeMap<CreditCode, &Candidate> = input
        .candidates
        .iter()
        .map(|c| (c.credit_code, c))
        .collect();
    let inspection = excel_date(record.inspection_date)?;
    let deadline = excel_date(publication_deadline)?;
    for (n, (s, t)) in record.selected.iter().zip(&record.teams).enumerate() {
        let row = n as u32 + 1;
        let info = input.info.get(&s.credit_code);
        let cand = by_code.get(&s.credit_code);
        let district = cand.map_or("", |c| names::district(&c.jurisdiction, lang));
        let industry = cand.map_or(String::new(), |c| names::industry(&c.industry, lang));
        ws.write_number_with_format(row, 0, (n + 1) as f64, &cell)?;
        let texts = [
            (1, s.credit_code.as_str()),
            (2, info.map_or("", |i| i.name.as_str())),
            (3, s.tier.as_str()),
            (4, district),
            (5, industry.as_str()),
            (6, info.map_or("", |i| i.address.as_str())),
            (7, record.item.name.as_str()),
        ];
        for (c, v) in texts {
            ws.write_string_with_format(row, c, v, &cell)?;
        }
        ws.write_datetime_with_format(row, 8, &inspection, &date)?;
        ws.write_datetime_with_format(row, 9, &deadline, &date)?;
        let team = team_names(&t.outcome, input.inspector_names, lang);
        ws.write_string_with_format(row, 10, team, &cell)?;
        for c in FIRST_RESULT_COLUMN..COLUMNS.len() as u16 {
            ws.write_blank(row, c, &cell)?;
        }
    }
    let last_row = record.selected.len() as u32;
    let last_col = COLUMNS.len() as u16 - 1;
    ws.set_freeze_panes(1, 0)?;
    ws.autofilter(0, 0, last_row, last_col)?;
    print_layout(ws, record, lang)?;

    let ws = wb.add_worksheet();
    ws.set_name(codes_sheet(lang))?;
    ws.write_string_with_format(0, 0, lang.pick("结果代码", "Result code"), &header)?;
    ws.write_string_with_format(0, 1, lang.pick("含义", "Meaning"), &header)?;
    for (n, code) in names::result_codes().enumerate() {
        let row = n as u32 + 1;
        ws.write_string_with_format(row, 0, code.as_str(), &cell)?;
        ws.write_string_with_format(row, 1, names::result_meaning(code, lang), &cell)?;
    }
    ws.set_column_width(0, 12)?;
    ws.set_column_width(1, 48)?;
    ws.set_freeze_panes(1, 0)?;
    wb.save_to_buffer()
}

/// Landscape A4, one page wide, the header row on every page, draw and page in the page header.
fn print_layout(ws: &mut Worksheet, record: &DrawRecord, lang: Lang) -> Result<(), XlsxError> {
    ws.set_landscape();
    ws.set_paper_size(9);
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(0, 0)?;
    // `&` starts a control code in Excel page headers; a literal one is doubled. Excel caps
    // the header at 255 characters, so a long item name is cut.
    let item: String = record.item.name.chars().take(80).collect();
    let page = lang.pick("第 &P 页，共 &N 页", "page &P of &N");
    ws.set_header(format!(
        "&L{}&C{}&R{page}",
        record.draw_id.replace('&', "&&"),
        item.replace('&', "&&")
    ));
    Ok(())
}

/// The team as one cell, `department: name, name; department: name`, names looked up by id (the
/// id when the name is unknown); for an unstaffed enterprise the reason.
fn team_names(outcome: &TeamOutcome, names: &BTreeMap<String, String>, lang: Lang) -> String {
    match outcome {
        TeamOutcome::Staffed { departments } => departments
            .iter()
            .map(|d| {
                let members: Vec<&str> = d
                    .members
                    .iter()
                    .map(|id| names.get(id).map_or(id.as_str(), String::as_str))
                    .collect();
                format!("{}: {}", d.department, members.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; "),
        TeamOutcome::Unstaffed { reason } => {
            format!("{}{reason}", lang.pick("未配齐检查人员：", "unstaffed: "))
        }
    }
}

/// A date as an Excel date (years 1900-9999, which every stored date is).
fn excel_date(d: Date) -> Result<ExcelDateTime, XlsxError> {
    let (y, m, day) = d.ymd();
    let year = u16::try_from(y).map_err(|_| XlsxError::DateTimeRangeError(d.to_string()))?;
    ExcelDateTime::from_ymd(year, m as u8, day as u8)
}
