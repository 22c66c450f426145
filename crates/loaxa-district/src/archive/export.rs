//! Reports as files people open: CSV (the `csv` crate; UTF-8 with a byte-order mark, so a
//! spreadsheet shows Vietnamese as Vietnamese) and Excel workbooks (`rust_xlsxwriter`).
//! Headers come from [`Labels`]; dates are written dd/mm/yyyy and times 24-hour, in the
//! report's (the office's) time zone.
//!
//! Each table is built once as typed cells ([`Table`]) and then written either way, so the
//! CSV and the workbook cannot disagree.

use chrono::{DateTime, NaiveDate, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, XlsxError};

use super::labels::Labels;
use super::report::{AsRunRow, Counts, Report};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("writing the workbook: {0}")]
    Xlsx(#[from] XlsxError),
}

/// What Excel needs to read a CSV file as UTF-8.
const BOM: &[u8] = "\u{feff}".as_bytes();

/// One cell, typed so that the workbook gets numbers and dates, not text.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Text(String),
    Count(u64),
    /// Minutes, one decimal.
    Minutes(f64),
    /// A share in [0, 1]; none when nothing was scheduled.
    Share(Option<f64>),
    Date(NaiveDate),
    Time(Option<NaiveTime>),
}

impl Cell {
    fn csv(&self) -> String {
        match self {
            Cell::Text(text) => text.clone(),
            Cell::Count(n) => n.to_string(),
            Cell::Minutes(m) => format!("{m:.1}"),
            Cell::Share(share) => share
                .map(|s| format!("{:.1}", s * 100.0))
                .unwrap_or_default(),
            Cell::Date(date) => date.format("%d/%m/%Y").to_string(),
            Cell::Time(time) => time
                .map(|t| t.format("%H:%M:%S").to_string())
                .unwrap_or_default(),
        }
    }
}

