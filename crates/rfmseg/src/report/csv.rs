//! The CSV outputs, for spreadsheets: segments.csv (one line per cluster and per RFM
//! segment), migration.csv and cohorts.csv.

use super::{GroupSummary, Lift};
use crate::stages::cohorts::Cohorts;
use crate::stages::migration::Migration;

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// segments.csv: one line per cluster and per RFM segment.
pub fn segments_csv(clusters: &[GroupSummary], segments: &[GroupSummary]) -> String {
    let mut out = String::from(
        "kind,name,cluster,customers,share_customers,share_revenue,mean_recency,mean_frequency,\
         mean_monetary,price_p25,price_median,price_p75,top_categories,top_stores,action\n",
    );
    let lifts = |l: &[Lift]| {
        l.iter()
            .map(|x| format!("{} (x{:.2})", x.name, x.lift))
            .collect::<Vec<_>>()
            .join("; ")
    };
    for g in clusters.iter().chain(segments) {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            g.kind,
            csv_field(&g.name),
            g.cluster.map(|c| c.to_string()).unwrap_or_default(),
            g.customers,
            g.share_customers,
            g.share_revenue,
            g.mean_recency,
            g.mean_frequency,
            g.mean_monetary,
            g.price_band[0],
            g.price_band[1],
            g.price_band[2],
            csv_field(&lifts(&g.top_categories)),
            csv_field(&lifts(&g.top_stores)),
            csv_field(&g.action),
        ));
    }
    out
}

/// migration.csv: one line per non-empty cell of the segment and the cluster transition
/// matrices (`run --compare-as-of`).
pub fn migration_csv(m: &Migration) -> String {
    let mut out =
        String::from("dimension,from,to,customers,share_of_origin,revenue_before,revenue_now\n");
    for (dimension, matrix) in [("rfm_segment", &m.segments), ("cluster", &m.clusters)] {
        for c in &matrix.cells {
            out.push_str(&format!(
                "{dimension},{},{},{},{:.6},{:.2},{:.2}\n",
                csv_field(&c.from),
                csv_field(&c.to),
                c.customers,
                c.share_of_origin,
                c.revenue_before,
                c.revenue_now
            ));
        }
    }
    out
}

/// cohorts.csv: one line per cohort and later period with a purchase (`run --cohorts`).
pub fn cohorts_csv(c: &Cohorts) -> String {
    let mut out = String::from("cohort,customers,period_index,active,share_active,revenue\n");
    for cohort in &c.cohorts {
        for p in &cohort.cells {
            out.push_str(&format!(
                "{},{},{},{},{:.6},{:.2}\n",
                cohort.start, cohort.customers, p.index, p.active, p.share, p.revenue
            ));
        }
    }
    out
}
