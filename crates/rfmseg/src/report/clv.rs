//! The report's lifetime-value section: key figures, the distributions of P(alive) and
//! CLV, CLV by cluster and by RFM segment, the fitted parameters with their standard
//! errors, and (with `--holdout-days`) the calibration/holdout chart. Nothing when CLV is
//! off; the reason when the data could not support a fit.

use std::fmt::Write;

use super::Report;
use super::colors::{Colors, swatch};
use super::format::{bins, card, dec, money, money_compact, money_tick, pct};
use super::svg::{self, LineChart, Series, esc};
use crate::quality::group_thousands;
use crate::stages::clv::{ClvGroup, ClvReport, ClvSection, Holdout, HoldoutRow};

pub(super) fn section(out: &mut String, r: &Report, colors: &Colors) {
    let c = match &r.clv {
        ClvSection::Off => return,
        ClvSection::Skipped { reason } => {
            let _ = writeln!(
                out,
                "<section id=\"clv\"><h2>Lifetime value</h2><p>Not fitted: {}</p></section>",
                esc(reason)
            );
            return;
        }
        ClvSection::Fitted(c) => c,
    };
    let m = &c.model;
    let unit = m.time_unit.name();
    let _ = write!(
        out,
        "<section id=\"clv\"><h2>Lifetime value</h2>\n<p class=\"note\">BG/NBD (purchases and \
         drop-out) and Gamma-Gamma (value per purchase) fitted by maximum likelihood on the \
         {} customers of the window ({} with a repeat purchase day), in {unit}; predictions over \
         the next {} {unit}, discounted {} per period over {} periods.</p>",
        group_thousands(m.fit.customers),
        group_thousands(m.fit.repeat_customers),
        dec(m.horizon, if m.horizon.fract() == 0.0 { 0 } else { 1 }),
        pct(m.discount_per_period),
        m.periods
    );
    out.push_str("<div class=\"cards\">");
    card(
        out,
        "Lifetime value",
        &money_compact(c.clv),
        &format!("{} over the horizon", money(c.clv)),
    );
    card(
        out,
        "Expected purchases",
        &svg::compact(c.expected_purchases),
        &format!("purchase days in the next {} {unit}", dec(m.horizon, 0)),
    );
    card(
        out,
        "Mean P(alive)",
        &dec(c.mean_p_alive, 3),
        "probability a customer is still active",
    );
    card(
        out,
        "Predicted",
        &group_thousands(c.predicted),
        &format!("of {} customers", group_thousands(c.customers)),
    );
    out.push_str("</div>\n<div class=\"two\">");
    let p_fmt = |v: f64| dec(v, 2);
    for chart in [
        svg::histogram(
            "P(alive)",
            "probability the customer is still active",
            &bins(&c.p_alive_bins),
            "#2f8f46",
            &p_fmt,
        ),
        svg::histogram(
            "Lifetime value",
            &format!("CLV over {} {unit} (USD, log bins)", dec(m.horizon, 0)),
            &bins(&c.clv_bins),
            "#8e44ad",
            &money_tick,
        ),
    ] {
        let _ = write!(out, "<div class=\"chart\">{chart}</div>");
    }
    out.push_str("</div>\n");
    group_table(out, "By cluster", &c.by_cluster, &|n| {
        colors.label(n).to_string()
    });
    group_table(out, "By RFM segment", &c.by_segment, &|n| {
        colors.segment(n).to_string()
    });
    at_risk(out, c, colors);
    parameters(out, c);
    if let Some(h) = &c.holdout {
        holdout(out, h, unit);
    }
    out.push_str("</section>\n");
}

fn group_table(out: &mut String, title: &str, groups: &[ClvGroup], color: &dyn Fn(&str) -> String) {
    let _ = write!(
        out,
        "<h3>{}</h3><div class=\"scroll\"><table class=\"tight\"><thead><tr><th>Group</th>\
         <th class=\"n\">Customers</th><th class=\"n\">Mean P(alive)</th>\
         <th class=\"n\">Expected purchases</th><th class=\"n\">CLV</th>\
         <th class=\"n\">CLV per customer</th><th class=\"n\">Share of CLV</th>\
         <th class=\"n\" title=\"(1 - P(alive)) x the CLV if alive\">Revenue at risk</th></tr></thead><tbody>",
        esc(title)
    );
    for g in groups {
        let per = if g.predicted > 0 {
            g.clv / g.predicted as f64
        } else {
            f64::NAN
        };
        let _ = write!(
            out,
            "<tr><td>{}{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            swatch(&color(&g.name)),
            esc(&g.name),
            group_thousands(g.customers),
            dec(g.mean_p_alive, 3),
            dec(g.expected_purchases, 0),
            money(g.clv),
            money(per),
            pct(g.share_clv),
            money(g.revenue_at_risk)
        );
    }
    out.push_str("</tbody></table></div>");
}

