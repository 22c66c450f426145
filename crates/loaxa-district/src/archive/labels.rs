//! The words of the exports and the chart, taken once from the office's message catalogue
//! (`locales/*/reports.ftl`) so the writers below need no catalogue of their own.

use loaxa_core::i18n::{Catalogue, Lang};

/// The texts of the exports and the chart, in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    /// Columns of the per-box table.
    pub boxes: [String; 10],
    /// Columns of the per-commune table.
    pub communes: [String; 10],
    /// Columns of the daily series.
    pub days: [String; 8],
    /// Columns of the list of airings (where a bulletin aired).
    pub airings: [String; 9],
    /// Outcomes by their protocol names (see [`Labels::outcome`]).
    pub aired: String,
    pub missed: String,
    pub failed: String,
    pub interrupted: String,
    /// A box of no known commune.
    pub unknown: String,
    /// The row that sums up a table.
    pub total: String,
    /// Sheet names of the workbook (at most 31 characters each).
    pub sheets: [String; 3],
    /// The chart's title and its two series.
    pub chart_title: String,
    pub chart_aired: String,
    pub chart_not_aired: String,
}

impl Labels {
    pub fn new(text: &Catalogue, lang: Lang) -> Labels {
        let t = |id: &str| text.text(lang, id, &[]);
        let counts = [
            "export-scheduled",
            "export-aired",
            "export-late",
            "export-missed",
            "export-failed",
            "export-interrupted",
            "export-minutes",
        ];
        let row = |first: &[&str], last: &[&str]| -> Vec<String> {
            first
                .iter()
                .chain(&counts)
                .chain(last)
                .map(|id| t(id))
                .collect()
        };
        Labels {
            boxes: fixed(row(&["export-box", "export-commune"], &["export-share"])),
            communes: fixed(row(&["export-commune", "export-boxes"], &["export-share"])),
            days: fixed(row(&["export-date"], &[])),
            airings: [
                "export-box",
                "export-commune",
                "export-date",
                "export-scheduled-at",
                "export-started",
                "export-ended",
                "export-programme",
                "export-outcome",
                "export-detail",
            ]
            .map(t),
            aired: t("export-aired"),
            missed: t("export-missed"),
            failed: t("export-failed"),
            interrupted: t("export-interrupted"),
            unknown: t("export-unknown"),
            total: t("export-total"),
            sheets: [
                "export-sheet-boxes",
                "export-sheet-communes",
                "export-sheet-days",
            ]
            .map(t),
            chart_title: t("export-chart-title"),
            chart_aired: t("export-chart-aired"),
            chart_not_aired: t("export-chart-not-aired"),
        }
    }

    pub fn outcome<'s>(&'s self, outcome: &'s str) -> &'s str {
        match outcome {
            "aired" => &self.aired,
            "missed" => &self.missed,
            "failed" => &self.failed,
            "interrupted" => &self.interrupted,
            other => other,
        }
    }
}

/// A row of known length (the lists above are written to match).
fn fixed<const N: usize>(row: Vec<String>) -> [String; N] {
    let mut row = row.into_iter();
    std::array::from_fn(|_| row.next().unwrap_or_default())
}

#[cfg(test)]
pub(crate) fn for_tests(lang: Lang) -> Labels {
    Labels::new(&crate::text::catalogue().unwrap(), lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_has_its_own_words_in_both_languages() {
        for lang in Lang::ALL {
            let labels = for_tests(lang);
            for header in labels
                .boxes
                .iter()
                .chain(&labels.communes)
                .chain(&labels.days)
            {
                assert!(
                    !header.is_empty() && !header.starts_with("export"),
                    "{header}"
                );
            }
            assert!(labels.sheets.iter().all(|s| s.chars().count() <= 31));
        }
        let vi = for_tests(Lang::Vi);
        assert_eq!(vi.boxes[0], "Mã loa");
        assert_eq!(vi.boxes[9], "Tỉ lệ phát (%)");
        assert_eq!(vi.days[7], "Số phút đã phát");
        assert_eq!(for_tests(Lang::En).airings[7], "Outcome");
    }
}
