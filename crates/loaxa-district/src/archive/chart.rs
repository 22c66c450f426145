//! The daily series of a report as an SVG bar chart, drawn on the server by `plotters` (its SVG
//! backend only): per local day, a bar of what aired with what was missed or failed stacked on
//! it. Text is left to the browser's fonts, so nothing is loaded from disk or the network.

use plotters::prelude::*;

use super::labels::Labels;
use super::report::DayCounts;

const SIZE: (u32, u32) = (800, 320);
const AIRED: RGBColor = RGBColor(46, 125, 50);
const NOT_AIRED: RGBColor = RGBColor(198, 40, 40);
/// More date labels than this crowd each other; plotters then labels every few days.
const MAX_DATE_LABELS: usize = 16;

#[derive(Debug, thiserror::Error)]
#[error("drawing the chart: {0}")]
pub struct ChartError(String);

fn drawing<E: std::fmt::Display>(error: E) -> ChartError {
    ChartError(error.to_string())
}

fn not_aired(day: &DayCounts) -> u64 {
    day.counts.missed + day.counts.failed
}

/// The chart of `days` (a report's daily series) as SVG text, with the title and series names
/// of `labels`.
pub fn daily_svg(days: &[DayCounts], labels: &Labels) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let segments = u32::try_from(days.len().max(1)).unwrap_or(u32::MAX);
        let highest = days
            .iter()
            .map(|d| d.counts.aired + not_aired(d))
            .max()
            .unwrap_or(0)
            .max(1);
        // Room above the highest bar for the legend.
        let top = highest + highest / 4 + 1;
        let mut chart = ChartBuilder::on(&root)
            .caption(&labels.chart_title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(48)
            .build_cartesian_2d((0..segments).into_segmented(), 0..top)
            .map_err(drawing)?;
        let dates: Vec<String> = days
            .iter()
            .map(|d| d.date.format("%d/%m").to_string())
            .collect();
        let date_label = |value: &SegmentValue<u32>| match value {
            SegmentValue::CenterOf(i) => dates.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(days.len().clamp(1, MAX_DATE_LABELS))
            .x_label_formatter(&date_label)
            .draw()
            .map_err(drawing)?;
        let bar = |i: usize, from: u64, to: u64, color: RGBColor| {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), from),
                    (SegmentValue::Exact(i + 1), to),
                ],
                color.filled(),
            );
            bar.set_margin(0, 0, 2, 2);
            bar
        };
        let legend = |color: RGBColor| {
            move |(x, y): (i32, i32)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
        };
        chart
            .draw_series(
                days.iter()
                    .enumerate()
                    .filter(|(_, d)| d.counts.aired > 0)
                    .map(|(i, d)| bar(i, 0, d.counts.aired, AIRED)),
            )
            .map_err(drawing)?
            .label(&labels.chart_aired)
            .legend(legend(AIRED));
        chart
            .draw_series(
                days.iter()
                    .enumerate()
                    .filter(|(_, d)| not_aired(d) > 0)
                    .map(|(i, d)| bar(i, d.counts.aired, d.counts.aired + not_aired(d), NOT_AIRED)),
            )
            .map_err(drawing)?
            .label(&labels.chart_not_aired)
            .legend(legend(NOT_AIRED));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::labels::for_tests;
    use crate::archive::report::Counts;
    use loaxa_core::i18n::Lang;

    fn day(date: &str, aired: u64, missed: u64, failed: u64) -> DayCounts {
        DayCounts {
            date: date.parse().unwrap(),
            counts: Counts {
                scheduled: aired + missed + failed,
                aired,
                missed,
                failed,
                ..Counts::default()
            },
        }
    }

    fn fill(color: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", color.0, color.1, color.2)
    }

    #[test]
    fn the_chart_is_svg_with_a_bar_per_day_and_series_and_the_callers_labels() {
        let days = [
            day("2026-11-24", 30, 2, 1),
            day("2026-11-25", 28, 0, 0),
            day("2026-11-26", 0, 4, 0),
        ];
        let labels = Labels {
            chart_title: "Phát thanh <tháng 11> & 12".into(),
            ..for_tests(Lang::Vi)
        };
        let svg = daily_svg(&days, &labels).unwrap();
        let document = roxmltree::Document::parse(&svg).unwrap();
        assert_eq!(document.root_element().tag_name().name(), "svg");
        let bars = |color| {
            document
                .descendants()
                .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some(&fill(color)))
                .count()
        };
        // A bar per day that aired, one per day that missed or failed, one in each legend mark.
        assert_eq!(bars(AIRED), 2 + 1, "{svg}");
        assert_eq!(bars(NOT_AIRED), 2 + 1, "{svg}");
        let texts: Vec<String> = document
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(|t| t.trim().to_owned()))
            .collect();
        for expected in [
            "Phát thanh <tháng 11> & 12",
            "Đã phát",
            "Bỏ lỡ hoặc lỗi",
            "24/11",
            "26/11",
        ] {
            assert!(texts.iter().any(|t| t == expected), "{expected}: {texts:?}");
        }
    }

    #[test]
    fn a_range_without_days_still_draws_an_empty_chart() {
        let svg = daily_svg(&[], &for_tests(Lang::En)).unwrap();
        let document = roxmltree::Document::parse(&svg).unwrap();
        assert!(
            document
                .descendants()
                .any(|n| n.text().map(str::trim) == Some("Broadcasts by day"))
        );
    }
}
