//! report.html: one self-contained page rendered from [`Report`]: inline CSS, inline SVG
//! charts ([`super::svg`]), no script and no network, readable at a laptop's width.
//!
//! Sections, in order: header, segments at a glance, choosing k, clusters, R/F/M
//! distributions, R x F segment grid, recommendations, lifetime value ([`super::clv`]),
//! data quality, run. Every string
//! from the data is escaped, and every number is formatted for people ("n/a" when it is
//! not finite), so odd data gives an odd-looking number, never a broken page.

use std::fmt::Write;

use super::colors::{Colors, swatch};
use super::format::*;
use super::svg::{self, HeatCell, LineChart, Marker, Series, Slice, esc};
use super::{GroupSummary, Lift, Report};
use crate::quality::{Action, group_thousands};

/// RFM segments drawn in the donut; the rest are summed as "Other".
const DONUT_SEGMENTS: usize = 8;

const STYLE: &str = r#"
:root { color-scheme: light; --ink: #24292f; --muted: #57606a; --line: #d8dee4; --bg: #f6f8fa; --accent: #c0392b; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; }
header.top { background: #1f2a37; color: #fff; }
header.top .inner { max-width: 1240px; margin: 0 auto; padding: 22px 28px 18px; }
header.top h1 { margin: 0 0 4px; font-size: 26px; letter-spacing: 0.2px; }
header.top .meta { color: #c9d1d9; font-size: 14px; }
header.top .meta code { color: #fff; }
nav { display: flex; flex-wrap: wrap; gap: 6px 16px; margin-top: 12px; font-size: 14px; }
nav a { color: #9ecbff; text-decoration: none; }
nav a:hover { text-decoration: underline; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px; margin: 0 0 8px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .label { color: var(--muted); font-size: 13px; }
.card .value { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .sub { color: var(--muted); font-size: 13px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 18px 22px 20px; margin: 18px 0; }
h2 { margin: 0 0 12px; font-size: 20px; }
h3 { margin: 14px 0 8px; font-size: 16px; }
p.note { color: var(--muted); margin: 6px 0 12px; font-size: 14px; }
.two { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 18px 28px; }
.three { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 16px; }
.glance { display: flex; flex-direction: column; align-items: center; gap: 10px; }
.glance .chart { width: 100%; max-width: 270px; }
.glance .scroll { width: 100%; }
.chart { min-width: 0; }
svg { display: block; width: 100%; height: auto; max-width: 100%; }
.grid-chart { max-width: 860px; margin: 0 auto; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 14px; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 10px; border-bottom: 1px solid #eaeef2; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; color: #32383f; }
td.name { white-space: nowrap; }
table.tight th, table.tight td { padding: 6px 8px; }
td.n, th.n { text-align: right; }
td.n { white-space: nowrap; }
tr.chosen td { background: #fff4f2; font-weight: 600; }
tr.total td { border-top: 2px solid var(--line); font-weight: 600; }
.sw { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 7px; vertical-align: -1px; }
.reason { background: #f6f8fa; border-left: 4px solid var(--accent); padding: 10px 14px; border-radius: 4px; margin: 14px 0 6px; }
.recs { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 14px; }
.rec { border: 1px solid var(--line); border-top: 5px solid var(--c, #888); border-radius: 8px; padding: 12px 14px; }
.rec h4 { margin: 0 0 2px; font-size: 16px; }
.rec .kind { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 0.5px; }
.rec .action { margin: 8px 0; font-weight: 600; }
.rec ul { margin: 0; padding-left: 18px; font-size: 14px; }
.rec li { margin: 2px 0; }
.badge { display: inline-block; font-size: 12px; padding: 1px 7px; border-radius: 10px; background: #eaeef2; color: #32383f; }
.badge.removed { background: #ffebe9; color: #a40e26; }
.badge.fixed { background: #fff8c5; color: #7d4e00; }
.badge.kept { background: #dafbe1; color: #116329; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; overflow-x: auto; font-size: 13px; line-height: 1.45; }
footer { color: var(--muted); font-size: 13px; text-align: center; margin-top: 24px; }
@media (max-width: 760px) { .two { grid-template-columns: 1fr; } }
"#;

/// The self-contained HTML page of a report.
pub fn render(report: &Report) -> String {
    let colors = Colors::new(report);
    let mut out = String::with_capacity(256 * 1024);
    out.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        out,
        "<title>rfmseg report: {} customers, k = {}</title>",
        group_thousands(report.customers),
        report.model.k
    );
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    header(&mut out, report);
    out.push_str("<main>\n");
    key_figures(&mut out, report);
    glance(&mut out, report, &colors);
    choosing_k(&mut out, report);
    clusters(&mut out, report, &colors);
    distributions(&mut out, report);
    rf_grid(&mut out, report, &colors);
    recommendations(&mut out, report, &colors);
    super::clv::section(&mut out, report, &colors);
    super::migration::section(&mut out, report, &colors);
    super::cohorts::section(&mut out, report);
    data_quality(&mut out, report);
    run(&mut out, report);
    let _ = writeln!(
        out,
        "<footer>Generated by rfmseg {} from <code>{}</code>.</footer>",
        esc(&report.rfmseg_version),
        esc(&report.lake)
    );
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

// ---------------------------------------------------------------------------------------
// Sections

fn header(out: &mut String, r: &Report) {
    let w = &r.window;
    let _ = write!(
        out,
        "<header class=\"top\"><div class=\"inner\"><h1>rfmseg report</h1>\
         <div class=\"meta\">Lake <code>{}</code> · window {} .. {} ({} days; newest purchase {}) · \
         rfmseg {}</div><nav>",
        esc(&r.lake),
        esc(&w.first_day),
        esc(&w.as_of),
        group_thousands(u64::from(w.window_days)),
        esc(&w.newest_day),
        esc(&r.rfmseg_version)
    );
    for (id, title) in [
        ("segments", "Segments"),
        ("choosing-k", "Choosing k"),
        ("clusters", "Clusters"),
        ("distributions", "R/F/M distributions"),
        ("rf-grid", "R × F grid"),
        ("recommendations", "Recommendations"),
        ("clv", "Lifetime value"),
        ("data-quality", "Data quality"),
        ("run", "Run"),
    ] {
        let _ = write!(out, "<a href=\"#{id}\">{title}</a>");
        if id == "clv" && r.migration.is_some() {
            out.push_str("<a href=\"#migration\">Migration</a>");
        }
        if id == "clv" && r.cohorts.is_some() {
            out.push_str("<a href=\"#cohorts\">Cohorts</a>");
        }
    }
    out.push_str("</nav></div></header>\n");
}

fn key_figures(out: &mut String, r: &Report) {
    let w = &r.window;
    out.push_str("<div class=\"cards\">");
    card(
        out,
        "Customers",
        &group_thousands(r.customers),
        &format!("{} counted purchases", group_thousands(w.counted)),
    );
    card(
        out,
        "Revenue",
        &money_compact(r.revenue),
        &format!("{} in the window", money(r.revenue)),
    );
    card(
        out,
        "Chosen k",
        &r.model.k.to_string(),
        &format!(
            "silhouette {} (Spark) · {} (sample)",
            dec(r.model.silhouette, 3),
            dec(r.model.silhouette_sample, 3)
        ),
    );
    card(
        out,
        "Window",
        &format!("{} days", group_thousands(u64::from(w.window_days))),
        &format!("{} .. {}", w.first_day, w.as_of),
    );
    out.push_str("</div>\n");
}

fn glance(out: &mut String, r: &Report, colors: &Colors) {
    out.push_str("<section id=\"segments\"><h2>Segments at a glance</h2>\n");
    out.push_str(
        "<p class=\"note\">Outer ring: share of customers; inner ring: share of revenue.</p>\n\
         <div class=\"two\">",
    );
    // Clusters.
    let slices: Vec<Slice> = r
        .clusters
        .iter()
        .enumerate()
        .map(|(i, g)| Slice {
            label: g.name.clone(),
            value: g.customers as f64,
            inner: Some(g.share_revenue),
            color: colors.cluster(i).to_string(),
        })
        .collect();
    let rows: Vec<(String, &str, u64, f64, f64)> = r
        .clusters
        .iter()
        .enumerate()
        .map(|(i, g)| {
            (
                g.name.clone(),
                colors.cluster(i),
                g.customers,
                g.share_customers,
                g.share_revenue,
            )
        })
        .collect();
    glance_block(
        out,
        &format!("Clusters (k = {})", r.model.k),
        &svg::donut(
            "Clusters by share of customers",
            &slices,
            (
                &r.clusters.len().to_string(),
                if r.clusters.len() == 1 {
                    "cluster"
                } else {
                    "clusters"
                },
            ),
        ),
        &rows,
    );
    // RFM segments, the largest few and the rest as "Other".
    let mut segs: Vec<&GroupSummary> = r.rfm_segments.iter().collect();
    segs.sort_by_key(|g| std::cmp::Reverse(g.customers));
    let (top, rest) = segs.split_at(segs.len().min(DONUT_SEGMENTS));
    let mut rows: Vec<(String, &str, u64, f64, f64)> = top
        .iter()
        .map(|g| {
            (
                g.name.clone(),
                colors.segment(&g.name),
                g.customers,
                g.share_customers,
                g.share_revenue,
            )
        })
        .collect();
    if !rest.is_empty() {
        rows.push((
            format!("Other ({} segments)", rest.len()),
            "#c8ccd1",
            rest.iter().map(|g| g.customers).sum(),
            rest.iter().map(|g| finite_or_zero(g.share_customers)).sum(),
            rest.iter().map(|g| finite_or_zero(g.share_revenue)).sum(),
        ));
    }
    let slices: Vec<Slice> = rows
        .iter()
        .map(|(name, color, customers, _, rev)| Slice {
            label: name.clone(),
            value: *customers as f64,
            inner: Some(*rev),
            color: (*color).to_string(),
        })
        .collect();
    glance_block(
        out,
        "RFM score segments",
        &svg::donut(
            "RFM segments by share of customers",
            &slices,
            (&r.rfm_segments.len().to_string(), "segments"),
        ),
        &rows,
    );
    out.push_str("</div></section>\n");
}

fn glance_block(
    out: &mut String,
    title: &str,
    chart: &str,
    rows: &[(String, &str, u64, f64, f64)],
) {
    let _ = write!(
        out,
        "<div><h3>{}</h3><div class=\"glance\"><div class=\"chart\">{chart}</div><div class=\"scroll\"><table>\
         <thead><tr><th></th><th class=\"n\">Customers</th><th class=\"n\">Share</th><th class=\"n\">Revenue share</th></tr></thead><tbody>",
        esc(title)
    );
    if rows.is_empty() {
        out.push_str("<tr><td colspan=\"4\">none</td></tr>");
    }
    for (name, color, customers, share, rev) in rows {
        let _ = write!(
            out,
            "<tr><td class=\"name\">{}{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            swatch(color),
            esc(name),
            group_thousands(*customers),
            pct(*share),
            pct(*rev)
        );
    }
    out.push_str("</tbody></table></div></div></div>");
}

fn choosing_k(out: &mut String, r: &Report) {
    out.push_str("<section id=\"choosing-k\"><h2>Choosing k</h2>\n");
    let Some(sel) = &r.k_selection else {
        let _ = writeln!(
            out,
            "<p>k was fixed with <code>--k</code> = {}; no sweep was run. Silhouette of that \
             model: {} (Spark, squared Euclidean, all customers), {} (scikit-learn, Euclidean, \
             sample).</p></section>",
            r.model.k,
            dec(r.model.silhouette, 3),
            dec(r.model.silhouette_sample, 3)
        );
        return;
    };
    let mut fits: Vec<_> = sel.fits.iter().collect();
    fits.sort_by_key(|f| f.k);
    let chosen = Marker {
        x: sel.chosen_k as f64,
        label: format!("chosen k = {}", sel.chosen_k),
        color: "#c0392b".into(),
        strong: true,
    };
    let mut elbow_markers = vec![chosen.clone()];
    if sel.elbow_k != sel.chosen_k {
        elbow_markers.push(Marker {
            x: sel.elbow_k as f64,
            label: format!("elbow k = {}", sel.elbow_k),
            color: "#57606a".into(),
            strong: false,
        });
    }
    let mut sil_markers = vec![chosen];
    if sel.best_silhouette_k != sel.chosen_k {
        sil_markers.push(Marker {
            x: sel.best_silhouette_k as f64,
            label: format!("best silhouette k = {}", sel.best_silhouette_k),
            color: "#57606a".into(),
            strong: false,
        });
    }
    let elbow = svg::line_chart(&LineChart {
        title: "Elbow: WCSS by k",
        x_label: "k (clusters)",
        y_label: "WCSS (scaled units)",
        series: vec![Series {
            name: "within-cluster sum of squares".into(),
            color: "#2f6fb3".into(),
            dashed: false,
            points: fits.iter().map(|f| (f.k as f64, f.wcss)).collect(),
        }],
        markers: elbow_markers,
        y_from_zero: true,
        y_fmt: &svg::compact,
    });
    let sil_ticks_fmt = |v: f64| dec(v, 2);
    let silhouette = svg::line_chart(&LineChart {
        title: "Silhouette by k",
        x_label: "k (clusters)",
        y_label: "mean silhouette",
        series: vec![
            Series {
                name: "Spark: squared Euclidean, all".into(),
                color: "#2f6fb3".into(),
                dashed: false,
                points: fits.iter().map(|f| (f.k as f64, f.silhouette)).collect(),
            },
            Series {
                name: "scikit-learn: Euclidean, sample".into(),
                color: "#e08a1e".into(),
                dashed: true,
                points: fits
                    .iter()
                    .map(|f| (f.k as f64, f.silhouette_sample))
                    .collect(),
            },
        ],
        markers: sil_markers,
        y_from_zero: false,
        y_fmt: &sil_ticks_fmt,
    });
    let _ = write!(
        out,
        "<div class=\"two\"><div class=\"chart\">{elbow}</div><div class=\"chart\">{silhouette}</div></div>\
         <div class=\"reason\"><strong>Why k = {}:</strong> {}</div>",
        sel.chosen_k,
        esc(&sel.reason)
    );
    out.push_str(
        "<div class=\"scroll\"><table class=\"tight\"><thead><tr><th class=\"n\">k</th><th class=\"n\">WCSS</th>\
         <th class=\"n\">Silhouette (Spark)</th><th class=\"n\">Silhouette (sample)</th>\
         <th>Algorithm</th><th class=\"n\">Iterations</th><th>Converged</th><th></th></tr></thead><tbody>",
    );
    for f in &fits {
        let mut notes = Vec::new();
        if f.k == sel.chosen_k {
            notes.push("chosen");
        }
        if f.k == sel.elbow_k {
            notes.push("elbow");
        }
        if f.k == sel.best_silhouette_k {
            notes.push("best silhouette");
        }
        let _ = write!(
            out,
            "<tr{}><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            if f.k == sel.chosen_k {
                " class=\"chosen\""
            } else {
                ""
            },
            f.k,
            dec(f.wcss, 1),
            dec(f.silhouette, 3),
            dec(f.silhouette_sample, 3),
            esc(&f.algorithm),
            group_thousands(u64::from(f.iterations)),
            if f.converged { "yes" } else { "no" },
            notes.join(", ")
        );
    }
    out.push_str("</tbody></table></div></section>\n");
}

fn clusters(out: &mut String, r: &Report, colors: &Colors) {
    out.push_str("<section id=\"clusters\"><h2>Clusters</h2>\n");
    let _ = write!(
        out,
        "<p class=\"note\">Means in original units. The centroid is in scaled units, \
         z = (x − mean) / std of the model inputs ({}); {} algorithm, {} iterations, {}.</p>",
        r.scaler
            .features
            .iter()
            .map(|f| esc(f))
            .collect::<Vec<_>>()
            .join(", "),
        esc(&r.model.algorithm),
        group_thousands(u64::from(r.model.iterations)),
        if r.model.converged {
            "converged"
        } else {
            "not converged"
        }
    );
    out.push_str(
        "<div class=\"scroll\"><table class=\"tight\"><thead><tr><th>Cluster</th><th class=\"n\">Customers</th>\
         <th class=\"n\">Share</th><th class=\"n\">Revenue share</th><th class=\"n\">Mean recency (days)</th>\
         <th class=\"n\">Mean frequency (purchases)</th><th class=\"n\">Mean monetary ($)</th>\
         <th class=\"n\">Price band ($) p25 / median / p75</th>\
         <th class=\"n\">Centroid z recency / frequency / monetary</th></tr></thead><tbody>",
    );
    if r.clusters.is_empty() {
        out.push_str("<tr><td colspan=\"9\">no clusters</td></tr>");
    }
    for (i, g) in r.clusters.iter().enumerate() {
        let z = g.centroid_z.or_else(|| {
            let c = g.cluster? as usize;
            r.model
                .centroids
                .get(c * 3..c * 3 + 3)
                .map(|s| [s[0], s[1], s[2]])
        });
        let zs = z.map_or_else(
            || "n/a".to_string(),
            |z| z.map(|v| signed(v, 2)).join(" / "),
        );
        let _ = write!(
            out,
            "<tr><td class=\"name\">{}{}{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td></tr>",
            swatch(colors.cluster(i)),
            esc(&g.name),
            g.cluster.map_or(String::new(), |c| format!(
                " <span class=\"badge\">#{c}</span>"
            )),
            group_thousands(g.customers),
            pct(g.share_customers),
            pct(g.share_revenue),
            dec(g.mean_recency, 1),
            dec(g.mean_frequency, 2),
            money(g.mean_monetary),
            price_band(&g.price_band),
            zs
        );
    }
    out.push_str("</tbody></table></div>");
    // The scaler, to read the z-values.
    let s = &r.scaler;
    if !s.features.is_empty() {
        out.push_str(
            "<h3>Scaler</h3><div class=\"scroll\"><table style=\"max-width:560px\"><thead><tr><th>Model input</th>\
             <th class=\"n\">Mean</th><th class=\"n\">Std</th></tr></thead><tbody>",
        );
        for (i, f) in s.features.iter().enumerate() {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(f),
                s.mean.get(i).map_or("n/a".into(), |v| dec(*v, 3)),
                s.std.get(i).map_or("n/a".into(), |v| dec(*v, 3))
            );
        }
        out.push_str("</tbody></table></div>");
    }
    out.push_str("</section>\n");
}

fn distributions(out: &mut String, r: &Report) {
    out.push_str("<section id=\"distributions\"><h2>R/F/M distributions</h2>\n");
    out.push_str(
        "<p class=\"note\">Customers per bin. Monetary bins are log-spaced, so its bars are \
         of equal width on a log scale.</p><div class=\"three\">",
    );
    let d = &r.distributions;
    let days = |v: f64| dec(v, if v.fract() == 0.0 { 0 } else { 1 });
    let purchases = |v: f64| svg::compact(v);
    let charts = [
        svg::histogram(
            "Recency",
            "days since the last purchase",
            &bins(&d.recency),
            "#2f6fb3",
            &days,
        ),
        svg::histogram(
            "Frequency",
            "purchases in the window",
            &bins(&d.frequency),
            "#2f8f46",
            &purchases,
        ),
        svg::histogram(
            "Monetary",
            "spend in the window (USD)",
            &bins(&d.monetary),
            "#e08a1e",
            &money_tick,
        ),
    ];
    for c in charts {
        let _ = write!(out, "<div class=\"chart\">{c}</div>");
    }
    out.push_str("</div></section>\n");
}

fn rf_grid(out: &mut String, r: &Report, colors: &Colors) {
    out.push_str("<section id=\"rf-grid\"><h2>R × F segment grid</h2>\n");
    out.push_str(
        "<p class=\"note\">Customers by recency score (rows) and frequency score (columns), \
         darker = more customers; each cell names its most common RFM segment.</p>",
    );
    let mut cells: [[HeatCell; 5]; 5] = Default::default();
    for c in &r.rf_grid {
        let (ri, fi) = (usize::from(c.r_score), usize::from(c.f_score));
        if (1..=5).contains(&ri) && (1..=5).contains(&fi) {
            let cell = &mut cells[ri - 1][fi - 1];
            cell.customers += c.customers;
            if !c.segment.is_empty() {
                cell.segment = c.segment.clone();
                cell.segment_color = colors.segment(&c.segment).to_string();
            }
        }
    }
    let _ = writeln!(
        out,
        "<div class=\"chart grid-chart\">{}</div></section>",
        svg::rf_grid("Customers by R score and F score", &cells)
    );
}

fn recommendations(out: &mut String, r: &Report, colors: &Colors) {
    out.push_str("<section id=\"recommendations\"><h2>Recommendations</h2>\n");
    // Categories and stores exist only where the data has them (a shop's export may map
    // neither).
    let has_lifts = r
        .clusters
        .iter()
        .chain(&r.rfm_segments)
        .any(|g| !g.top_categories.is_empty() || !g.top_stores.is_empty());
    if has_lifts {
        out.push_str(
            "<p class=\"note\">Lift: how much more often the group buys a category or store \
             than all customers do (×1 = no difference).</p>",
        );
    }
    out.push_str("<h3>By cluster</h3><div class=\"recs\">");
    if r.clusters.is_empty() {
        out.push_str("<p>No clusters.</p>");
    }
    for (i, g) in r.clusters.iter().enumerate() {
        rec_card(out, g, colors.cluster(i), "cluster");
    }
    out.push_str("</div><h3>By RFM segment</h3><div class=\"recs\">");
    if r.rfm_segments.is_empty() {
        out.push_str("<p>No RFM segments.</p>");
    }
    for g in &r.rfm_segments {
        rec_card(out, g, colors.segment(&g.name), "RFM segment");
    }
    out.push_str("</div></section>\n");
}

fn rec_card(out: &mut String, g: &GroupSummary, color: &str, kind: &str) {
    let _ = write!(
        out,
        "<div class=\"rec\" style=\"--c: {}\"><div class=\"kind\">{}</div><h4>{}</h4>\
         <div class=\"action\">{}</div><ul>",
        esc(color),
        esc(kind),
        esc(&g.name),
        if g.action.trim().is_empty() {
            "No action given.".to_string()
        } else {
            esc(&g.action)
        }
    );
    let _ = write!(
        out,
        "<li><b>Size:</b> {} customers ({} of all) · {} of revenue</li>",
        group_thousands(g.customers),
        pct(g.share_customers),
        pct(g.share_revenue)
    );
    let _ = write!(
        out,
        "<li><b>Means:</b> recency {} days · frequency {} · monetary {}</li>",
        dec(g.mean_recency, 1),
        dec(g.mean_frequency, 2),
        money(g.mean_monetary)
    );
    let _ = write!(
        out,
        "<li><b>Typical price:</b> {} (p25 / median / p75)</li>",
        price_band(&g.price_band)
    );
    for (what, lifts) in [
        ("Top categories", &g.top_categories),
        ("Top stores", &g.top_stores),
    ] {
        if lifts.is_empty() {
            continue;
        }
        let _ = write!(out, "<li><b>{what}:</b> {}</li>", lift_list(lifts));
    }
    out.push_str("</ul></div>");
}

fn lift_list(lifts: &[Lift]) -> String {
    lifts
        .iter()
        .map(|l| {
            format!(
                "{} ×{} ({} of purchases)",
                esc(&l.name),
                dec(l.lift, 1),
                pct_short(l.share)
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn data_quality(out: &mut String, r: &Report) {
    out.push_str("<section id=\"data-quality\"><h2>Data quality</h2>\n");
    out.push_str(
        "<p class=\"note\">Every cleaning rule, in the order applied; steps that touched no \
         rows are listed too.</p>",
    );
    out.push_str(
        "<div class=\"scroll\"><table><thead><tr><th>Table</th><th>Step</th><th>Action</th>\
         <th class=\"n\">Rows</th><th class=\"n\">Of input</th></tr></thead><tbody>",
    );
    if r.data_quality.steps.is_empty() {
        out.push_str("<tr><td colspan=\"5\">no steps recorded</td></tr>");
    }
    for s in &r.data_quality.steps {
        let input = r
            .data_quality
            .steps
            .iter()
            .find(|i| i.table == s.table && i.action == Action::Input)
            .map(|i| i.rows);
        let of_input = match input {
            Some(n) if n > 0 && s.action != Action::Input => pct(s.rows as f64 / n as f64),
            _ => String::new(),
        };
        let action = s.action.as_str();
        let _ = write!(
            out,
            "<tr{}><td>{}</td><td>{}</td><td><span class=\"badge {action}\">{action}</span></td>\
             <td class=\"n\">{}</td><td class=\"n\">{of_input}</td></tr>",
            if s.action == Action::Kept {
                " class=\"total\""
            } else {
                ""
            },
            esc(&s.table),
            esc(&s.step),
            group_thousands(s.rows)
        );
    }
    out.push_str("</tbody></table></div>");
    let w = &r.window;
    let _ = writeln!(
        out,
        "<p class=\"note\">Purchases: {} cleaned, {} in the window, {} with a known price, \
         {} counted by RFM.</p></section>",
        group_thousands(w.purchases),
        group_thousands(w.in_window),
        group_thousands(w.priced_in_window),
        group_thousands(w.counted)
    );
}

fn run(out: &mut String, r: &Report) {
    out.push_str("<section id=\"run\"><h2>Run</h2>\n");
    out.push_str(
        "<div class=\"scroll\"><table><thead><tr><th>Stage</th><th class=\"n\">Seconds</th>\
         <th class=\"n\">Rows in</th><th class=\"n\">Rows out</th><th class=\"n\">Peak RSS (MiB)</th>\
         <th class=\"n\">Queries</th></tr></thead><tbody>",
    );
    if r.timings.is_empty() {
        out.push_str("<tr><td colspan=\"6\">no timings recorded</td></tr>");
    }
    for t in &r.timings {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&t.stage),
            seconds(t.seconds),
            group_thousands(t.rows_in),
            group_thousands(t.rows_out),
            dec(t.peak_rss_mib, 0),
            group_thousands(t.queries)
        );
    }
    if !r.timings.is_empty() {
        let total: f64 = r.timings.iter().map(|t| finite_or_zero(t.seconds)).sum();
        let peak = r
            .timings
            .iter()
            .map(|t| finite_or_zero(t.peak_rss_mib))
            .fold(0.0, f64::max);
        let _ = write!(
            out,
            "<tr class=\"total\"><td>total</td><td class=\"n\">{}</td><td></td><td></td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            seconds(total),
            dec(peak, 0),
            group_thousands(r.timings.iter().map(|t| t.queries).sum())
        );
    }
    let _ = writeln!(
        out,
        "</tbody></table></div><h3>Configuration</h3><pre>{}</pre></section>",
        esc(r.config_toml.trim_end())
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::DataQuality;
    use crate::report::{Bin, Distributions, GridCell, StageTiming};
    use crate::stages::kmeans::{KMeansFit, KSelection};
    use crate::stages::rfm::{RfmWindow, Scaler};

    fn group(name: &str, cluster: Option<u32>) -> GroupSummary {
        GroupSummary {
            kind: if cluster.is_some() {
                "cluster"
            } else {
                "rfm_segment"
            }
            .into(),
            name: name.into(),
            cluster,
            customers: 100,
            share_customers: 0.5,
            share_revenue: 0.5,
            mean_recency: 30.0,
            mean_frequency: 1.5,
            mean_monetary: 80.0,
            centroid_z: cluster.map(|_| [0.1, -0.2, 0.3]),
            price_band: [5.0, 12.0, 30.0],
            top_categories: vec![Lift {
                name: "Books".into(),
                share: 0.12,
                lift: 1.8,
                purchases: 40,
            }],
            top_stores: vec![],
            action: "Say hello.".into(),
        }
    }

    fn small_report() -> Report {
        let fit = |k: usize| KMeansFit {
            k,
            centroids: vec![0.0; k * 3],
            sizes: vec![100; k],
            wcss: 1000.0 / k as f64,
            silhouette: 0.4,
            silhouette_sample: 0.5,
            algorithm: "lloyd".into(),
            iterations: 7,
            converged: true,
        };
        Report {
            rfmseg_version: "0.1.0".into(),
            lake: "/data/lake".into(),
            config_toml: "[kmeans]\nk_min = 2\n".into(),
            data_quality: DataQuality::default(),
            window: RfmWindow {
                newest_day: "2018-10-01".into(),
                as_of: "2018-10-01".into(),
                first_day: "2016-10-02".into(),
                as_of_day: 17805,
                window_days: 730,
                purchases: 1000,
                in_window: 900,
                priced_in_window: 800,
                counted: 700,
            },
            scaler: Scaler {
                features: vec![
                    "recency".into(),
                    "ln1p_frequency".into(),
                    "ln1p_monetary".into(),
                ],
                mean: vec![300.0, 0.8, 4.0],
                std: vec![200.0, 0.3, 1.1],
            },
            customers: 200,
            revenue: 16000.0,
            k_selection: Some(KSelection {
                fits: vec![fit(2), fit(3)],
                elbow_k: 2,
                best_silhouette_k: 2,
                chosen_k: 2,
                reason: "because".into(),
            }),
            model: fit(2),
            clusters: vec![group("Churned", Some(0)), group("New Customer", Some(1))],
            rfm_segments: vec![group("Champions", None), group("Lost", None)],
            rf_grid: vec![GridCell {
                r_score: 5,
                f_score: 5,
                customers: 10,
                segment: "Champions".into(),
            }],
            distributions: Distributions {
                recency: vec![Bin {
                    lo: 0.0,
                    hi: 30.0,
                    count: 5,
                }],
                frequency: vec![Bin {
                    lo: 1.0,
                    hi: 2.0,
                    count: 5,
                }],
                monetary: vec![Bin {
                    lo: 1.0,
                    hi: 10.0,
                    count: 5,
                }],
            },
            clv: Default::default(),
            migration: None,
            cohorts: None,
            timings: vec![StageTiming {
                stage: "clean".into(),
                seconds: 1.25,
                rows_in: 1000,
                rows_out: 900,
                peak_rss_mib: 512.0,
                queries: 3,
                query_seconds: 1.0,
                fit_queries: 0,
            }],
        }
    }

    #[test]
    fn numbers_are_formatted_for_people() {
        assert_eq!(dec(1_234_567.891, 2), "1,234,567.89");
        assert_eq!(dec(-0.0004, 2), "0.00");
        assert_eq!(dec(-1234.5, 1), "-1,234.5");
        assert_eq!(dec(f64::NAN, 2), "n/a");
        assert_eq!(pct(0.1534), "15.3%");
        assert_eq!(pct(0.0001), "<0.1%");
        assert_eq!(pct(f64::INFINITY), "n/a");
        assert_eq!(money(12.5), "$12.50");
        assert_eq!(money(123_456_789.4), "$123,456,789");
        assert_eq!(money_compact(1234.0), "$1.2k");
        assert_eq!(money_compact(12.0), "$12");
        assert_eq!(signed(0.42, 2), "+0.42");
        assert_eq!(signed(-1.1, 2), "-1.10");
        assert_eq!(pct_short(0.12), "12%");
        assert_eq!(pct_short(0.09), "9%");
        assert_eq!(pct_short(0.031), "3.1%");
        assert_eq!(money_tick(3.981), "$4");
        assert_eq!(money_tick(251.2), "$250");
        assert_eq!(money_tick(0.2512), "$0.25");
        assert_eq!(money_tick(2512.0), "$2.5k");
        assert_eq!(price_band(&[4.5, 27.54, 1234.0]), "$4.50 / $28 / $1,234");
        assert_eq!(seconds(9.7), "9.7");
        assert_eq!(seconds(0.042), "0.042");
    }

    #[test]
    fn store_names_are_escaped() {
        let mut r = small_report();
        let evil = r#"<script>alert(1)</script> & "x""#;
        r.clusters[0].top_stores.push(Lift {
            name: evil.into(),
            share: 0.1,
            lift: 2.0,
            purchases: 3,
        });
        r.rfm_segments[0].name = evil.into();
        r.config_toml = evil.into();
        r.k_selection.as_mut().unwrap().reason = evil.into();
        let html = render(&r);
        assert!(!html.contains("<script"), "unescaped script tag");
        assert!(!html.contains(evil));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"));
    }

    #[test]
    fn nan_metrics_render_as_na_without_nan_or_inf() {
        let mut r = small_report();
        r.revenue = f64::NAN;
        r.model.silhouette = f64::NAN;
        r.model.silhouette_sample = f64::INFINITY;
        let sel = r.k_selection.as_mut().unwrap();
        for f in &mut sel.fits {
            f.wcss = f64::NAN;
            f.silhouette = f64::NEG_INFINITY;
            f.silhouette_sample = f64::NAN;
        }
        for g in r.clusters.iter_mut().chain(r.rfm_segments.iter_mut()) {
            g.share_customers = f64::NAN;
            g.share_revenue = f64::INFINITY;
            g.mean_recency = f64::NAN;
            g.mean_monetary = f64::NEG_INFINITY;
            g.centroid_z = Some([f64::NAN; 3]);
            g.price_band = [f64::NAN; 3];
            g.top_categories[0].lift = f64::INFINITY;
        }
        r.distributions.monetary = vec![Bin {
            lo: f64::NAN,
            hi: f64::INFINITY,
            count: 0,
        }];
        r.timings[0].seconds = f64::NAN;
        r.scaler.std = vec![f64::NAN; 3];
        let html = render(&r);
        assert!(!html.contains("NaN"));
        assert!(
            !html.contains("inf"),
            "{}",
            &html[html.find("inf").unwrap().saturating_sub(80)..][..160]
        );
        assert!(html.contains("n/a"));
    }

    #[test]
    fn fixed_k_and_empty_lists_still_render_every_section() {
        let mut r = small_report();
        r.k_selection = None;
        r.clusters.clear();
        r.rfm_segments.clear();
        r.rf_grid.clear();
        r.distributions = Distributions {
            recency: vec![],
            frequency: vec![],
            monetary: vec![],
        };
        r.timings.clear();
        r.customers = 0;
        let html = render(&r);
        assert!(html.contains("k was fixed with <code>--k</code>"));
        for id in [
            "segments",
            "choosing-k",
            "clusters",
            "distributions",
            "rf-grid",
            "recommendations",
            "data-quality",
            "run",
        ] {
            assert!(html.contains(&format!("<section id=\"{id}\">")), "{id}");
        }
        assert!(!html.contains("NaN"));
    }

    #[test]
    fn one_label_keeps_one_colour() {
        let mut r = small_report();
        r.clusters = vec![
            group("Loyal Customer", Some(0)),
            group("Archetype X", Some(1)),
            group("Archetype X", Some(2)),
        ];
        let c = Colors::new(&r);
        assert_eq!(c.cluster(0), "#2f8f46");
        assert_eq!(c.cluster(1), c.cluster(2));
        assert_eq!(c.cluster(9), "#8c8c8c");
    }
}
