//! Hand-written inline SVG charts for report.html: a donut, a line chart, a histogram and
//! the R x F heat grid.
//!
//! Every chart has a fixed `viewBox` and scales with `width: 100%`, so it never has zero
//! size. Every number written into an attribute goes through [`num`], which turns NaN and
//! infinities into 0, and every text through [`esc`]: a report with odd data still renders
//! a valid, finite picture (with "n/a" or "no data" where a number is missing).

use std::fmt::Write;

/// Font stack of every chart (the page uses the same).
pub const FONT: &str =
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";

/// Categorical colours (Tableau 10), for labels without a colour of their own.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

const AXIS: &str = "#8a8f98";
const GRID: &str = "#e6e8eb";
const INK: &str = "#24292f";
const MUTED: &str = "#57606a";

/// Escapes text for HTML and SVG (elements and quoted attributes).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number for an SVG attribute: at most two decimals, no trailing zeros, and 0 for NaN
/// or an infinity, so an attribute is always a finite number.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "0".to_string();
    }
    let s = trim_zeros(format!("{v:.2}"));
    if s == "-0" { "0".to_string() } else { s }
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A short number for tick labels: 12, 2.5, 950, 1.2k, 12k, 3.4M, 1.1B; "n/a" if not
/// finite.
pub fn compact(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    const UNITS: [(f64, &str); 4] = [(1.0, ""), (1e3, "k"), (1e6, "M"), (1e9, "B")];
    let sign = if v < 0.0 { "-" } else { "" };
    let a = v.abs();
    let mut i = UNITS.iter().rposition(|(u, _)| a >= *u).unwrap_or(0);
    loop {
        let x = a / UNITS[i].0;
        let s = if x < 10.0 {
            trim_zeros(format!("{x:.*}", if i == 0 { 2 } else { 1 }))
        } else {
            format!("{x:.0}")
        };
        if s == "1000" && i + 1 < UNITS.len() {
            i += 1;
            continue;
        }
        return if s == "0" {
            "0".to_string()
        } else {
            format!("{sign}{s}{}", UNITS[i].1)
        };
    }
}

/// Round tick values covering [lo, hi] with about `target` steps of 1, 2 or 5 x 10^n.
/// Degenerate or non-finite ranges are widened, so there are always at least two ticks.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let (mut lo, mut hi) = match (lo.is_finite(), hi.is_finite()) {
        (true, true) => (lo.min(hi), lo.max(hi)),
        (true, false) => (lo, lo),
        (false, true) => (hi, hi),
        (false, false) => (0.0, 1.0),
    };
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        lo -= if lo == 0.0 { 0.0 } else { pad };
        hi += pad;
    }
    let raw = (hi - lo) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let step = mag
        * if norm < 1.5 {
            1.0
        } else if norm < 3.0 {
            2.0
        } else if norm < 7.0 {
            5.0
        } else {
            10.0
        };
    let first = (lo / step).floor();
    let last = (hi / step).ceil();
    let n = ((last - first) as usize).clamp(1, 50);
    (0..=n)
        .map(|i| {
            let t = (first + i as f64) * step;
            // Cut float noise (0.30000000000000004) so labels stay short.
            let decimals = (-step.log10().floor()).max(0.0) as i32 + 1;
            let p = 10f64.powi(decimals);
            (t * p).round() / p
        })
        .collect()
}

/// Decimals needed to tell ticks apart (0.05 step: 2).
pub fn tick_decimals(ticks: &[f64]) -> usize {
    match ticks {
        [a, b, ..] if (b - a).abs() > 0.0 => {
            (-(b - a).abs().log10().floor()).clamp(0.0, 6.0) as usize
        }
        _ => 0,
    }
}

pub(super) fn open(out: &mut String, w: f64, h: f64, title: &str) {
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 {} {}" width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="{t}" font-family="{FONT}" font-size="12" fill="{INK}"><title>{t}</title>"#,
        num(w),
        num(h),
        t = esc(title),
    );
}

