//! Every word the exports and the chart put before people, in one place: Vietnamese by
//! default, English on request. A caller with its own catalogue (the console) builds a
//! [`Labels`] of its own instead.

/// The texts of the exports and the chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels<'a> {
    /// Columns of the per-box table.
    pub boxes: [&'a str; 10],
    /// Columns of the per-commune table.
    pub communes: [&'a str; 10],
    /// Columns of the daily series.
    pub days: [&'a str; 8],
    /// Columns of the list of airings (where a bulletin aired).
    pub airings: [&'a str; 9],
    /// Outcomes by their protocol names; others are shown as they are.
    pub aired: &'a str,
    pub missed: &'a str,
    pub failed: &'a str,
    pub interrupted: &'a str,
    /// A box of no known commune.
    pub unknown: &'a str,
    /// The row that sums up a table.
    pub total: &'a str,
    /// Sheet names of the workbook (at most 31 characters each).
    pub sheets: [&'a str; 3],
    /// The chart's title and its two series.
    pub chart_title: &'a str,
    pub chart_aired: &'a str,
    pub chart_not_aired: &'a str,
}

impl Labels<'static> {
    /// The labels for a language code: "en" for English, anything else Vietnamese.
    pub fn for_lang(lang: &str) -> Labels<'static> {
        if lang.eq_ignore_ascii_case("en") {
            ENGLISH
        } else {
            VIETNAMESE
        }
    }
}

impl Labels<'_> {
    pub fn outcome<'s>(&'s self, outcome: &'s str) -> &'s str {
        match outcome {
            "aired" => self.aired,
            "missed" => self.missed,
            "failed" => self.failed,
            "interrupted" => self.interrupted,
            other => other,
        }
    }
}

/// The columns of the per-box table, for a language code (see [`Labels::for_lang`]).
pub fn columns(lang: &str) -> [&'static str; 10] {
    Labels::for_lang(lang).boxes
}

const VIETNAMESE: Labels<'static> = Labels {
    boxes: [
        "Mã loa",
        "Xã",
        "Đã lên lịch",
        "Đã phát",
        "Trễ",
        "Bỏ lỡ",
        "Lỗi",
        "Bị ngắt",
        "Số phút đã phát",
        "Tỉ lệ phát (%)",
    ],
    communes: [
        "Xã",
        "Số loa",
        "Đã lên lịch",
        "Đã phát",
        "Trễ",
        "Bỏ lỡ",
        "Lỗi",
        "Bị ngắt",
        "Số phút đã phát",
        "Tỉ lệ phát (%)",
    ],
    days: [
        "Ngày",
        "Đã lên lịch",
        "Đã phát",
        "Trễ",
        "Bỏ lỡ",
        "Lỗi",
        "Bị ngắt",
        "Số phút đã phát",
    ],
    airings: [
        "Mã loa",
        "Xã",
        "Ngày",
        "Giờ dự kiến",
        "Giờ bắt đầu",
        "Giờ kết thúc",
        "Chương trình",
        "Kết quả",
        "Ghi chú",
    ],
    aired: "Đã phát",
    missed: "Bỏ lỡ",
    failed: "Lỗi",
    interrupted: "Bị ngắt",
    unknown: "Không rõ",
    total: "Tổng cộng",
    sheets: ["Theo loa", "Theo xã", "Theo ngày"],
    chart_title: "Phát thanh theo ngày",
    chart_aired: "Đã phát",
    chart_not_aired: "Bỏ lỡ hoặc lỗi",
};

const ENGLISH: Labels<'static> = Labels {
    boxes: [
        "Box",
        "Commune",
        "Scheduled",
        "Aired",
        "Late",
        "Missed",
        "Failed",
        "Interrupted",
        "Minutes aired",
        "Share aired (%)",
    ],
    communes: [
        "Commune",
        "Boxes",
        "Scheduled",
        "Aired",
        "Late",
        "Missed",
        "Failed",
        "Interrupted",
        "Minutes aired",
        "Share aired (%)",
    ],
    days: [
        "Date",
        "Scheduled",
        "Aired",
        "Late",
        "Missed",
        "Failed",
        "Interrupted",
        "Minutes aired",
    ],
    airings: [
        "Box",
        "Commune",
        "Date",
        "Scheduled",
        "Started",
        "Ended",
        "Programme",
        "Outcome",
        "Detail",
    ],
    aired: "Aired",
    missed: "Missed",
    failed: "Failed",
    interrupted: "Interrupted",
    unknown: "Unknown",
    total: "Total",
    sheets: ["By box", "By commune", "By day"],
    chart_title: "Broadcasts by day",
    chart_aired: "Aired",
    chart_not_aired: "Missed or failed",
};
