//! The one table: `section | measure | loaxa | alternative | ratio | goal`, as Markdown (printed
//! and written to report.md) and as JSON (report.json, with the raw numbers).

use std::time::Duration;

use serde_json::{Value, json};

use crate::sys::Machine;

/// One measured figure, or why there is none.
#[derive(Clone, Debug)]
pub enum Cell {
    Value { value: f64, unit: String },
    Na(String),
}

impl Cell {
    pub fn new(value: f64, unit: &str) -> Cell {
        Cell::Value {
            value,
            unit: unit.into(),
        }
    }

    pub fn na(why: impl Into<String>) -> Cell {
        Cell::Na(why.into())
    }

    pub fn value(&self) -> Option<f64> {
        match self {
            Cell::Value { value, .. } => Some(*value),
            Cell::Na(_) => None,
        }
    }

    fn text(&self) -> String {
        match self {
            Cell::Value { value, unit } => format!("{} {unit}", number(*value)),
            Cell::Na(why) => format!("n/a ({why})"),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Cell::Value { value, unit } => json!({ "value": value, "unit": unit }),
            Cell::Na(why) => json!({ "na": why }),
        }
    }
}

/// Three significant digits is what these measurements can stand behind.
pub fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 || value == value.trunc() {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        // 1.23, 0.123, 0.00123: three significant digits, at most six decimals.
        let decimals = (2.0 - magnitude.log10().floor()).clamp(2.0, 6.0) as usize;
        format!("{value:.decimals$}")
    }
}

/// A goal the bench holds loaxa to (`≤ 2 s`, `≤ 1.1× mpg123`), and whether loaxa met it.
#[derive(Clone, Debug)]
pub struct Goal {
    pub text: String,
    pub met: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct Row {
    pub section: String,
    pub measure: String,
    pub loaxa: Cell,
    /// What the alternative is ("mpg123", "raw mosquitto_pub"…); shown in its cell.
    pub tool: String,
    pub alternative: Cell,
    pub goal: Option<Goal>,
}

impl Row {
    pub fn new(section: &str, measure: impl Into<String>, loaxa: Cell) -> Row {
        Row {
            section: section.into(),
            measure: measure.into(),
            loaxa,
            tool: String::new(),
            alternative: Cell::na("no comparable tool"),
            goal: None,
        }
    }

    pub fn versus(mut self, tool: &str, alternative: Cell) -> Row {
        self.tool = tool.into();
        self.alternative = alternative;
        self
    }

    /// A goal on loaxa's own figure: `met(value)` says whether it holds.
    pub fn goal(mut self, text: &str, met: impl Fn(f64) -> bool) -> Row {
        self.goal = Some(Goal {
            text: text.into(),
            met: self.loaxa.value().map(met),
        });
        self
    }

    /// A goal on the ratio loaxa / alternative.
    pub fn ratio_goal(mut self, text: &str, max_ratio: f64) -> Row {
        self.goal = Some(Goal {
            text: text.into(),
            met: self.ratio().map(|r| r <= max_ratio),
        });
        self
    }

    pub fn failed(section: &str, why: &str) -> Row {
        Row::new(section, "section failed", Cell::na(why.to_string()))
    }

    pub fn ratio(&self) -> Option<f64> {
        match (self.loaxa.value(), self.alternative.value()) {
            (Some(a), Some(b)) if b != 0.0 => Some(a / b),
            _ => None,
        }
    }

    fn alternative_text(&self) -> String {
        match (&self.alternative, self.tool.is_empty()) {
            (Cell::Value { .. }, false) => format!("{} ({})", self.alternative.text(), self.tool),
            _ => self.alternative.text(),
        }
    }
}

pub struct Report {
    pub machine: Machine,
    pub rows: Vec<Row>,
    /// How each figure was obtained, printed under the table.
    pub notes: Vec<String>,
    pub elapsed: Duration,
}

impl Report {
    pub fn new(machine: Machine) -> Report {
        Report {
            machine,
            rows: Vec::new(),
            notes: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    pub fn markdown(&self) -> String {
        let mut out = String::from("# loaxa benchmarks\n\n");
        out += &format!("Machine: {}\n\n", self.machine.describe());
        out += "| section | measure | loaxa | alternative | ratio | goal |\n";
        out += "|---|---|---|---|---|---|\n";
        for row in &self.rows {
            let ratio = row
                .ratio()
                .map(|r| format!("{}×", number(r)))
                .unwrap_or_else(|| "–".into());
            let goal = match &row.goal {
                None => String::new(),
                Some(Goal { text, met }) => match met {
                    Some(true) => format!("{text} ✓"),
                    Some(false) => format!("{text} ✗"),
                    None => format!("{text} ?"),
                },
            };
            out += &format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                row.section,
                row.measure,
                row.loaxa.text(),
                row.alternative_text(),
                ratio,
                goal
            );
        }
        out += &format!("\nWhole run: {:.0} s.\n", self.elapsed.as_secs_f64());
        if !self.notes.is_empty() {
            out += "\nHow each figure was measured:\n\n";
            for note in &self.notes {
                out += &format!("- {note}\n");
            }
        }
        out
    }

    pub fn json(&self) -> String {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                json!({
                    "section": row.section,
                    "measure": row.measure,
                    "loaxa": row.loaxa.to_json(),
                    "alternative_tool": row.tool,
                    "alternative": row.alternative.to_json(),
                    "ratio": row.ratio(),
                    "goal": row.goal.as_ref().map(|g| json!({ "text": g.text, "met": g.met })),
                })
            })
            .collect();
        let report = json!({
            "machine": self.machine.to_json(),
            "elapsed_seconds": self.elapsed.as_secs_f64(),
            "rows": rows,
            "notes": self.notes,
        });
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    }
}
