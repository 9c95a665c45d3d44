//! The report's colours: one per cluster label (the same label always the same colour) and
//! one per RFM segment, shared by every chart and table that shows them.

use super::Report;
use super::svg::{self, esc};

/// Colours of the cluster labels of the k = 4 reference rule; other labels take the
/// palette in order of first appearance.
pub(super) const CLUSTER_COLORS: [(&str, &str); 4] = [
    ("Loyal Customer", "#2f8f46"),
    ("New Customer", "#2f6fb3"),
    ("One Time Big Spender", "#e08a1e"),
    ("Churned", "#c0392b"),
];

/// Colours of the RFM score segments: greens for the best, blues for the new, oranges
/// and reds for those slipping away, grey for the lost.
pub(super) const SEGMENT_COLORS: [(&str, &str); 11] = [
    ("Champions", "#1b7837"),
    ("Loyal Customers", "#4daf4a"),
    ("Potential Loyalists", "#a6d96a"),
    ("New Customers", "#2c7fb8"),
    ("Promising", "#7fcdbb"),
    ("Needs Attention", "#fdae61"),
    ("About to Sleep", "#f46d43"),
    ("At Risk", "#d73027"),
    ("Can't Lose Them", "#a50026"),
    ("Hibernating", "#8073ac"),
    ("Lost", "#8c8c8c"),
];

/// One colour per cluster (by position in `Report::clusters`, the same label always the
/// same colour) and per RFM segment name.
pub(super) struct Colors {
    clusters: Vec<String>,
    names: Vec<String>,
}

impl Colors {
    pub(super) fn new(r: &Report) -> Self {
        let mut assigned: Vec<(String, String)> = Vec::new();
        let mut next = 0;
        let clusters = r
            .clusters
            .iter()
            .map(|g| {
                if let Some((_, c)) = assigned.iter().find(|(n, _)| *n == g.name) {
                    return c.clone();
                }
                let color = match CLUSTER_COLORS.iter().find(|(n, _)| *n == g.name) {
                    Some((_, c)) => (*c).to_string(),
                    None => {
                        let c = svg::PALETTE[next % svg::PALETTE.len()];
                        next += 1;
                        c.to_string()
                    }
                };
                assigned.push((g.name.clone(), color.clone()));
                color
            })
            .collect();
        Colors {
            clusters,
            names: r.clusters.iter().map(|g| g.name.clone()).collect(),
        }
    }

    /// The colour of the cluster labelled `name`.
    pub(super) fn label(&self, name: &str) -> &str {
        let i = self.names.iter().position(|n| n == name);
        i.map_or("#8c8c8c", |i| self.cluster(i))
    }

    pub(super) fn cluster(&self, i: usize) -> &str {
        self.clusters.get(i).map_or("#8c8c8c", String::as_str)
    }

    pub(super) fn segment(&self, name: &str) -> &'static str {
        SEGMENT_COLORS.iter().find(|(n, _)| *n == name).map_or_else(
            || {
                // A name outside the rule set: a stable palette colour from its bytes.
                let h = name.bytes().fold(0usize, |h, b| {
                    h.wrapping_mul(31).wrapping_add(usize::from(b))
                });
                svg::PALETTE[h % svg::PALETTE.len()]
            },
            |(_, c)| c,
        )
    }
}

pub(super) fn swatch(color: &str) -> String {
    format!(
        "<span class=\"sw\" style=\"background: {}\"></span>",
        esc(color)
    )
}
