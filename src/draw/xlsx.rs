//! The inspection list as an XLSX spreadsheet, what inspectors actually open.
//!
//! The file is for people, not for verification: the bundle's JSON is the reference.

use super::assign::TeamOutcome;
use super::bundle::{team_text, EnterpriseInfo};
use super::error::DrawError;
use super::record::DrawRecord;
use crate::domain::{CreditCode, Date};
use rust_xlsxwriter::{Format, Workbook};
use std::collections::BTreeMap;

/// Name of the worksheet.
pub const SHEET: &str = "inspection list";

/// Writes the sheet `inspection list` (one row per drawn enterprise, in draw order: code, name,
/// tier, ticket, address, team members or the unstaffed reason, publication deadline) and
/// returns the XLSX bytes. `info` supplies names and addresses; missing ones are left blank.
pub fn xlsx(
    record: &DrawRecord,
    info: &BTreeMap<CreditCode, EnterpriseInfo>,
    publication_deadline: Date,
) -> Result<Vec<u8>, DrawError> {
    let e = |e: rust_xlsxwriter::XlsxError| DrawError::Xlsx(e.to_string());
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let ws = wb.add_worksheet();
    ws.set_name(SHEET).map_err(e)?;
    let headers = [
        "credit code",
        "name",
        "tier",
        "ticket",
        "address",
        "team members",
        "publication deadline",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(e)?;
    }
    let deadline = publication_deadline.to_string();
    for (n, (s, t)) in record.selected.iter().zip(&record.teams).enumerate() {
        let row = n as u32 + 1;
        let i = info.get(&s.credit_code).cloned().unwrap_or_default();
        let team = match &t.outcome {
            TeamOutcome::Staffed { .. } => team_text(&t.outcome),
            TeamOutcome::Unstaffed { reason } => format!("unstaffed: {reason}"),
        };
        let cells = [
            s.credit_code.as_str(),
            &i.name,
            s.tier.as_str(),
            &s.ticket,
            &i.address,
            &team,
            &deadline,
        ];
        for (c, v) in cells.iter().enumerate() {
            ws.write_string(row, c as u16, *v).map_err(e)?;
        }
    }
    ws.set_freeze_panes(1, 0).map_err(e)?;
    for (c, w) in [20, 30, 6, 30, 40, 40, 14].iter().enumerate() {
        ws.set_column_width(c as u16, *w).map_err(e)?;
    }
    wb.save_to_buffer().map_err(e)
}
