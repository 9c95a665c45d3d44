//! The data-quality table: for every cleaning step, how many rows it removed, fixed or
//! counted, and why. Printed after cleaning and kept as JSON for the report.

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::text::group_thousands;

/// What a step did to the rows it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Rows read.
    Input,
    /// Rows dropped.
    Removed,
    /// Rows kept with a value corrected (rating 0 -> 1, negative votes -> 0).
    Fixed,
    /// Rows kept and counted (e.g. items whose price could not be parsed).
    Counted,
    /// Rows left after every step.
    Kept,
}

impl Action {
    /// The word shown in the table and the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Input => "input",
            Action::Removed => "removed",
            Action::Fixed => "fixed",
            Action::Counted => "counted",
            Action::Kept => "kept",
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityStep {
    /// `reviews` or `items`.
    pub table: String,
    pub step: String,
    pub action: Action,
    pub rows: u64,
}

/// The data-quality table, in step order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataQuality {
    pub steps: Vec<QualityStep>,
}

impl DataQuality {
    pub fn push(&mut self, table: &str, step: &str, action: Action, rows: u64) {
        self.steps.push(QualityStep {
            table: table.to_string(),
            step: step.to_string(),
            action,
            rows,
        });
    }

    /// The rows of one step, or 0 if the step removed nothing (steps with no rows are
    /// still listed, so a reader sees every rule was applied).
    pub fn rows(&self, table: &str, step: &str) -> u64 {
        self.steps
            .iter()
            .find(|s| s.table == table && s.step == step)
            .map_or(0, |s| s.rows)
    }

    /// The rows left in a table after cleaning.
    /// The table purchases come from: reviews, or a shop's transactions (the first table
    /// cleaned).
    pub fn purchases_table(&self) -> &str {
        self.steps.first().map_or("reviews", |s| s.table.as_str())
    }

    pub fn kept(&self, table: &str) -> u64 {
        self.steps
            .iter()
            .find(|s| s.table == table && s.action == Action::Kept)
            .map_or(0, |s| s.rows)
    }
}

impl fmt::Display for DataQuality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .steps
            .iter()
            .map(|s| s.step.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let table = self
            .steps
            .iter()
            .map(|s| s.table.len())
            .max()
            .unwrap_or(5)
            .max(8);
        writeln!(
            f,
            "{:<table$} {:<width$} {:<8} {:>12}",
            "table", "step", "action", "rows"
        )?;
        for s in &self.steps {
            let action = s.action.as_str();
            writeln!(
                f,
                "{:<table$} {:<width$} {:<8} {:>12}",
                s.table,
                s.step,
                action,
                group_thousands(s.rows)
            )?;
        }
        Ok(())
    }
}
