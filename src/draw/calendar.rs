//! Working days and publication deadlines.
//!
//! Inspection results must be published within 20 working days ("whoever inspects,
//! publishes"). Working days are Monday to Friday, minus the public holidays, plus the weekend
//! days the State Council declares working days (调休). Both lists change every year and are
//! published in a State Council notice each autumn, so they live in one file per year under
//! `rules/calendar/`, and a date in a year without a file is an error rather than a guess.

use super::error::DrawError;
use crate::domain::{CreditCode, Date};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Working days within which results must be published (DOMAIN.md).
pub const PUBLICATION_WORKING_DAYS: u32 = 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    year: i32,
    notice: String,
    holidays: Vec<Date>,
    working_weekends: Vec<Date>,
}

/// Public holidays and working weekend days of the years it covers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// Years with data.
    pub years: BTreeSet<i32>,
    /// Days off on what would be working days (and the weekend days inside holiday periods).
    pub holidays: BTreeSet<Date>,
    /// Saturdays and Sundays that are working days.
    pub working_weekends: BTreeSet<Date>,
}

/// A result that must be published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingResult {
    /// Inspection id.
    pub inspection_id: String,
    /// The inspected enterprise.
    pub credit_code: CreditCode,
    /// Date of the inspection.
    pub inspection_date: Date,
    /// Date the result was published, if it was.
    pub published_on: Option<Date>,
}

/// A result published late or not yet published after its deadline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overdue {
    /// Inspection id.
    pub inspection_id: String,
    /// The inspected enterprise.
    pub credit_code: CreditCode,
    /// Date of the inspection.
    pub inspection_date: Date,
    /// Last day for publication.
    pub deadline: Date,
    /// Publication date, when published late; `None` while still unpublished.
    pub published_on: Option<Date>,
}

impl Calendar {
    /// Builds a calendar from year files given as `(name, text)`; the caller reads the files.
    /// Each file must name its year, and every date must lie in it; working weekend days must
    /// be Saturdays or Sundays and may not be holidays.
    pub fn from_files(files: &[(&str, &str)]) -> Result<Calendar, DrawError> {
        let mut cal = Calendar::default();
        for (name, text) in files {
            let err = |message: String| DrawError::RuleFile {
                file: name.to_string(),
                message,
            };
            let f: YearFile =
                toml::from_str(text).map_err(|e| err(e.to_string().trim().replace('\n', " ")))?;
            if f.notice.trim().is_empty() {
                return Err(err("`notice` must name the State Council notice".into()));
            }
            if !cal.years.insert(f.year) {
                return Err(err(format!("year `{}` is given twice", f.year)));
            }
            for d in f.holidays.iter().chain(&f.working_weekends) {
                if d.year() != f.year {
                    return Err(err(format!("`{d}` is not in year `{}`", f.year)));
                }
            }
            for d in &f.working_weekends {
                if d.weekday() < 5 {
                    return Err(err(format!(
                        "working weekend day `{d}` is not a Saturday or Sunday"
                    )));
                }
                if f.holidays.contains(d) {
                    return Err(err(format!("`{d}` is both a holiday and a working day")));
                }
            }
            cal.holidays.extend(f.holidays);
            cal.working_weekends.extend(f.working_weekends);
        }
        Ok(cal)
    }

    /// True on working days; an error for a year the calendar does not cover.
    pub fn is_working_day(&self, d: Date) -> Result<bool, DrawError> {
        if !self.years.contains(&d.year()) {
            return Err(DrawError::CalendarYear(d.year()));
        }
        Ok(self.working_weekends.contains(&d) || (d.weekday() < 5 && !self.holidays.contains(&d)))
    }

    /// The `n`-th working day after `d` (`d` itself never counts; `n = 0` gives `d`).
    pub fn add_working_days(&self, d: Date, n: u32) -> Result<Date, DrawError> {
        let mut day = d;
        let mut left = n;
        while left > 0 {
            day = day.add_days(1);
            if self.is_working_day(day)? {
                left -= 1;
            }
        }
        Ok(day)
    }

    /// Last day to publish the result of an inspection made on `inspection_date`: the 20th
    /// working day after it.
    pub fn publication_deadline(&self, inspection_date: Date) -> Result<Date, DrawError> {
        self.add_working_days(inspection_date, PUBLICATION_WORKING_DAYS)
    }