struct Table {
    header: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

fn counts_cells(counts: &Counts) -> [Cell; 8] {
    [
        Cell::Count(counts.scheduled),
        Cell::Count(counts.aired),
        Cell::Count(counts.late),
        Cell::Count(counts.missed),
        Cell::Count(counts.failed),
        Cell::Count(counts.interrupted),
        Cell::Minutes(counts.minutes_aired()),
        Cell::Share(counts.share_aired()),
    ]
}

fn header(labels: &[String]) -> Vec<String> {
    labels.to_vec()
}

fn commune_cell(commune: &Option<String>, labels: &Labels) -> Cell {
    Cell::Text(commune.clone().unwrap_or_else(|| labels.unknown.to_owned()))
}

fn boxes_table(report: &Report, labels: &Labels) -> Table {
    let rows = report
        .boxes
        .iter()
        .map(|b| {
            let mut row = vec![
                Cell::Text(b.box_id.clone()),
                commune_cell(&b.commune, labels),
            ];
            row.extend(counts_cells(&b.counts));
            row
        })
        .collect();
    Table {
        header: header(&labels.boxes),
        rows,
    }
}

fn communes_table(report: &Report, labels: &Labels) -> Table {
    let row = |name: Cell, boxes: usize, counts: &Counts| {
        let mut row = vec![name, Cell::Count(boxes as u64)];
        row.extend(counts_cells(counts));
        row
    };
    let mut rows: Vec<Vec<Cell>> = report
        .communes
        .iter()
        .map(|c| row(commune_cell(&c.commune, labels), c.boxes, &c.counts))
        .collect();
    rows.push(row(
        Cell::Text(labels.total.to_owned()),
        report.boxes.len(),
        &report.total,
    ));
    Table {
        header: header(&labels.communes),
        rows,
    }
}

fn days_table(report: &Report, labels: &Labels) -> Table {
    let rows = report
        .days
        .iter()
        .map(|d| {
            let mut row = vec![Cell::Date(d.date)];
            // The daily table has no share column: a day's share is in the chart.
            row.extend(counts_cells(&d.counts).into_iter().take(7));
            row
        })
        .collect();
    Table {
        header: header(&labels.days),
        rows,
    }
}

fn airings_table(rows: &[AsRunRow], tz: Tz, labels: &Labels) -> Table {
    let local = |at: DateTime<Utc>| at.with_timezone(&tz);
    let time = |at: Option<DateTime<Utc>>| {
        Cell::Time(at.map(|t| local(t).time().with_nanosecond(0).unwrap_or_default()))
    };
    let rows = rows
        .iter()
        .map(|r| {
            let entry = &r.entry;
            vec![
                Cell::Text(r.box_id.clone()),
                commune_cell(&r.commune, labels),
                Cell::Date(local(entry.scheduled).date_naive()),
                time(Some(entry.scheduled)),
                time(entry.started),
                time(entry.ended),
                Cell::Text(entry.name().to_owned()),
                Cell::Text(labels.outcome(&entry.outcome).to_owned()),
                Cell::Text(entry.detail.clone()),
            ]
        })
        .collect();
    Table {
        header: header(&labels.airings),
        rows,
    }
}

fn csv(table: &Table) -> Result<Vec<u8>, ExportError> {
    let mut writer = csv::Writer::from_writer(BOM.to_vec());
    writer.write_record(&table.header)?;
    for row in &table.rows {
        writer.write_record(row.iter().map(Cell::csv))?;
    }
    writer
        .into_inner()
        .map_err(|e| ExportError::Csv(e.into_error().into()))
}

/// The per-box table of a report.
pub fn boxes_csv(report: &Report, labels: &Labels) -> Result<Vec<u8>, ExportError> {
    csv(&boxes_table(report, labels))
}

/// The per-commune table of a report, with a total row.
pub fn communes_csv(report: &Report, labels: &Labels) -> Result<Vec<u8>, ExportError> {
    csv(&communes_table(report, labels))
}

/// The daily series of a report.
pub fn days_csv(report: &Report, labels: &Labels) -> Result<Vec<u8>, ExportError> {
    csv(&days_table(report, labels))
}

/// A list of as-run entries (where a bulletin aired, a box's log), times in `tz`.
pub fn airings_csv(rows: &[AsRunRow], tz: Tz, labels: &Labels) -> Result<Vec<u8>, ExportError> {
    csv(&airings_table(rows, tz, labels))
}

/// A report as a workbook: per box, per commune, per day, one sheet each.
pub fn report_xlsx(report: &Report, labels: &Labels) -> Result<Vec<u8>, ExportError> {
    let tables = [
        boxes_table(report, labels),
        communes_table(report, labels),
        days_table(report, labels),
    ];
    let mut workbook = Workbook::new();
    for (table, name) in tables.iter().zip(&labels.sheets) {
        sheet(&mut workbook, name, table)?;
    }
    Ok(workbook.save_to_buffer()?)
}

/// A list of as-run entries as a workbook of one sheet named `sheet_name`.
pub fn airings_xlsx(
    rows: &[AsRunRow],
    tz: Tz,
    labels: &Labels,
    sheet_name: &str,
) -> Result<Vec<u8>, ExportError> {
    let mut workbook = Workbook::new();
    sheet(&mut workbook, sheet_name, &airings_table(rows, tz, labels))?;
    Ok(workbook.save_to_buffer()?)
}

fn sheet(workbook: &mut Workbook, name: &str, table: &Table) -> Result<(), ExportError> {
    let bold = Format::new().set_bold();
    let minutes = Format::new().set_num_format("0.0");
    let share = Format::new().set_num_format("0.0%");
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let time = Format::new().set_num_format("hh:mm:ss");
    let sheet = workbook.add_worksheet();
    sheet.set_name(name)?;
    for (col, label) in (0u16..).zip(&table.header) {
        sheet.write_string_with_format(0, col, label, &bold)?;
    }
    for (row, cells) in (1u32..).zip(&table.rows) {
        for (col, cell) in (0u16..).zip(cells) {
            match cell {
                Cell::Text(text) => {
                    sheet.write_string(row, col, text)?;
                }
                Cell::Count(n) => {
                    sheet.write_number(row, col, *n as f64)?;
                }
                Cell::Minutes(m) => {
                    sheet.write_number_with_format(row, col, *m, &minutes)?;
                }
                Cell::Share(Some(s)) => {
                    sheet.write_number_with_format(row, col, *s, &share)?;
                }
                Cell::Date(d) => {
                    use chrono::Datelike;
                    let day = ExcelDateTime::from_ymd(
                        u16::try_from(d.year()).unwrap_or_default(),
                        d.month() as u8,
                        d.day() as u8,
                    )?;
                    sheet.write_datetime_with_format(row, col, &day, &date)?;
                }
                Cell::Time(Some(t)) => {
                    let at =
                        ExcelDateTime::from_hms(t.hour() as u16, t.minute() as u8, t.second())?;
                    sheet.write_datetime_with_format(row, col, &at, &time)?;
                }
                Cell::Share(None) | Cell::Time(None) => {}
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofit();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::labels::for_tests;
    use crate::archive::report::{BoxCounts, CommuneCounts, DayCounts, ReportQuery, ReportScope};
    use crate::archive::wire::AsRun;
    use calamine::{Data, Reader, Xlsx};
    use loaxa_core::i18n::Lang;

    fn report() -> Report {
        let counts = Counts {
            scheduled: 3,
            aired: 2,
            late: 1,
            missed: 1,
            failed: 0,
            interrupted: 0,
            aired_ms: 270_000,
        };
        let date = |d: &str| d.parse::<NaiveDate>().unwrap();
        Report {
            query: ReportQuery {
                from: date("2026-11-24"),
                to: date("2026-11-25"),
                tz: chrono_tz::Asia::Ho_Chi_Minh,
                scope: ReportScope::All,
                bulletin: None,
            },
            boxes: vec![
                BoxCounts {
                    box_id: "pd-01".into(),
                    commune: Some("phú-đông".into()),
                    counts,
                },
                BoxCounts {
                    box_id: "pd-03".into(),
                    commune: None,
                    counts: Counts::default(),
                },
            ],
            communes: vec![CommuneCounts {
                commune: Some("phú-đông".into()),
                boxes: 1,
                counts,
            }],
            days: vec![
                DayCounts {
                    date: date("2026-11-24"),
                    counts,
                },
                DayCounts {
                    date: date("2026-11-25"),
                    counts: Counts::default(),
                },
            ],
            total: counts,
        }
    }

    fn read_csv(bytes: &[u8]) -> Vec<Vec<String>> {
        assert!(bytes.starts_with(BOM));
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&bytes[BOM.len()..]);
        reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn the_csv_tables_read_back_with_vietnamese_headers_and_dd_mm_yyyy_dates() {
        let labels = for_tests(Lang::Vi);
        let boxes = read_csv(&boxes_csv(&report(), &labels).unwrap());
        assert_eq!(boxes[0], labels.boxes);
        assert_eq!(boxes[0][0], "Mã loa");
        assert_eq!(
            boxes[1],
            [
                "pd-01",
                "phú-đông",
                "3",
                "2",
                "1",
                "1",
                "0",
                "0",
                "4.5",
                "66.7"
            ]
        );
        assert_eq!(
            boxes[2],
            ["pd-03", "Không rõ", "0", "0", "0", "0", "0", "0", "0.0", ""]
        );
        let communes = read_csv(&communes_csv(&report(), &labels).unwrap());
        assert_eq!(communes.len(), 3);
        assert_eq!(communes[2][..3], ["Tổng cộng", "2", "3"]);
        let days = read_csv(&days_csv(&report(), &for_tests(Lang::En)).unwrap());
        assert_eq!(days[0][0], "Date");
        assert_eq!(days[1][..3], ["24/11/2026", "3", "2"]);
        assert_eq!(days[2][0], "25/11/2026");
    }

    #[test]
    fn where_a_bulletin_aired_is_written_in_office_time_24_hour() {
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        let rows = [AsRunRow {
            box_id: "pd-01".into(),
            commune: Some("phu-dong".into()),
            seq: 4,
            entry: AsRun {
                program: "evening".into(),
                title: Some("Bản tin, \"tối\"".into()),
                scheduled: at("2026-11-24T12:30:00Z"),
                started: Some(at("2026-11-24T12:30:01.400Z")),
                ended: None,
                outcome: "interrupted".into(),
                detail: "power cut".into(),
                bulletins: vec!["bao-lu".into()],
                origin_kind: None,
                origin_scope: None,
            },
        }];
        let tz = chrono_tz::Asia::Ho_Chi_Minh;
        let table = read_csv(&airings_csv(&rows, tz, &for_tests(Lang::Vi)).unwrap());
        assert_eq!(
            table[1],
            [
                "pd-01",
                "phu-dong",
                "24/11/2026",
                "19:30:00",
                "19:30:01",
                "",
                "Bản tin, \"tối\"",
                "Bị ngắt",
                "power cut"
            ]
        );
        let bytes = airings_xlsx(&rows, tz, &for_tests(Lang::Vi), "bao-lu").unwrap();
        let mut workbook: Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        let sheet = workbook.worksheet_range("bao-lu").unwrap();
        assert_eq!(
            sheet.get((1, 6)),
            Some(&Data::String("Bản tin, \"tối\"".into()))
        );
        let Some(Data::DateTime(start)) = sheet.get((1, 4)) else {
            panic!("{:?}", sheet.get((1, 4)))
        };
        assert_eq!(
            start.as_datetime().map(|t| t.time()),
            NaiveTime::from_hms_opt(19, 30, 1)
        );
    }

    #[test]
    fn the_workbook_reads_back_with_numbers_dates_and_a_sheet_per_table() {
        let labels = for_tests(Lang::Vi);
        let bytes = report_xlsx(&report(), &labels).unwrap();
        let mut workbook: Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(workbook.sheet_names(), ["Theo loa", "Theo xã", "Theo ngày"]);
        let boxes = workbook.worksheet_range("Theo loa").unwrap();
        assert_eq!(
            boxes.get((0, 9)),
            Some(&Data::String("Tỉ lệ phát (%)".into()))
        );
        assert_eq!(boxes.get((1, 0)), Some(&Data::String("pd-01".into())));
        assert_eq!(boxes.get((1, 2)), Some(&Data::Float(3.0)));
        assert_eq!(boxes.get((1, 8)), Some(&Data::Float(4.5)));
        let Some(Data::Float(share)) = boxes.get((1, 9)) else {
            panic!("{:?}", boxes.get((1, 9)))
        };
        assert!((share - 2.0 / 3.0).abs() < 1e-9);
        assert!(
            matches!(boxes.get((2, 9)), None | Some(Data::Empty)),
            "no share when nothing was scheduled"
        );
        let days = workbook.worksheet_range("Theo ngày").unwrap();
        let Some(Data::DateTime(day)) = days.get((1, 0)) else {
            panic!("{:?}", days.get((1, 0)))
        };
        assert_eq!(
            day.as_datetime().map(|d| d.date()),
            "2026-11-24".parse().ok()
        );
        let communes = workbook.worksheet_range("Theo xã").unwrap();
        assert_eq!(
            communes.get((2, 0)),
            Some(&Data::String("Tổng cộng".into()))
        );
    }
}
