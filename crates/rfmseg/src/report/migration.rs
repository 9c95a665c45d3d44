//! The report's migration section (`run --compare-as-of`): the largest movements in
//! words, the segment transition matrix as a heat map, the main flows as a flow chart
//! (Sankey-style), and the cluster transition matrix. Nothing without a comparison day.

use std::fmt::Write;

use super::Report;
use super::colors::Colors;
use super::format::{money, pct};
use super::svg::{self, esc, num, open, text};
use crate::quality::group_thousands;
use crate::stages::migration::{GONE, MigrationMatrix, NEW, describe};

/// Colour of the "new" and "gone" groups.
const OUTSIDE: &str = "#bdbdbd";

pub(super) fn section(out: &mut String, r: &Report, colors: &Colors) {
    let Some(m) = &r.migration else {
        return;
    };
    let _ = write!(
        out,
        "<section id=\"migration\"><h2>Migration since {}</h2>\n<p class=\"note\">Each \
         customer's RFM segment and cluster in the {} days ending on {} and in those ending on \
         {}, both scored with this run's model. \"new\": no counted purchase in the earlier \
         window; \"gone\": none in this one. A move down the segment order ({}) is a \
         downgrade.</p>",
        esc(&m.compare_as_of),
        m.window_days,
        esc(&m.compare_as_of),
        esc(&m.as_of),
        esc(&m.segment_order.join(" > "))
    );
    let _ = write!(
        out,
        "<p><b>{}</b> customers then, <b>{}</b> now; <b>{}</b> moved down (or are gone), \
         with {} of revenue in the earlier window: <code>downgraded.parquet</code>.</p>",
        group_thousands(m.customers_before),
        group_thousands(r.customers),
        group_thousands(m.downgraded),
        money(m.downgraded_revenue_before)
    );
    out.push_str("<h3>The largest movements</h3><ul>");
    for c in m.segments.largest_moves(5) {
        let _ = write!(out, "<li>{}</li>", esc(&describe(c)));
    }
    out.push_str("</ul>\n");
    let segment_color = |g: &str| match g {
        NEW | GONE => OUTSIDE,
        g => colors.segment(g),
    };
    out.push_str("<div style=\"max-width: 760px\">");
    out.push_str(&flow_chart(
        "Segment flows: earlier window (left) to this one (right)",
        &m.segments,
        &segment_color,
    ));
    out.push_str("</div>\n");
    out.push_str(&transition_matrix(
        "Segment transitions: share of each earlier segment",
        &m.segments,
    ));
    out.push_str(&transition_matrix(
        "Cluster transitions: share of each earlier cluster",
        &m.clusters,
    ));
    let _ = writeln!(
        out,
        "<p class=\"note\">Every cell, with both windows' revenue: <code>migration.csv</code>. \
         {} of the earlier customers stayed in their segment.</p></section>",
        pct(stayed(&m.segments) as f64 / m.customers_before.max(1) as f64)
    );
}

/// Customers in the same group at both days.
fn stayed(m: &MigrationMatrix) -> u64 {
    m.cells
        .iter()
        .filter(|c| c.from == c.to)
        .map(|c| c.customers)
        .sum()
}

/// The transition matrix as a heat map: a row per earlier group, a column per group now,
/// each cell shaded by its share of the row, with the count; never wider than its natural
/// size (a 5 x 5 matrix would fill the page with 80 px letters).
fn transition_matrix(title: &str, m: &MigrationMatrix) -> String {
    let (left, top, cw, ch) = (150.0, 120.0, 58.0, 26.0);
    let w = left + cw * m.to.len() as f64 + 10.0;
    let h = top + ch * m.from.len() as f64 + 10.0;
    let mut out = format!("<div style=\"max-width: {}px\">", num(w));
    open(&mut out, w, h, title);
    text(&mut out, 4.0, 16.0, "start", " font-weight=\"600\"", title);
    for (j, to) in m.to.iter().enumerate() {
        let x = left + cw * (j as f64 + 0.5);
        let _ = write!(
            out,
            r#"<text transform="translate({},{}) rotate(-40)" text-anchor="start" font-size="11">{}</text>"#,
            num(x - 4.0),
            num(top - 6.0),
            esc(to)
        );
    }
    for (i, from) in m.from.iter().enumerate() {
        let y = top + ch * i as f64;
        text(
            &mut out,
            left - 6.0,
            y + ch * 0.65,
            "end",
            " font-size=\"11\"",
            from,
        );
        for (j, to) in m.to.iter().enumerate() {
            let x = left + cw * j as f64;
            let cell = m.cells.iter().find(|c| &c.from == from && &c.to == to);
            let share = cell.map_or(0.0, |c| c.share_of_origin);
            let n = cell.map_or(0, |c| c.customers);
            // White to dark blue by share; text white on the dark half.
            let shade = |lo: f64, hi: f64| (lo + (hi - lo) * share).round() as u8;
            let fill = format!(
                "rgb({},{},{})",
                shade(247.0, 8.0),
                shade(251.0, 69.0),
                shade(255.0, 148.0)
            );
            let _ = write!(
                out,
                r##"<rect x="{}" y="{}" width="{}" height="{}" fill="{fill}" stroke="#ffffff"><title>{} -> {}: {} customers ({:.1}% of {})</title></rect>"##,
                num(x),
                num(y),
                num(cw),
                num(ch),
                esc(from),
                esc(to),
                group_thousands(n),
                100.0 * share,
                esc(from)
            );
            if n > 0 {
                let ink = if share > 0.5 { "#ffffff" } else { "#24292f" };
                let _ = write!(
                    out,
                    r#"<text x="{}" y="{}" text-anchor="middle" font-size="10" fill="{ink}">{}</text>"#,
                    num(x + cw / 2.0),
                    num(y + ch * 0.65),
                    esc(&svg::compact(n as f64))
                );
            }
        }
    }
    out.push_str("</svg></div>\n");
    out
}