pub(super) fn text(out: &mut String, x: f64, y: f64, anchor: &str, extra: &str, s: &str) {
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="{anchor}"{extra}>{}</text>"#,
        num(x),
        num(y),
        esc(s)
    );
}

fn line(out: &mut String, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, extra: &str) {
    let _ = write!(
        out,
        r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{stroke}"{extra}/>"#,
        num(x1),
        num(y1),
        num(x2),
        num(y2)
    );
}

/// The plot area inside a chart, with the value-to-pixel maps of both axes.
struct Plot {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Plot {
    fn x(&self, v: f64) -> f64 {
        let span = self.x1 - self.x0;
        let f = if span > 0.0 {
            (v - self.x0) / span
        } else {
            0.5
        };
        self.left + f.clamp(0.0, 1.0) * self.width
    }

    fn y(&self, v: f64) -> f64 {
        let span = self.y1 - self.y0;
        let f = if span > 0.0 {
            (v - self.y0) / span
        } else {
            0.0
        };
        self.top + self.height - f.clamp(0.0, 1.0) * self.height
    }

    fn bottom(&self) -> f64 {
        self.top + self.height
    }

    fn right(&self) -> f64 {
        self.left + self.width
    }

    /// Horizontal grid lines and labels at `ticks` on the left axis.
    fn y_axis(&self, out: &mut String, ticks: &[f64], fmt: &dyn Fn(f64) -> String) {
        for &t in ticks {
            let y = self.y(t);
            line(out, self.left, y, self.right(), y, GRID, "");
            text(
                out,
                self.left - 6.0,
                y + 4.0,
                "end",
                &format!(r#" fill="{MUTED}""#),
                &fmt(t),
            );
        }
        line(out, self.left, self.top, self.left, self.bottom(), AXIS, "");
        line(
            out,
            self.left,
            self.bottom(),
            self.right(),
            self.bottom(),
            AXIS,
            "",
        );
    }

    fn no_data(&self, out: &mut String, what: &str) {
        text(
            out,
            self.left + self.width / 2.0,
            self.top + self.height / 2.0,
            "middle",
            &format!(r#" fill="{MUTED}" font-size="14""#),
            what,
        );
    }
}

fn axis_titles(out: &mut String, h: f64, plot: &Plot, x_label: &str, y_label: &str) {
    text(
        out,
        plot.left + plot.width / 2.0,
        h - 8.0,
        "middle",
        &format!(r#" fill="{MUTED}""#),
        x_label,
    );
    let cy = plot.top + plot.height / 2.0;
    let _ = write!(
        out,
        r#"<text x="14" y="{}" text-anchor="middle" fill="{MUTED}" transform="rotate(-90 14 {})">{}</text>"#,
        num(cy),
        num(cy),
        esc(y_label)
    );
}

/// One slice of a donut.
#[derive(Debug, Clone)]
pub struct Slice {
    pub label: String,
    /// Outer ring value (customers).
    pub value: f64,
    /// Inner ring value (revenue); None draws no inner ring for this slice.
    pub inner: Option<f64>,
    pub color: String,
}

/// A donut: the outer ring shares `value`, the inner ring (when any slice has one)
/// shares `inner`; the centre shows two lines of text. Slices of 5% or more are labelled
/// with their share.
pub fn donut(title: &str, slices: &[Slice], centre: (&str, &str)) -> String {
    const S: f64 = 280.0;
    let c = S / 2.0;
    let mut out = String::new();
    open(&mut out, S, S, title);
    let finite = |v: f64| if v.is_finite() && v > 0.0 { v } else { 0.0 };
    let total: f64 = slices.iter().map(|s| finite(s.value)).sum();
    let inner_total: f64 = slices.iter().filter_map(|s| s.inner).map(finite).sum();
    let ring = |out: &mut String,
                r_out: f64,
                r_in: f64,
                values: &[(f64, &Slice)],
                total: f64,
                labels: bool| {
        if total <= 0.0 {
            let _ = write!(
                out,
                r#"<circle cx="{c}" cy="{c}" r="{}" fill="none" stroke="{GRID}" stroke-width="{}"/>"#,
                num((r_out + r_in) / 2.0),
                num(r_out - r_in)
            );
            return;
        }
        let mut a0 = -std::f64::consts::FRAC_PI_2;
        for (v, s) in values {
            let f = v / total;
            if f <= 0.0 {
                continue;
            }
            let tip = format!("{}: {:.1}%", s.label, f * 100.0);
            if f >= 0.9999 {
                let _ = write!(
                    out,
                    r#"<circle cx="{c}" cy="{c}" r="{}" fill="none" stroke="{}" stroke-width="{}"><title>{}</title></circle>"#,
                    num((r_out + r_in) / 2.0),
                    esc(&s.color),
                    num(r_out - r_in),
                    esc(&tip)
                );
            } else {
                let a1 = a0 + f * std::f64::consts::TAU;
                let large = if a1 - a0 > std::f64::consts::PI { 1 } else { 0 };
                let p = |r: f64, a: f64| (c + r * a.cos(), c + r * a.sin());
                let (ox0, oy0) = p(r_out, a0);
                let (ox1, oy1) = p(r_out, a1);
                let (ix1, iy1) = p(r_in, a1);
                let (ix0, iy0) = p(r_in, a0);
                let _ = write!(
                    out,
                    r#"<path d="M{} {} A{} {} 0 {large} 1 {} {} L{} {} A{} {} 0 {large} 0 {} {} Z" fill="{}" stroke="white" stroke-width="1.5"><title>{}</title></path>"#,
                    num(ox0),
                    num(oy0),
                    num(r_out),
                    num(r_out),
                    num(ox1),
                    num(oy1),
                    num(ix1),
                    num(iy1),
                    num(r_in),
                    num(r_in),
                    num(ix0),
                    num(iy0),
                    esc(&s.color),
                    esc(&tip)
                );
            }
            if labels && f >= 0.05 {
                let am = a0 + f * std::f64::consts::PI;
                let rm = (r_out + r_in) / 2.0;
                let (x, y) = if f >= 0.9999 {
                    (c, c - rm)
                } else {
                    (c + rm * am.cos(), c + rm * am.sin())
                };
                text(
                    out,
                    x,
                    y + 4.0,
                    "middle",
                    r##" fill="#fff" font-weight="600" font-size="12""##,
                    &format!("{:.0}%", f * 100.0),
                );
            }
            a0 += f * std::f64::consts::TAU;
        }
    };
    let outer: Vec<(f64, &Slice)> = slices.iter().map(|s| (finite(s.value), s)).collect();
    ring(&mut out, 134.0, 90.0, &outer, total, true);
    if slices.iter().any(|s| s.inner.is_some()) {
        let inner: Vec<(f64, &Slice)> = slices
            .iter()
            .map(|s| (s.inner.map_or(0.0, finite), s))
            .collect();
        ring(&mut out, 84.0, 64.0, &inner, inner_total, false);
    }
    text(
        &mut out,
        c,
        c - 2.0,
        "middle",
        r#" font-size="18" font-weight="600""#,
        centre.0,
    );
    text(
        &mut out,
        c,
        c + 16.0,
        "middle",
        &format!(r#" font-size="11" fill="{MUTED}""#),
        centre.1,
    );
    out.push_str("</svg>");
    out
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: String,
    pub dashed: bool,
    /// (x, y); points with a non-finite y break the line.
    pub points: Vec<(f64, f64)>,
}

/// A vertical line at x with a label, e.g. "chosen k = 4".
#[derive(Debug, Clone)]
pub struct Marker {
    pub x: f64,
    pub label: String,
    pub color: String,
    /// The main marker: solid, thicker, and its points on every series are ringed.
    pub strong: bool,
}

/// A line chart over integer-like x values (k), with a legend row under the title.
pub struct LineChart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub series: Vec<Series>,
    pub markers: Vec<Marker>,
    /// Start the y axis at 0 (WCSS) rather than near the smallest value (silhouette).
    pub y_from_zero: bool,
    pub y_fmt: &'a dyn Fn(f64) -> String,
}

pub fn line_chart(c: &LineChart) -> String {
    const W: f64 = 560.0;
    const H: f64 = 330.0;
    let mut out = String::new();
    open(&mut out, W, H, c.title);
    text(
        &mut out,
        12.0,
        22.0,
        "start",
        r#" font-size="15" font-weight="600""#,
        c.title,
    );
    // Legend row.
    let mut lx = 12.0;
    for s in &c.series {
        let dash = if s.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        line(
            &mut out,
            lx,
            42.0,
            lx + 22.0,
            42.0,
            &esc(&s.color),
            &format!(r#" stroke-width="2.5"{dash}"#),
        );
        let _ = write!(
            out,
            r#"<circle cx="{}" cy="42" r="3.5" fill="{}"/>"#,
            num(lx + 11.0),
            esc(&s.color)
        );
        text(
            &mut out,
            lx + 28.0,
            46.0,
            "start",
            &format!(r#" fill="{MUTED}""#),
            &s.name,
        );
        lx += 40.0 + 6.6 * s.name.chars().count() as f64;
    }
    let xs: Vec<f64> = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .filter(|x| x.is_finite())
        .collect();
    let ys: Vec<f64> = c
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|y| y.is_finite())
        .collect();
    let (mut x0, mut x1) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    if x1 <= x0 {
        (x0, x1) = (x0 - 1.0, x1 + 1.0);
    }
    let (ylo, yhi) = ys
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| {
            (a.min(y), b.max(y))
        });
    let (ylo, yhi) = if c.y_from_zero && ylo.is_finite() {
        (ylo.min(0.0), yhi.max(0.0))
    } else if ylo.is_finite() {
        let pad = ((yhi - ylo) * 0.15).max(0.02);
        (ylo - pad, yhi + pad)
    } else {
        (0.0, 1.0)
    };
    let ticks = nice_ticks(ylo, yhi, 5);
    let mut plot = Plot {
        left: 76.0,
        top: 62.0,
        width: W - 76.0 - 24.0,
        height: H - 62.0 - 52.0,
        x0,
        x1,
        y0: ticks[0],
        y1: ticks[ticks.len() - 1],
    };
    // A little room either side so end points are not on the axis.
    let pad = (x1 - x0) * 0.06;
    plot.x0 -= pad;
    plot.x1 += pad;
    plot.y_axis(&mut out, &ticks, c.y_fmt);
    // x ticks at the distinct x values, thinned to at most 12 labels.
    let mut distinct: Vec<f64> = xs.clone();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let stride = distinct.len().div_ceil(12).max(1);
    for (i, &x) in distinct.iter().enumerate() {
        let px = plot.x(x);
        line(
            &mut out,
            px,
            plot.bottom(),
            px,
            plot.bottom() + 5.0,
            AXIS,
            "",
        );
        if i % stride == 0 {
            text(
                &mut out,
                px,
                plot.bottom() + 18.0,
                "middle",
                &format!(r#" fill="{MUTED}""#),
                &compact(x),
            );
        }
    }
    axis_titles(&mut out, H, &plot, c.x_label, c.y_label);
    // Markers behind the data.
    for (i, m) in c.markers.iter().enumerate() {
        if !m.x.is_finite() {
            continue;
        }
        let px = plot.x(m.x);
        let style = if m.strong {
            r#" stroke-width="2""#.to_string()
        } else {
            r#" stroke-width="1.5" stroke-dasharray="5 4""#.to_string()
        };
        line(
            &mut out,
            px,
            plot.top,
            px,
            plot.bottom(),
            &esc(&m.color),
            &style,
        );
        // Labels right of the line, or left of it near the right edge; staggered.
        let label_w = 7.0 * m.label.chars().count() as f64;
        let (lx, anchor) = if px + 6.0 + label_w > plot.right() {
            (px - 6.0, "end")
        } else {
            (px + 6.0, "start")
        };
        let weight = if m.strong {
            r#" font-weight="700""#
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" text-anchor="{anchor}" fill="{}"{weight} class="marker">{}</text>"#,
            num(lx),
            num(plot.top + 14.0 + 16.0 * i as f64),
            esc(&m.color),
            esc(&m.label)
        );
    }
    if ys.is_empty() {
        plot.no_data(&mut out, "no data");
    }
    let strong_x: Vec<f64> = c.markers.iter().filter(|m| m.strong).map(|m| m.x).collect();
    for s in &c.series {
        let color = esc(&s.color);
        let dash = if s.dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let mut d = String::new();
        let mut pen_down = false;
        for &(x, y) in &s.points {
            if x.is_finite() && y.is_finite() {
                let _ = write!(
                    d,
                    "{}{} {} ",
                    if pen_down { "L" } else { "M" },
                    num(plot.x(x)),
                    num(plot.y(y))
                );
                pen_down = true;
            } else {
                pen_down = false;
            }
        }
        if !d.is_empty() {
            let _ = write!(
                out,
                r#"<path d="{}" fill="none" stroke="{color}" stroke-width="2.5" stroke-linejoin="round"{dash}/>"#,
                d.trim_end()
            );
        }
        for &(x, y) in &s.points {
            if !(x.is_finite() && y.is_finite()) {
                continue;
            }
            let (px, py) = (plot.x(x), plot.y(y));
            let tip = format!("{}: k = {}, {}", s.name, compact(x), (c.y_fmt)(y));
            if strong_x.contains(&x) {
                let _ = write!(
                    out,
                    r#"<circle cx="{}" cy="{}" r="7.5" fill="white" stroke="{color}" stroke-width="3" class="chosen"><title>{}</title></circle>"#,
                    num(px),
                    num(py),
                    esc(&tip)
                );
            }
            let _ = write!(
                out,
                r#"<circle cx="{}" cy="{}" r="4" fill="{color}"><title>{}</title></circle>"#,
                num(px),
                num(py),
                esc(&tip)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// A histogram bin: lo <= value < hi.
#[derive(Debug, Clone, Copy)]
pub struct HistBin {
    pub lo: f64,
    pub hi: f64,
    pub count: u64,
}

/// Bars of equal width, one per bin (so log-spaced bins read as a log axis), with the
/// bin edges as x tick labels (thinned to at most `max_labels`).
pub fn histogram(
    title: &str,
    x_label: &str,
    bins: &[HistBin],
    color: &str,
    edge_fmt: &dyn Fn(f64) -> String,
) -> String {
    const W: f64 = 400.0;
    const H: f64 = 270.0;
    const MAX_LABELS: usize = 7;
    let mut out = String::new();
    open(&mut out, W, H, title);
    text(
        &mut out,
        12.0,
        22.0,
        "start",
        r#" font-size="15" font-weight="600""#,
        title,
    );
    let max = bins.iter().map(|b| b.count).max().unwrap_or(0);
    let ticks = nice_ticks(0.0, (max as f64).max(1.0), 4);
    let plot = Plot {
        left: 56.0,
        top: 40.0,
        width: W - 56.0 - 18.0,
        height: H - 40.0 - 56.0,
        x0: 0.0,
        x1: bins.len().max(1) as f64,
        y0: 0.0,
        y1: ticks[ticks.len() - 1],
    };
    plot.y_axis(&mut out, &ticks, &|v| compact(v));
    axis_titles(&mut out, H, &plot, x_label, "customers");
    if bins.is_empty() {
        plot.no_data(&mut out, "no data");
        out.push_str("</svg>");
        return out;
    }
    let bw = plot.width / bins.len() as f64;
    let gap = if bw > 6.0 { 1.0 } else { 0.0 };
    for (i, b) in bins.iter().enumerate() {
        let x = plot.left + bw * i as f64;
        let y = plot.y(b.count as f64);
        let h = plot.bottom() - y;
        let _ = write!(
            out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{} to {}: {} customers</title></rect>"#,
            num(x + gap / 2.0),
            num(y),
            num((bw - gap).max(0.5)),
            num(h.max(0.0)),
            esc(color),
            esc(&edge_fmt(b.lo)),
            esc(&edge_fmt(b.hi)),
            esc(&crate::quality::group_thousands(b.count))
        );
    }
    let edges = bins.len() + 1;
    // Label every 1st, 2nd, 5th, 10th, ... edge, so labelled edges are evenly spaced.
    let need = edges.div_ceil(MAX_LABELS).max(1);
    let stride = [1, 2, 5]
        .iter()
        .flat_map(|m| (0..6).map(move |e| m * 10usize.pow(e)))
        .filter(|s| *s >= need)
        .min()
        .unwrap_or(need);
    for e in 0..edges {
        let x = plot.left + bw * e as f64;
        let v = if e < bins.len() {
            bins[e].lo
        } else {
            bins[e - 1].hi
        };
        let labelled = e % stride == 0;
        line(
            &mut out,
            x,
            plot.bottom(),
            x,
            plot.bottom() + if labelled { 5.0 } else { 3.0 },
            AXIS,
            "",
        );
        if labelled {
            text(
                &mut out,
                x,
                plot.bottom() + 18.0,
                "middle",
                &format!(r#" fill="{MUTED}""#),
                &edge_fmt(v),
            );
        }
    }
    if max == 0 {
        plot.no_data(&mut out, "no customers");
    }
    out.push_str("</svg>");
    out
}

/// One cell of the R x F grid as drawn.
#[derive(Debug, Clone, Default)]
pub struct HeatCell {
    pub customers: u64,
    /// The dominant segment; empty for an empty cell.
    pub segment: String,
    pub segment_color: String,
}

/// The 5 x 5 R x F grid: `cells[r - 1][f - 1]`, R score rows (5 at the top), F score
/// columns (5 at the right); each cell shaded by customers (square-root scale, so small
/// cells stay visible) and labelled with its count, share and dominant segment.
pub fn rf_grid(title: &str, cells: &[[HeatCell; 5]; 5]) -> String {
    const W: f64 = 760.0;
    const H: f64 = 560.0;
    let (left, top, cw, ch) = (92.0, 40.0, 132.0, 88.0);
    let mut out = String::new();
    open(&mut out, W, H, title);
    let total: u64 = cells.iter().flatten().map(|c| c.customers).sum();
    let max = cells
        .iter()
        .flatten()
        .map(|c| c.customers)
        .max()
        .unwrap_or(0);
    for (ri, row) in cells.iter().enumerate() {
        let r = ri + 1;
        let y = top + ch * (5 - r) as f64;
        text(
            &mut out,
            left - 12.0,
            y + ch / 2.0 + 5.0,
            "end",
            r#" font-size="14" font-weight="600""#,
            &r.to_string(),
        );
        for (fi, cell) in row.iter().enumerate() {
            let x = left + cw * fi as f64;
            let t = if max > 0 {
                (cell.customers as f64 / max as f64).sqrt()
            } else {
                0.0
            };
            let (fill, ink, sub) = if cell.customers == 0 {
                ("#f6f7f9".to_string(), "#9aa0a6", "#9aa0a6")
            } else {
                let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
                let fill = format!(
                    "#{:02x}{:02x}{:02x}",
                    mix(234.0, 22.0),
                    mix(241.0, 64.0),
                    mix(250.0, 120.0)
                );
                // Light text on dark cells; on mid cells the small text stays dark too.
                if t > 0.5 {
                    (fill, "#ffffff", "#dfe8f5")
                } else if t > 0.25 {
                    (fill, INK, INK)
                } else {
                    (fill, INK, MUTED)
                }
            };
            let share = if total > 0 {
                cell.customers as f64 / total as f64
            } else {
                0.0
            };
            let tip = format!(
                "R {r}, F {}: {} customers ({:.1}%), mostly {}",
                fi + 1,
                crate::quality::group_thousands(cell.customers),
                share * 100.0,
                if cell.segment.is_empty() {
                    "none"
                } else {
                    &cell.segment
                }
            );
            let _ = write!(
                out,
                r#"<g class="cell"><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" fill="{fill}" stroke="white" stroke-width="2"/>"#,
                esc(&tip),
                num(x),
                num(y),
                num(cw),
                num(ch)
            );
            let cx = x + cw / 2.0;
            text(
                &mut out,
                cx,
                y + 30.0,
                "middle",
                &format!(r#" font-size="17" font-weight="700" fill="{ink}""#),
                &crate::quality::group_thousands(cell.customers),
            );
            if cell.customers > 0 {
                text(
                    &mut out,
                    cx,
                    y + 48.0,
                    "middle",
                    &format!(r#" font-size="11" fill="{sub}""#),
                    &format!("{:.1}%", share * 100.0),
                );
                // Segment name with a swatch of its colour.
                let name = &cell.segment;
                let name_w = 6.3 * name.chars().count() as f64;
                let sx = cx - (name_w + 14.0) / 2.0;
                let _ = write!(
                    out,
                    r#"<rect x="{}" y="{}" width="10" height="10" rx="2" fill="{}" stroke="white" stroke-width="1"/>"#,
                    num(sx),
                    num(y + 60.0),
                    esc(&cell.segment_color)
                );
                text(
                    &mut out,
                    sx + 14.0,
                    y + 69.5,
                    "start",
                    &format!(r#" font-size="11.5" fill="{ink}""#),
                    name,
                );
            }
            out.push_str("</g>");
        }
    }
    for f in 1..=5 {
        text(
            &mut out,
            left + cw * (f as f64 - 0.5),
            top + ch * 5.0 + 22.0,
            "middle",
            r#" font-size="14" font-weight="600""#,
            &f.to_string(),
        );
    }
    text(
        &mut out,
        left + cw * 2.5,
        top + ch * 5.0 + 48.0,
        "middle",
        &format!(r#" fill="{MUTED}" font-size="13""#),
        "F score (frequency): 5 = most purchases",
    );
    let cy = top + ch * 2.5;
    let _ = write!(
        out,
        r#"<text x="24" y="{}" text-anchor="middle" fill="{MUTED}" font-size="13" transform="rotate(-90 24 {})">R score (recency): 5 = most recent</text>"#,
        num(cy),
        num(cy)
    );
    text(
        &mut out,
        left,
        24.0,
        "start",
        r#" font-size="15" font-weight="600""#,
        title,
    );
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every attribute value in `svg` that looks numeric must parse as a finite number.
    fn assert_finite(svg: &str) {
        assert!(!svg.contains("NaN"), "{svg}");
        assert!(!svg.contains("inf"), "{svg}");
        for attr in [
            "x=", "y=", "width=", "height=", "cx=", "cy=", "r=", "x1=", "y2=",
        ] {
            for part in svg.split(&format!(" {attr}\"")).skip(1) {
                let v = &part[..part.find('"').unwrap()];
                if v.ends_with('%') {
                    continue;
                }
                let n: f64 = v.parse().unwrap_or_else(|_| panic!("{attr}{v:?} in {svg}"));
                assert!(n.is_finite());
            }
        }
    }

    #[test]
    fn num_is_finite_and_short() {
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(num(f64::INFINITY), "0");
        assert_eq!(num(1.0), "1");
        assert_eq!(num(1.256), "1.26");
        assert_eq!(num(-0.001), "0");
    }

    #[test]
    fn compact_numbers_read_like_axis_labels() {
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(0.25), "0.25");
        assert_eq!(compact(12.0), "12");
        assert_eq!(compact(999.7), "1k");
        assert_eq!(compact(1234.0), "1.2k");
        assert_eq!(compact(12_345.0), "12k");
        assert_eq!(compact(1_828_390.0), "1.8M");
        assert_eq!(compact(f64::NAN), "n/a");
    }

    #[test]
    fn nice_ticks_cover_the_range_with_round_steps() {
        assert_eq!(
            nice_ticks(0.0, 97.0, 4),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(
            nice_ticks(0.31, 0.52, 5),
            vec![0.3, 0.35, 0.4, 0.45, 0.5, 0.55]
        );
        // Degenerate ranges still give two or more finite ticks.
        for (lo, hi) in [
            (0.0, 0.0),
            (5.0, 5.0),
            (f64::NAN, f64::NAN),
            (1.0, f64::INFINITY),
        ] {
            let t = nice_ticks(lo, hi, 4);
            assert!(
                t.len() >= 2 && t.iter().all(|v| v.is_finite()),
                "{lo} {hi}: {t:?}"
            );
        }
    }

    #[test]
    fn histogram_of_zero_counts_has_finite_attributes() {
        let bins: Vec<HistBin> = (0..10)
            .map(|i| HistBin {
                lo: i as f64,
                hi: i as f64 + 1.0,
                count: 0,
            })
            .collect();
        let svg = histogram("Recency", "days", &bins, "#4e79a7", &compact);
        assert_finite(&svg);
        assert!(svg.contains("no customers"));
        let empty = histogram("Recency", "days", &[], "#4e79a7", &compact);
        assert_finite(&empty);
        assert!(empty.contains("no data"));
    }

    #[test]
    fn line_chart_skips_non_finite_points() {
        let chart = LineChart {
            title: "Silhouette",
            x_label: "k",
            y_label: "silhouette",
            series: vec![Series {
                name: "spark".into(),
                color: "#123456".into(),
                dashed: false,
                points: vec![
                    (2.0, 0.4),
                    (3.0, f64::NAN),
                    (4.0, f64::INFINITY),
                    (5.0, 0.5),
                ],
            }],
            markers: vec![Marker {
                x: 4.0,
                label: "chosen k = 4".into(),
                color: "#d62728".into(),
                strong: true,
            }],
            y_from_zero: false,
            y_fmt: &|v| format!("{v:.2}"),
        };
        let svg = line_chart(&chart);
        assert_finite(&svg);
        // The line breaks at the missing points: two separate moves.
        assert_eq!(svg.matches("d=\"M").count(), 1);
        assert_eq!(svg.matches(" M").count(), 1, "{svg}");
        let none = line_chart(&LineChart {
            series: vec![],
            markers: vec![],
            ..chart
        });
        assert_finite(&none);
        assert!(none.contains("no data"));
    }

    #[test]
    fn donut_of_one_slice_or_nothing_is_finite() {
        let one = [Slice {
            label: "All".into(),
            value: 10.0,
            inner: Some(5.0),
            color: "#111".into(),
        }];
        let svg = donut("one", &one, ("1", "cluster"));
        assert_finite(&svg);
        assert!(svg.contains("100%"));
        let zero = [Slice {
            label: "None".into(),
            value: 0.0,
            inner: Some(f64::NAN),
            color: "#111".into(),
        }];
        assert_finite(&donut("zero", &zero, ("0", "customers")));
        assert_finite(&donut("empty", &[], ("0", "customers")));
    }

    #[test]
    fn grid_of_empty_cells_is_finite() {
        let cells: [[HeatCell; 5]; 5] = Default::default();
        let svg = rf_grid("R x F", &cells);
        assert_finite(&svg);
        assert_eq!(svg.matches("class=\"cell\"").count(), 25);
    }
}