    /// Results unpublished after their deadline as of `today`, or published after it; ordered
    /// by deadline, then inspection id.
    pub fn overdue(
        &self,
        results: &[PendingResult],
        today: Date,
    ) -> Result<Vec<Overdue>, DrawError> {
        let mut out = Vec::new();
        for r in results {
            let deadline = self.publication_deadline(r.inspection_date)?;
            let late = match r.published_on {
                Some(p) => p > deadline,
                None => today > deadline,
            };
            if late {
                out.push(Overdue {
                    inspection_id: r.inspection_id.clone(),
                    credit_code: r.credit_code,
                    inspection_date: r.inspection_date,
                    deadline,
                    published_on: r.published_on,
                });
            }
        }
        out.sort_by(|a, b| (a.deadline, &a.inspection_id).cmp(&(b.deadline, &b.inspection_id)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn cal() -> Calendar {
        Calendar::from_files(&[
            (
                "rules/calendar/2025.toml",
                include_str!("../../rules/calendar/2025.toml"),
            ),
            (
                "rules/calendar/2026.toml",
                include_str!("../../rules/calendar/2026.toml"),
            ),
        ])
        .unwrap()
    }

    #[test]
    fn working_weekends_and_holidays() {
        let c = cal();
        assert!(c.is_working_day(d("2025-09-28")).unwrap()); // Sunday, 调休
        assert!(c.is_working_day(d("2025-10-11")).unwrap()); // Saturday, 调休
        assert!(!c.is_working_day(d("2025-10-08")).unwrap()); // Wednesday, National Day
        assert!(!c.is_working_day(d("2025-10-12")).unwrap()); // plain Sunday
        assert!(c.is_working_day(d("2025-10-09")).unwrap());
        assert!(!c.is_working_day(d("2026-02-17")).unwrap()); // Spring Festival
        assert!(c.is_working_day(d("2026-02-14")).unwrap()); // Saturday, 调休
        let e = c.is_working_day(d("2027-01-04")).unwrap_err().to_string();
        assert!(e.contains("2027.toml"), "{e}");
    }

    #[test]
    fn the_provisional_2027_file_has_the_statutory_days() {
        let c = Calendar::from_files(&[(
            "rules/calendar/2027.toml",
            include_str!("../../rules/calendar/2027.toml"),
        )])
        .unwrap();
        assert!(!c.is_working_day(d("2027-02-08")).unwrap()); // Monday, Spring Festival
        assert!(c.is_working_day(d("2027-02-09")).unwrap()); // Tuesday
        assert!(!c.is_working_day(d("2027-10-01")).unwrap()); // Friday, National Day
        assert!(c.is_working_day(d("2027-10-04")).unwrap()); // Monday: no bridge days yet
    }

    #[test]
    fn deadline_across_national_day_week() {
        let c = cal();
        // Fri 2025-09-26: Sun 28 (working), Mon 29, Tue 30 = 3; Oct 1-8 off; Thu 9, Fri 10,
        // Sat 11 (working) = 6; Oct 13-17 = 11; Oct 20-24 = 16; Oct 27-30 = 20.
        assert_eq!(
            c.publication_deadline(d("2025-09-26")).unwrap(),
            d("2025-10-30")
        );
        // A deadline landing on a working Saturday.
        // Thu 2025-09-11: Sep 12 = 1; Sep 15-19 = 6; Sep 22-26 = 11; Sun 28 = 12; 29, 30 = 14;
        // Oct 9, 10 = 16; Sat Oct 11 = 17; Oct 13, 14, 15 = 20.
        assert_eq!(
            c.publication_deadline(d("2025-09-11")).unwrap(),
            d("2025-10-15")
        );
        assert_eq!(
            c.add_working_days(d("2025-10-10"), 1).unwrap(),
            d("2025-10-11")
        );
        assert_eq!(
            c.add_working_days(d("2025-10-10"), 0).unwrap(),
            d("2025-10-10")
        );
        // Across the year boundary: Jan 1-3 off, Sunday 4 January 2026 is a working day.
        assert_eq!(
            c.add_working_days(d("2025-12-31"), 1).unwrap(),
            d("2026-01-04")
        );
        // A deadline past the last covered year is an error, not a guess.
        assert!(c.publication_deadline(d("2026-12-20")).is_err());
    }

    #[test]
    fn overdue_lists_late_and_unpublished() {
        let c = cal();
        let code = CreditCode::parse("91510100054946627W").unwrap();
        let r = |id: &str, on: &str, p: Option<&str>| PendingResult {
            inspection_id: id.into(),
            credit_code: code,
            inspection_date: d(on),
            published_on: p.map(d),
        };
        let results = [
            r("late", "2025-09-26", Some("2025-10-31")),
            r("on-time", "2025-09-26", Some("2025-10-30")),
            r("open", "2025-09-11", None),
            r("open-not-due", "2025-09-26", None),
        ];
        let o = c.overdue(&results, d("2025-10-30")).unwrap();
        let ids: Vec<&str> = o.iter().map(|x| x.inspection_id.as_str()).collect();
        assert_eq!(ids, ["open", "late"]);
    }

    #[test]
    fn bad_files_are_rejected_with_the_file_name() {
        let bad = "year = 2025\nnotice = \"x\"\nholidays = [\"2025-01-01\"]\nworking_weekends = [\"2025-01-06\"]\n";
        let e = Calendar::from_files(&[("y.toml", bad)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("y.toml") && e.contains("2025-01-06"), "{e}");
    }
}
