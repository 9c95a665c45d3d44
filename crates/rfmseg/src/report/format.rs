//! Numbers for people, and the small pieces every section of report.html is made of
//! (key-figure cards, histogram bins): "n/a" for a number that is not finite, thousands
//! separators, dollars and shares.

use std::fmt::Write;

use super::Bin;
use super::svg::{self, HistBin, esc};
use crate::quality::group_thousands;

pub(super) fn card(out: &mut String, label: &str, value: &str, sub: &str) {
    let _ = write!(
        out,
        "<div class=\"card\"><div class=\"label\">{}</div><div class=\"value\">{}</div>\
         <div class=\"sub\">{}</div></div>",
        esc(label),
        esc(value),
        esc(sub)
    );
}

pub(super) fn bins(b: &[Bin]) -> Vec<HistBin> {
    b.iter()
        .map(|b| HistBin {
            lo: b.lo,
            hi: b.hi,
            count: b.count,
        })
        .collect()
}

pub(super) fn finite_or_zero(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// `v` with `decimals` decimals and thousands separators; "n/a" if not finite.
pub(super) fn dec(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(i, f)| (i, f));
    let grouped = int
        .parse::<u64>()
        .map_or_else(|_| int.to_string(), group_thousands);
    let negative = v < 0.0 && s.bytes().any(|b| b.is_ascii_digit() && b != b'0');
    let sign = if negative { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    }
}

/// A z-value with its sign: +0.42, -1.10.
pub(super) fn signed(v: f64, decimals: usize) -> String {
    let s = dec(v, decimals);
    if v.is_finite() && !s.starts_with('-') {
        format!("+{s}")
    } else {
        s
    }
}

/// A share 0..1 as a percentage with one decimal; "<0.1%" for tiny positive shares.
pub(super) fn pct(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    if v > 0.0 && v < 0.0005 {
        return "<0.1%".to_string();
    }
    format!("{}%", dec(v * 100.0, 1))
}

/// A share as a whole percentage (1 decimal under 10%): 12%, 3.5%.
pub(super) fn pct_short(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let p = v * 100.0;
    let s = if p > 0.0 && p < 10.0 {
        dec(p, 1)
    } else {
        dec(p, 0)
    };
    format!("{}%", s.strip_suffix(".0").unwrap_or(&s))
}

/// Dollars: cents under $1,000, whole dollars above.
pub(super) fn money(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let s = dec(v.abs(), if v.abs() < 1000.0 { 2 } else { 0 });
    if v < 0.0 {
        format!("-${s}")
    } else {
        format!("${s}")
    }
}

/// Dollars, short: $12, $1.2k, $3.4M.
pub(super) fn money_compact(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let s = svg::compact(v.abs());
    if v < 0.0 {
        format!("-${s}")
    } else {
        format!("${s}")
    }
}

/// Dollars for an axis tick, two significant digits: $0.25, $4, $16, $250, $2.5k.
pub(super) fn money_tick(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let a = v.abs();
    let rounded = if a > 0.0 && a < 1000.0 {
        let digits = a.log10().floor() as i32;
        let p = 10f64.powi(1 - digits);
        (a * p).round() / p
    } else {
        a
    };
    money_compact(if v < 0.0 { -rounded } else { rounded })
}

/// Dollars for a typical price: cents under $10, whole dollars above.
pub(super) fn price(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let s = dec(v.abs(), if v.abs() < 10.0 { 2 } else { 0 });
    if v < 0.0 {
        format!("-${s}")
    } else {
        format!("${s}")
    }
}

pub(super) fn price_band(b: &[f64; 3]) -> String {
    format!("{} / {} / {}", price(b[0]), price(b[1]), price(b[2]))
}

/// Seconds: one decimal from 1 s up, milliseconds below.
pub(super) fn seconds(v: f64) -> String {
    if v.is_finite() && v.abs() < 1.0 {
        dec(v, 3)
    } else {
        dec(v, 1)
    }
}