/// The flows between the groups as bands from a left column (earlier) to a right column
/// (now), each band as wide as its customers; bands under 0.5% of the customers are left
/// out (their totals still size the bars).
fn flow_chart(title: &str, m: &MigrationMatrix, color: &dyn Fn(&str) -> &'static str) -> String {
    let (w, h, top, bar, gap) = (640.0, 460.0, 36.0, 14.0, 6.0);
    let (lx, rx) = (150.0, w - 150.0 - bar);
    let total: u64 = m.cells.iter().map(|c| c.customers).sum();
    let totals = |groups: &[String],
                  side: fn(&crate::stages::migration::MigrationCell) -> &String| {
        groups
            .iter()
            .map(|g| {
                m.cells
                    .iter()
                    .filter(|c| side(c) == g)
                    .map(|c| c.customers)
                    .sum::<u64>()
            })
            .collect::<Vec<u64>>()
    };
    let left = totals(&m.from, |c| &c.from);
    let right = totals(&m.to, |c| &c.to);
    let usable = |n: usize| h - top - 10.0 - gap * n.saturating_sub(1) as f64;
    let scale = usable(m.from.len().max(m.to.len())) / total.max(1) as f64;
    let mut out = String::new();
    open(&mut out, w, h, title);
    text(&mut out, 4.0, 16.0, "start", " font-weight=\"600\"", title);
    // Bar tops, and the running offset of the bands leaving / entering each bar.
    let tops = |sizes: &[u64]| {
        let mut y = top;
        sizes
            .iter()
            .map(|&s| {
                let t = y;
                y += s as f64 * scale + gap;
                t
            })
            .collect::<Vec<f64>>()
    };
    let (ltop, rtop) = (tops(&left), tops(&right));
    let mut lnext = ltop.clone();
    let mut rnext = rtop.clone();
    for c in &m.cells {
        let (Some(i), Some(j)) = (
            m.from.iter().position(|g| g == &c.from),
            m.to.iter().position(|g| g == &c.to),
        ) else {
            continue;
        };
        let band = c.customers as f64 * scale;
        let (y0, y1) = (lnext[i], rnext[j]);
        lnext[i] += band;
        rnext[j] += band;
        if (c.customers as f64) < 0.005 * total as f64 {
            continue;
        }
        let (x0, x1) = (lx + bar, rx);
        let mid = (x0 + x1) / 2.0;
        let _ = write!(
            out,
            r#"<path d="M{} {} C{} {} {} {} {} {} L{} {} C{} {} {} {} {} {} Z" fill="{}" fill-opacity="0.35"><title>{} -> {}: {} customers</title></path>"#,
            num(x0),
            num(y0),
            num(mid),
            num(y0),
            num(mid),
            num(y1),
            num(x1),
            num(y1),
            num(x1),
            num(y1 + band),
            num(mid),
            num(y1 + band),
            num(mid),
            num(y0 + band),
            num(x0),
            num(y0 + band),
            color(&c.from),
            esc(&c.from),
            esc(&c.to),
            group_thousands(c.customers)
        );
    }
    for (groups, sizes, tops, x, anchor, lx_text) in [
        (&m.from, &left, &ltop, lx, "end", lx - 6.0),
        (&m.to, &right, &rtop, rx, "start", rx + bar + 6.0),
    ] {
        for ((g, &s), &y) in groups.iter().zip(sizes).zip(tops) {
            let hgt = (s as f64 * scale).max(1.0);
            let _ = write!(
                out,
                r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} customers</title></rect>"#,
                num(x),
                num(y),
                num(bar),
                num(hgt),
                color(g),
                esc(g),
                group_thousands(s)
            );
            text(
                &mut out,
                lx_text,
                y + hgt / 2.0 + 4.0,
                anchor,
                " font-size=\"11\"",
                &format!("{g} ({})", svg::compact(s as f64)),
            );
        }
    }
    out.push_str("</svg>");
    out
}