/// Revenue at risk: the total, and the customers who carry most of it.
fn at_risk(out: &mut String, c: &ClvReport, colors: &Colors) {
    let _ = write!(
        out,
        "<h3>Revenue at risk</h3><p class=\"note\">(1 - P(alive)) x the CLV a customer would \
         have if still active: {} in all. The customers who carry the most:</p>\
         <div class=\"scroll\"><table class=\"tight\"><thead><tr><th>Customer</th>\
         <th>RFM segment</th><th>Cluster</th><th class=\"n\">P(alive)</th>\
         <th class=\"n\">CLV</th><th class=\"n\">Revenue at risk</th></tr></thead><tbody>",
        money(c.revenue_at_risk)
    );
    for a in &c.top_at_risk {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}{}</td><td>{}{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&a.customer_id),
            swatch(colors.segment(&a.rfm_segment)),
            esc(&a.rfm_segment),
            swatch(colors.label(&a.cluster_label)),
            esc(&a.cluster_label),
            dec(a.p_alive, 3),
            money(a.clv),
            money(a.revenue_at_risk)
        );
    }
    out.push_str("</tbody></table></div>");
}

fn parameters(out: &mut String, c: &ClvReport) {
    let f = &c.model.fit;
    out.push_str(
        "<h3>Fitted parameters</h3><div class=\"scroll\"><table class=\"tight\"><thead><tr>\
         <th>Model</th><th>Parameter</th><th class=\"n\">Estimate</th>\
         <th class=\"n\">Standard error</th></tr></thead><tbody>",
    );
    let rows = ["r", "alpha", "a", "b"]
        .iter()
        .enumerate()
        .map(|(i, n)| ("BG/NBD", *n, f.bgnbd[i], f.bgnbd_std_errors.map(|s| s[i])))
        .chain(["p", "q", "gamma"].iter().enumerate().map(|(i, n)| {
            (
                "Gamma-Gamma",
                *n,
                f.gamma_gamma[i],
                f.gamma_gamma_std_errors.map(|s| s[i]),
            )
        }));
    for (model, name, v, se) in rows {
        let _ = write!(
            out,
            "<tr><td>{model}</td><td>{name}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            significant(v),
            se.map_or("n/a".to_string(), significant)
        );
    }
    let _ = write!(
        out,
        "</tbody></table></div><p class=\"note\">Log-likelihood {} (BG/NBD) and {} \
         (Gamma-Gamma); {} iterations; {}.</p>",
        dec(f.bgnbd_loglik, 1),
        dec(f.gamma_gamma_loglik, 1),
        f.iterations,
        if f.converged {
            "converged"
        } else {
            "<strong>not converged</strong>: treat the predictions with care"
        }
    );
}

/// Four significant digits, without an exponent for everyday magnitudes.
fn significant(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let a = v.abs();
    if a == 0.0 || (1e-3..1e6).contains(&a) {
        let decimals = if a == 0.0 {
            0
        } else {
            (3 - a.log10().floor() as i32).max(0) as usize
        };
        dec(v, decimals)
    } else {
        format!("{v:.3e}")
    }
}

fn holdout(out: &mut String, h: &Holdout, unit: &str) {
    let points = |f: fn(&HoldoutRow) -> f64| {
        h.rows
            .iter()
            .map(|r| (r.repeat_purchases as f64, f(r)))
            .collect::<Vec<_>>()
    };
    let chart = svg::line_chart(&LineChart {
        title: "Calibration vs holdout",
        x_label: "repeat purchase days in calibration (the last: that many or more)",
        y_label: "mean purchase days in the holdout",
        series: vec![
            Series {
                name: "actual".into(),
                color: "#2f6fb3".into(),
                dashed: false,
                points: points(|r| r.mean_actual),
            },
            Series {
                name: "predicted".into(),
                color: "#e08a1e".into(),
                dashed: true,
                points: points(|r| r.mean_expected),
            },
        ],
        markers: vec![],
        y_from_zero: true,
        y_fmt: &|v| dec(v, 2),
    });
    let _ = write!(
        out,
        "<h3>Calibration vs holdout</h3><p class=\"note\">Fitted on the window up to {} (r = \
         {}, alpha = {}, a = {}, b = {} in {unit}), then the expected purchase days of the \
         last {} days against the actual ones: {} expected, {} actual.</p>\
         <div class=\"two\"><div class=\"chart\">{chart}</div><div class=\"scroll\">\
         <table class=\"tight\"><thead><tr><th class=\"n\">Repeat purchases</th>\
         <th class=\"n\">Customers</th><th class=\"n\">Expected</th><th class=\"n\">Actual</th>\
         </tr></thead><tbody>",
        esc(&h.calibration_end),
        significant(h.fit.bgnbd[0]),
        significant(h.fit.bgnbd[1]),
        significant(h.fit.bgnbd[2]),
        significant(h.fit.bgnbd[3]),
        h.holdout_days,
        dec(h.expected, 0),
        group_thousands(h.actual)
    );
    let last = h.rows.last().map(|r| r.repeat_purchases);
    for r in &h.rows {
        let more = if Some(r.repeat_purchases) == last {
            "+"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tr><td class=\"n\">{}{more}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td></tr>",
            r.repeat_purchases,
            group_thousands(r.customers),
            dec(r.mean_expected, 2),
            dec(r.mean_actual, 2)
        );
    }
    out.push_str("</tbody></table></div></div>");
}
