//! The report's acquisition cohorts (`run --cohorts`): the retention triangle of the
//! latest cohorts, each cell the share of the cohort that purchased in that later period,
//! shaded. Nothing without `--cohorts`.

use std::fmt::Write;

use super::Report;
use super::format::{money, pct};
use super::svg::esc;
use crate::quality::group_thousands;

/// Cohorts (rows) and later periods (columns) the triangle shows; cohorts.csv has all.
const SHOWN: usize = 12;

pub(super) fn section(out: &mut String, r: &Report) {
    let Some(c) = &r.cohorts else {
        return;
    };
    let period = c.period.name();
    let shown = &c.cohorts[c.cohorts.len().saturating_sub(SHOWN)..];
    let _ = write!(
        out,
        "<section id=\"cohorts\"><h2>Acquisition cohorts</h2>\n<p class=\"note\">Customers \
         by the {period} of their first counted purchase, and the share of them who purchased \
         again {period} by {period} up to {}. The latest {} of {} cohorts; every cohort and its \
         revenue: <code>cohorts.csv</code>.</p>",
        esc(&r.window.as_of),
        shown.len(),
        c.cohorts.len()
    );
    let _ = write!(
        out,
        "<div class=\"scroll\"><table class=\"tight\"><thead><tr><th>Cohort</th>\
         <th class=\"n\">Customers</th><th class=\"n\">Revenue</th>"
    );
    for i in 1..SHOWN {
        let _ = write!(out, "<th class=\"n\">+{i}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for cohort in shown {
        let revenue: f64 = cohort.cells.iter().map(|p| p.revenue).sum();
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>",
            esc(&cohort.start),
            group_thousands(cohort.customers),
            money(revenue)
        );
        let last = cohort.observed;
        for i in 1..SHOWN as i64 {
            if i > last {
                out.push_str("<td></td>");
                continue;
            }
            let share = cohort
                .cells
                .iter()
                .find(|p| p.index == i)
                .map_or(0.0, |p| p.share);
            // White to dark green by share (a quarter of the cohort is full colour).
            let t = (share * 4.0).min(1.0);
            let shade = |lo: f64, hi: f64| (lo + (hi - lo) * t).round() as u8;
            let ink = if t > 0.6 { "#ffffff" } else { "#24292f" };
            let _ = write!(
                out,
                "<td class=\"n\" style=\"background: rgb({},{},{}); color: {ink}\">{}</td>",
                shade(247.0, 27.0),
                shade(252.0, 120.0),
                shade(245.0, 55.0),
                pct(share)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div></section>\n");
}
