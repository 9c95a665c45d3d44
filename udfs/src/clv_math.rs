//! The maths of customer lifetime value (DESIGN.md §8), in plain f64 without DataFusion:
//! special functions, the BG/NBD and Gamma-Gamma log-likelihoods with their analytic
//! gradients (summed by the UDAFs `bgnbd_ll` and `gamma_gamma_ll`), and the per-customer
//! predictions (P(alive), expected purchases, expected value per purchase, CLV).
//!
//! - BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy way", in the
//!   log-sum-exp form the `lifetimes` library uses. Parameters `[r, alpha, a, b]`; per
//!   customer x = repeat purchases, t_x = time of the last one, T = time observed, all from
//!   the first purchase, in one time unit.
//! - Gamma-Gamma: Fader & Hardie (2013), "The Gamma-Gamma model of monetary value".
//!   Parameters `[p, q, gamma]`; per customer with x >= 1 repeat purchases, m = their mean
//!   amount.
//!
//! Every function is a pure function of its arguments' bits (no state, no randomness), so
//! the driver and every executor compute the same values.

use std::collections::HashMap;

/// ln √(2π).
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// Below this, `ln_gamma` and `digamma` shift their argument up with the recurrence
/// before the asymptotic series (whose truncation error at 10 is below 1e-16).
const ASYMPTOTIC_FROM: f64 = 10.0;

/// ln Γ(x) for x > 0 (NaN otherwise): Stirling's series at x >= 10 (8 terms, error below
/// 1e-16 relative), the recurrence Γ(x) = Γ(x + k) / (x (x+1) ... (x+k-1)) below. About
/// 4e-15 absolute below 10 (so near the zeros at 1 and 2 that is all it promises), 1e-15
/// relative above.
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return f64::INFINITY;
    }
    let mut y = x;
    let mut prod = 1.0;
    while y < ASYMPTOTIC_FROM {
        prod *= y;
        y += 1.0;
    }
    let shift = if prod == 1.0 { 0.0 } else { prod.ln() };
    stirling(y) - shift
}

/// Stirling's series for ln Γ(y), y >= 10.
fn stirling(y: f64) -> f64 {
    // B_2k / (2k (2k - 1)), k = 1..8.
    const C: [f64; 8] = [
        1.0 / 12.0,
        -1.0 / 360.0,
        1.0 / 1260.0,
        -1.0 / 1680.0,
        1.0 / 1188.0,
        -691.0 / 360_360.0,
        1.0 / 156.0,
        -3617.0 / 122_400.0,
    ];
    let inv = 1.0 / y;
    let inv2 = inv * inv;
    let mut series = 0.0;
    for c in C.iter().rev() {
        series = series * inv2 + c;
    }
    (y - 0.5) * y.ln() - y + LN_SQRT_2PI + series * inv
}

/// ψ(x) = d ln Γ(x) / dx for x > 0 (NaN otherwise): the asymptotic series at x >= 10,
/// the recurrence ψ(x) = ψ(x + 1) - 1/x below. About 1e-15 relative.
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return f64::INFINITY;
    }
    let mut y = x;
    let mut shift = 0.0;
    while y < ASYMPTOTIC_FROM {
        shift += 1.0 / y;
        y += 1.0;
    }
    // B_2k / (2k), k = 1..7.
    const C: [f64; 7] = [
        1.0 / 12.0,
        -1.0 / 120.0,
        1.0 / 252.0,
        -1.0 / 240.0,
        1.0 / 132.0,
        -691.0 / 32_760.0,
        1.0 / 12.0,
    ];
    let inv2 = 1.0 / (y * y);
    let mut series = 0.0;
    for c in C.iter().rev() {
        series = series * inv2 + c;
    }
    y.ln() - 0.5 / y - series * inv2 - shift
}

/// ln(e^u + e^v), without overflow.
fn log_sum_exp(u: f64, v: f64) -> f64 {
    let (hi, lo) = if u >= v { (u, v) } else { (v, u) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// The BG/NBD log-likelihood of one customer (x repeat purchases, the last at t_x, observed
/// for T) and its gradient in `[r, alpha, a, b]`:
///
/// ```text
/// A1 = lnΓ(r+x) - lnΓ(r) + r ln α
/// A2 = lnΓ(a+b) + lnΓ(b+x) - lnΓ(b) - lnΓ(a+b+x)
/// A3 = -(r+x) ln(α+T)
/// A4 = ln a - ln(b+x-1) - (r+x) ln(α+t_x)      (x > 0 only)
/// LL = A1 + A2 + ln(e^A3 + e^A4)
/// ```
///
/// The caller checks the data (x >= 0, 0 <= t_x <= T) and the parameters (all > 0). Over
/// many rows, [`BgNbdTerms`] computes the same bits faster.
pub fn bgnbd_ll_grad(params: &[f64; 4], x: f64, t_x: f64, big_t: f64) -> (f64, [f64; 4]) {
    BgNbdTerms::new(params).ll_grad(x, t_x, big_t)
}

/// The log-gamma and digamma terms of [`bgnbd_ll_grad`] that depend on the parameters
/// alone, and, cached per distinct x, those that depend on x: they are most of a row's
/// cost, and an evaluation sees few distinct x (repeat purchase counts) over many rows.
/// The arithmetic is the formula's, in its order, so the bits do not change.
#[derive(Debug)]
pub struct BgNbdTerms {
    params: [f64; 4],
    ln_alpha: f64,
    lg_r: f64,
    lg_ab: f64,
    lg_b: f64,
    dg_r: f64,
    dg_ab: f64,
    dg_b: f64,
    /// By x's bits: lnΓ(r+x), lnΓ(b+x), lnΓ(a+b+x) and the digamma differences.
    per_x: HashMap<u64, [f64; 6]>,
}

impl BgNbdTerms {
    pub fn new(params: &[f64; 4]) -> Self {
        let [r, alpha, a, b] = *params;
        Self {
            params: *params,
            ln_alpha: alpha.ln(),
            lg_r: ln_gamma(r),
            lg_ab: ln_gamma(a + b),
            lg_b: ln_gamma(b),
            dg_r: digamma(r),
            dg_ab: digamma(a + b),
            dg_b: digamma(b),
            per_x: HashMap::new(),
        }
    }

    fn x_terms(&mut self, x: f64) -> [f64; 6] {
        let [r, _, a, b] = self.params;
        let (dg_r, dg_ab, dg_b) = (self.dg_r, self.dg_ab, self.dg_b);
        *self.per_x.entry(x.to_bits()).or_insert_with(|| {
            // dA1, dA2 (x = 0: the digamma differences are exactly 0).
            let (dg_rx, dg_abx, dg_bx) = if x > 0.0 {
                (
                    digamma(r + x) - dg_r,
                    dg_ab - digamma(a + b + x),
                    digamma(b + x) - dg_b,
                )
            } else {
                (0.0, 0.0, 0.0)
            };
            [
                ln_gamma(r + x),
                ln_gamma(b + x),
                ln_gamma(a + b + x),
                dg_rx,
                dg_abx,
                dg_bx,
            ]
        })
    }

    /// One row's log-likelihood and gradient.
    pub fn ll_grad(&mut self, x: f64, t_x: f64, big_t: f64) -> (f64, [f64; 4]) {
        let [lg_rx, lg_bx, lg_abx, dg_rx, dg_abx, dg_bx] = self.x_terms(x);
        let [r, alpha, a, b] = self.params;
        let rx = r + x;
        let a1 = lg_rx - self.lg_r + r * self.ln_alpha;
        let a2 = self.lg_ab + lg_bx - self.lg_b - lg_abx;
        let ln_at = (alpha + big_t).ln();
        let a3 = -rx * ln_at;
        let mut grad = [
            dg_rx + self.ln_alpha - ln_at,
            r / alpha - rx / (alpha + big_t),
            dg_abx,
            dg_abx + dg_bx,
        ];
        if x <= 0.0 {
            return (a1 + a2 + a3, grad);
        }
        let ln_atx = (alpha + t_x).ln();
        let a4 = a.ln() - (b + x - 1.0).ln() - rx * ln_atx;
        let lse = log_sum_exp(a3, a4);
        let (w3, w4) = ((a3 - lse).exp(), (a4 - lse).exp());
        // d(LSE) = w3 dA3 + w4 dA4; the constant parts of the gradient above took w3 = 1.
        grad[0] = dg_rx + self.ln_alpha - w3 * ln_at - w4 * ln_atx;
        grad[1] = r / alpha - w3 * rx / (alpha + big_t) - w4 * rx / (alpha + t_x);
        grad[2] += w4 / a;
        grad[3] -= w4 / (b + x - 1.0);
        (a1 + a2 + lse, grad)
    }
}

/// The Gamma-Gamma log-likelihood of one customer with x >= 1 repeat purchases of mean
/// amount m, and its gradient in `[p, q, gamma]`:
///
/// ```text
/// LL = lnΓ(px+q) - lnΓ(px) - lnΓ(q) + q ln γ + (px-1) ln m + px ln x - (px+q) ln(γ+mx)
/// ```
///
/// The caller checks x > 0, m > 0 and the parameters (all > 0). Over many rows,
/// [`GammaGammaTerms`] computes the same bits faster.
pub fn gamma_gamma_ll_grad(params: &[f64; 3], x: f64, m: f64) -> (f64, [f64; 3]) {
    GammaGammaTerms::new(params).ll_grad(x, m)
}

/// What [`BgNbdTerms`] is to the BG/NBD likelihood, for Gamma-Gamma: the parameter terms
/// once, the x terms once per distinct x.
#[derive(Debug)]
pub struct GammaGammaTerms {
    params: [f64; 3],
    lg_q: f64,
    dg_q: f64,
    ln_gamma_param: f64,
    /// By x's bits: lnΓ(px+q), lnΓ(px), ln x, ψ(px+q), ψ(px).
    per_x: HashMap<u64, [f64; 5]>,
}

impl GammaGammaTerms {
    pub fn new(params: &[f64; 3]) -> Self {
        let [_, q, gamma] = *params;
        Self {
            params: *params,
            lg_q: ln_gamma(q),
            dg_q: digamma(q),
            ln_gamma_param: gamma.ln(),
            per_x: HashMap::new(),
        }
    }

    /// One row's log-likelihood and gradient.
    pub fn ll_grad(&mut self, x: f64, m: f64) -> (f64, [f64; 3]) {
        let [p, q, gamma] = self.params;
        let px = p * x;
        let [lg_pxq, lg_px, ln_x, dg_pxq, dg_px] =
            *self.per_x.entry(x.to_bits()).or_insert_with(|| {
                [
                    ln_gamma(px + q),
                    ln_gamma(px),
                    x.ln(),
                    digamma(px + q),
                    digamma(px),
                ]
            });
        let ln_m = m.ln();
        let ln_gm = (gamma + m * x).ln();
        let ll =
            lg_pxq - lg_px - self.lg_q + q * self.ln_gamma_param + (px - 1.0) * ln_m + px * ln_x
                - (px + q) * ln_gm;
        let grad = [
            x * (dg_pxq - dg_px + ln_m + ln_x - ln_gm),
            dg_pxq - self.dg_q + self.ln_gamma_param - ln_gm,
            q / gamma - (px + q) / (gamma + m * x),
        ];
        (ll, grad)
    }
}

/// Terms at most of a hypergeometric series before it is declared not convergent.
pub const SERIES_TERM_CAP: usize = 200_000;

/// The largest ratio of the largest term to the sum a series may have: past it more than
/// 8 of the 16 digits cancelled, and the sum is refused rather than returned wrong.
const MAX_CANCELLATION: f64 = 1e8;

/// A sum Σ_{n>=0} t_n with t_0 = 1 and t_{n+1} = t_n · ratio(n), as (ln |S|, sign of S);
/// `limit` is the limit of |ratio(n)| as n grows (|z| for a hypergeometric series, below
/// 1). Terms are summed with a running scale (no overflow however large they grow).
/// `None` when it has not converged after [`SERIES_TERM_CAP`] terms, when cancellation
/// lost more than 8 digits, or when the sum is 0.
fn scaled_series(ratio: impl Fn(f64) -> f64, limit: f64) -> Option<(f64, f64)> {
    const RESCALE: f64 = 1e200;
    let ln_rescale = RESCALE.ln();
    let (mut term, mut sum, mut largest, mut ln_scale) = (1.0f64, 1.0f64, 1.0f64, 0.0);
    for n in 0..SERIES_TERM_CAP {
        let rho = ratio(n as f64);
        if !rho.is_finite() {
            return None;
        }
        term *= rho;
        if term == 0.0 {
            break; // a terminating series (a polynomial)
        }
        if term.abs() > RESCALE || sum.abs() > RESCALE {
            term /= RESCALE;
            sum /= RESCALE;
            largest /= RESCALE;
            ln_scale += ln_rescale;
        }
        sum += term;
        largest = largest.max(term.abs());
        if term.abs() <= 1e-17 * sum.abs() {
            // The tail is below term · ρ / (1 - ρ) once the ratios stay below ρ.
            let next = ratio(n as f64 + 1.0).abs().max(limit);
            if next < 1.0 && term.abs() * next / (1.0 - next) <= 1e-17 * sum.abs() {
                return finish(sum, largest, ln_scale);
            }
        }
        if n + 1 == SERIES_TERM_CAP {
            return None;
        }
    }
    finish(sum, largest, ln_scale)
}

fn finish(sum: f64, largest: f64, ln_scale: f64) -> Option<(f64, f64)> {
    if sum == 0.0 || !sum.is_finite() || largest > MAX_CANCELLATION * sum.abs() {
        return None;
    }
    Some((sum.abs().ln() + ln_scale, sum.signum()))
}

/// Is `v` 0, -1, -2, ...?
fn non_positive_integer(v: f64) -> bool {
    v <= 0.0 && v == v.floor()
}

/// ln 2F1(a, b; c; z) and its sign, by the Gauss series for |z| < 1 (after Pfaff's
/// transformation for z < 0, falling back to the plain series): `None` if the series
/// does not converge within [`SERIES_TERM_CAP`] terms, loses more than 8 digits to
/// cancellation, or is undefined (c a non-positive integer), rather than a wrong number.
pub fn ln_hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Option<(f64, f64)> {
    if z.is_nan() || z.abs() >= 1.0 || !a.is_finite() || !b.is_finite() || !c.is_finite() {
        return None;
    }
    if non_positive_integer(c)
        && !(non_positive_integer(a) && a > c)
        && !(non_positive_integer(b) && b > c)
    {
        return None;
    }
    let gauss = |a: f64, b: f64, z: f64| {
        scaled_series(|n| (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z, z.abs())
    };
    if z < 0.0 {
        // Pfaff: 2F1(a, b; c; z) = (1-z)^-a 2F1(a, c-b; c; z/(z-1)), with z/(z-1) in
        // (0, 1/2] for z in [-1, 0): no alternating terms when a, c-b, c > 0.
        let pfaff = gauss(a, c - b, z / (z - 1.0)).map(|(ln, sign)| (ln - a * (-z).ln_1p(), sign));
        if pfaff.is_some() {
            return pfaff;
        }
    }
    gauss(a, b, z)
}

/// The Gaussian hypergeometric function 2F1(a, b; c; z) for |z| < 1 (see [`ln_hyp2f1`]);
/// `None` when it cannot be computed to about 8 digits or overflows f64.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Option<f64> {
    let (ln, sign) = ln_hyp2f1(a, b, c, z)?;
    let v = sign * ln.exp();
    v.is_finite().then_some(v)
}

/// P(alive | x, t_x, T) under BG/NBD: `1 / (1 + [x > 0] a/(b+x-1) ((α+T)/(α+t_x))^(r+x))`.
pub fn p_alive(params: &[f64; 4], x: f64, t_x: f64, big_t: f64) -> f64 {
    let [r, alpha, a, b] = *params;
    if x <= 0.0 {
        return 1.0;
    }
    let ln_odds =
        a.ln() - (b + x - 1.0).ln() + (r + x) * ((alpha + big_t).ln() - (alpha + t_x).ln());
    // 1 / (1 + e^l), without overflow.
    if ln_odds > 0.0 {
        let e = (-ln_odds).exp();
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + ln_odds.exp())
    }
}

/// E[purchases in (T, T + t] | x, t_x, T] under BG/NBD (FHL 2005, eq. 10):
///
/// ```text
/// (a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))] / D,
/// D = 1 + [x > 0] a/(b+x-1) ((α+T)/(α+t_x))^(r+x)
/// ```
///
/// computed through Euler's transformation 2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B;
/// C; z), whose second parameter is a - 1: the bracket divided by (a - 1) is then
/// -expm1((a-1) ln(1-z))/(a-1) - (1-z)^(a-1) G, with G = Σ_{n>=1} (a+b-1-r)_n (a)_(n-1)
/// z^n / ((a+b+x-1)_n n!), which has no 0/0 at a = 1 and no overflow for large x (its
/// terms shrink as fast as C grows). `None` when the series cannot be summed accurately
/// (see [`ln_hyp2f1`]) or the arguments are out of range. At x = t_x = T = 0 it is the
/// unconditional E[X(t)] of a new customer.
pub fn expected_purchases(params: &[f64; 4], x: f64, t_x: f64, big_t: f64, t: f64) -> Option<f64> {
    let [r, alpha, a, b] = *params;
    if !t.is_finite() || t < 0.0 {
        return None;
    }
    if t == 0.0 {
        return Some(0.0);
    }
    let c = a + b + x - 1.0;
    let z = t / (alpha + big_t + t);
    let ln_1mz = -(t / (alpha + big_t)).ln_1p();
    let am1 = a - 1.0;
    // -expm1((a-1) L) / (a-1), → -L at a = 1.
    let first = if am1 == 0.0 {
        -ln_1mz
    } else {
        -(am1 * ln_1mz).exp_m1() / am1
    };
    // C · G = Σ_{n>=1} h_n, h_1 = A' z, h_{n+1} = h_n (A'+n)(a+n-1) z / ((C+n)(n+1)):
    // the denominators C + n >= a + b > 0 for n >= 1, whatever the sign of C.
    let a_prime = a + b - 1.0 - r;
    let cg = if a_prime == 0.0 {
        0.0
    } else {
        let (ln_s, sign) = scaled_series(
            |m| (a_prime + m + 1.0) * (a + m) * z / ((c + m + 1.0) * (m + 2.0)),
            z,
        )?;
        let ln_h1 = (a_prime * z).abs().ln();
        sign * a_prime.signum() * (ln_s + ln_h1 + am1 * ln_1mz).exp()
    };
    let numerator = c * first - cg;
    let denominator = 1.0 / p_alive(params, x, t_x, big_t);
    let e = numerator / denominator;
    (e.is_finite() && e >= -1e-12 * numerator.abs().max(1.0)).then_some(e.max(0.0))
}

/// E[value of a purchase | x, m] under Gamma-Gamma: p (γ + m x) / (p x + q - 1) (the
/// population mean γ p / (q - 1) at x = 0); `None` where it does not exist (p x + q <= 1).
pub fn expected_value(params: &[f64; 3], x: f64, m: f64) -> Option<f64> {
    let [p, q, gamma] = *params;
    let (x, m) = if x > 0.0 { (x, m) } else { (0.0, 0.0) };
    let denominator = p * x + q - 1.0;
    if denominator.is_nan() || denominator <= 0.0 {
        return None;
    }
    let v = p * (gamma + m * x) / denominator;
    v.is_finite().then_some(v)
}

/// The expected purchases over `periods` periods of `period_length` time units each, each
/// period's discounted to today: Σ_{k=1..periods} (E(k L) - E((k-1) L)) / (1 + discount)^k,
/// E the expected purchases ([`expected_purchases`]). It depends only on (x, t_x, T), so
/// customers who share a summary share it. `None` when a part cannot be computed.
pub fn discounted_purchases(
    bgnbd: &[f64; 4],
    x: f64,
    t_x: f64,
    big_t: f64,
    periods: u32,
    period_length: f64,
    discount: f64,
) -> Option<f64> {
    let mut total = 0.0;
    let mut before = 0.0;
    for k in 1..=periods {
        let cumulative = expected_purchases(bgnbd, x, t_x, big_t, f64::from(k) * period_length)?;
        total += (cumulative - before) / (1.0 + discount).powi(k as i32);
        before = cumulative;
    }
    Some(total)
}

/// Customer lifetime value over `periods` periods of `period_length` time units each:
/// value · Σ_{k=1..periods} (E(k L) - E((k-1) L)) / (1 + discount)^k, value the expected
/// value per purchase ([`expected_value`]) and the sum [`discounted_purchases`], as
/// `lifetimes`' customer_lifetime_value discounts it. `None` when a part cannot be
/// computed.
#[allow(clippy::too_many_arguments)]
pub fn clv(
    bgnbd: &[f64; 4],
    gamma_gamma: &[f64; 3],
    x: f64,
    t_x: f64,
    big_t: f64,
    m: f64,
    periods: u32,
    period_length: f64,
    discount: f64,
) -> Option<f64> {
    let value = expected_value(gamma_gamma, x, m)?;
    Some(value * discounted_purchases(bgnbd, x, t_x, big_t, periods, period_length, discount)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs().max(1.0)
    }

    #[track_caller]
    fn assert_close(got: f64, want: f64, rel: f64) {
        assert!(close(got, want, rel), "got {got:e}, want {want:e}");
    }

    /// ln((n-1)!) by summation.
    fn ln_factorial_minus_one(n: u32) -> f64 {
        (2..n).map(|k| f64::from(k).ln()).sum()
    }

    #[test]
    fn ln_gamma_matches_factorials_half_integers_and_small_arguments() {
        for n in 1..=170 {
            assert_close(ln_gamma(f64::from(n)), ln_factorial_minus_one(n), 1e-14);
        }
        // Γ(1/2) = √π; Γ(n + 1/2) = (2n)! √π / (4^n n!).
        assert_close(ln_gamma(0.5), 0.572_364_942_924_700_1, 4e-15);
        for n in 1..60u32 {
            let want = (1..=2 * n).map(|k| f64::from(k).ln()).sum::<f64>()
                + 0.5 * std::f64::consts::PI.ln()
                - f64::from(n) * 4f64.ln()
                - (1..=n).map(|k| f64::from(k).ln()).sum::<f64>();
            assert_close(ln_gamma(f64::from(n) + 0.5), want, 1e-13);
        }
        // ln Γ(1 + e) = -γ e + ζ(2) e²/2 - ζ(3) e³/3 + ..., and Γ(e) = Γ(1 + e)/e.
        let euler = 0.577_215_664_901_532_9;
        for e in [1e-4, 1e-6, 1e-10] {
            let series = -euler * e + 1.644_934_066_848_226_4 * e * e / 2.0
                - 1.202_056_903_159_594_2 * e * e * e / 3.0;
            assert!((ln_gamma(1.0 + e) - series).abs() < 5e-15, "{e}");
            assert_close(ln_gamma(e), series - e.ln(), 1e-14);
        }
        // Large arguments: the recurrence ln Γ(x+1) = ln Γ(x) + ln x.
        for x in [1e4, 1e4 + 500.0, 3.3e6, 1e12] {
            assert_close(ln_gamma(x + 1.0), ln_gamma(x) + x.ln(), 1e-14);
        }
        assert!(ln_gamma(0.0).is_nan() && ln_gamma(-1.0).is_nan());
    }

    #[test]
    fn digamma_matches_known_values_and_the_derivative_of_ln_gamma() {
        let euler = 0.577_215_664_901_532_9;
        assert_close(digamma(1.0), -euler, 1e-15);
        assert_close(digamma(0.5), -euler - 2.0 * 2f64.ln(), 1e-15);
        // ψ(n) = -γ + Σ_{k<n} 1/k.
        for n in 2..200u32 {
            let h: f64 = (1..n).map(|k| 1.0 / f64::from(k)).sum();
            assert_close(digamma(f64::from(n)), h - euler, 1e-14);
        }
        // ψ(x) ≈ -1/x - γ for tiny x.
        let e = 1e-4;
        let series =
            -1.0 / e - euler + 1.644_934_066_848_226_4 * e - 1.202_056_903_159_594_2 * e * e;
        assert_close(digamma(e), series, 1e-15);
        // Central differences of ln Γ.
        for x in [0.3, 1.7, 9.9, 10.1, 55.0, 1e4] {
            let h = 1e-5 * x;
            let fd = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert_close(digamma(x), fd, 1e-7);
        }
    }

    /// The BG/NBD likelihood the direct way, with plain Γ and Beta functions (small x).
    fn direct_bgnbd(p: &[f64; 4], x: f64, t_x: f64, big_t: f64) -> f64 {
        let [r, alpha, a, b] = *p;
        let g = |v: f64| ln_gamma(v).exp();
        let beta = |u: f64, v: f64| g(u) * g(v) / g(u + v);
        let l1 = beta(a, b + x) / beta(a, b) * g(r + x) * alpha.powf(r)
            / (g(r) * (alpha + big_t).powf(r + x));
        let l2 = if x > 0.0 {
            beta(a + 1.0, b + x - 1.0) / beta(a, b) * g(r + x) * alpha.powf(r)
                / (g(r) * (alpha + t_x).powf(r + x))
        } else {
            0.0
        };
        (l1 + l2).ln()
    }

    fn direct_gamma_gamma(p: &[f64; 3], x: f64, m: f64) -> f64 {
        let [p, q, gamma] = *p;
        let g = |v: f64| ln_gamma(v).exp();
        // The density of the mean of x Gamma(p, ν) draws, ν ~ Gamma(q, γ).
        (g(p * x + q) / (g(p * x) * g(q)) * gamma.powf(q) * m.powf(p * x - 1.0) * x.powf(p * x)
            / (gamma + m * x).powf(p * x + q))
        .ln()
    }

    const BG: [[f64; 4]; 3] = [
        [0.243, 4.414, 0.793, 2.426],
        [1.5, 0.7, 2.2, 0.4],
        [0.25, 4.0, 0.8, 2.5],
    ];
    const ROWS: [(f64, f64, f64); 5] = [
        (0.0, 0.0, 38.86),
        (1.0, 2.0, 10.0),
        (2.0, 30.43, 38.86),
        (5.0, 20.0, 52.0),
        (3.0, 0.5, 0.5),
    ];

    #[test]
    fn bgnbd_log_likelihood_equals_the_direct_formula() {
        for p in &BG {
            for &(x, t_x, big_t) in &ROWS {
                let (ll, _) = bgnbd_ll_grad(p, x, t_x, big_t);
                assert_close(ll, direct_bgnbd(p, x, t_x, big_t), 1e-12);
            }
        }
    }

    #[test]
    fn gamma_gamma_log_likelihood_equals_the_direct_formula() {
        for p in [[6.25, 3.74, 15.44], [6.0, 4.0, 15.0], [0.5, 1.2, 3.0]] {
            for (x, m) in [(1.0, 20.0), (2.0, 35.5), (7.0, 4.25)] {
                let (ll, _) = gamma_gamma_ll_grad(&p, x, m);
                assert_close(ll, direct_gamma_gamma(&p, x, m), 1e-12);
            }
        }
    }

    fn central_difference<const K: usize>(f: impl Fn(&[f64; K]) -> f64, p: &[f64; K]) -> [f64; K] {
        std::array::from_fn(|i| {
            let h = 1e-6 * p[i];
            let (mut up, mut down) = (*p, *p);
            up[i] += h;
            down[i] -= h;
            (f(&up) - f(&down)) / (2.0 * h)
        })
    }

    #[test]
    fn the_gradients_equal_central_differences() {
        for p in &BG {
            for &(x, t_x, big_t) in ROWS.iter().chain(&[(500.0, 60.0, 61.0)]) {
                let (_, grad) = bgnbd_ll_grad(p, x, t_x, big_t);
                let fd = central_difference(|q| bgnbd_ll_grad(q, x, t_x, big_t).0, p);
                for i in 0..4 {
                    assert!(
                        (grad[i] - fd[i]).abs() <= 1e-6 * fd[i].abs().max(1.0),
                        "{p:?} {x} {t_x} {big_t}: component {i}: {} vs {}",
                        grad[i],
                        fd[i]
                    );
                }
            }
        }
        for p in [[6.0, 4.0, 15.0], [0.5, 1.2, 3.0], [30.0, 0.9, 400.0]] {
            for (x, m) in [(1.0, 20.0), (2.0, 35.5), (500.0, 4.25)] {
                let (_, grad) = gamma_gamma_ll_grad(&p, x, m);
                let fd = central_difference(|q| gamma_gamma_ll_grad(q, x, m).0, &p);
                for i in 0..3 {
                    assert!(
                        (grad[i] - fd[i]).abs() <= 1e-6 * fd[i].abs().max(1.0),
                        "{p:?} {x} {m}: component {i}: {} vs {}",
                        grad[i],
                        fd[i]
                    );
                }
            }
        }
    }

    #[test]
    fn no_nan_or_infinity_for_large_x_or_parameters_at_the_edges() {
        let edges = [1e-4, 1.0, 1e4];
        for &r in &edges {
            for &alpha in &edges {
                for &a in &edges {
                    for &b in &edges {
                        let p = [r, alpha, a, b];
                        for (x, t_x, big_t) in [
                            (0.0, 0.0, 0.0),
                            (0.0, 0.0, 60.0),
                            (1.0, 0.1, 60.0),
                            (500.0, 59.0, 60.0),
                        ] {
                            let (ll, grad) = bgnbd_ll_grad(&p, x, t_x, big_t);
                            assert!(
                                ll.is_finite() && grad.iter().all(|g| g.is_finite()),
                                "{p:?} {x} {t_x} {big_t}: {ll} {grad:?}"
                            );
                            let alive = p_alive(&p, x, t_x, big_t);
                            assert!((0.0..=1.0).contains(&alive), "{p:?}: {alive}");
                        }
                    }
                }
                for &gamma in &edges {
                    let p = [r, alpha, gamma];
                    for (x, m) in [(1.0, 0.01), (500.0, 1e5)] {
                        let (ll, grad) = gamma_gamma_ll_grad(&p, x, m);
                        assert!(
                            ll.is_finite() && grad.iter().all(|g| g.is_finite()),
                            "{p:?} {x} {m}: {ll} {grad:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn hyp2f1_matches_closed_forms() {
        for z in [-0.9, -0.3, 1e-8, 0.1, 0.5, 0.9, 0.99] {
            // 2F1(1, 1; 2; z) = -ln(1-z)/z.
            assert_close(hyp2f1(1.0, 1.0, 2.0, z).unwrap(), -(-z).ln_1p() / z, 1e-13);
            // 2F1(a, b; b; z) = (1-z)^-a.
            for a in [0.3, 2.5, 40.0] {
                assert_close(hyp2f1(a, 1.7, 1.7, z).unwrap(), (1.0 - z).powf(-a), 1e-12);
            }
            // 2F1(1/2, 1; 3/2; z²)... = atanh(z)/z for z in (0, 1).
            if z > 0.0 {
                let w = z.sqrt();
                assert_close(hyp2f1(0.5, 1.0, 1.5, z).unwrap(), w.atanh() / w, 1e-13);
            }
        }
        // A terminating series: 2F1(-2, b; c; z) = 1 - 2bz/c + b(b+1)z²/(c(c+1)).
        let (b, c, z) = (3.0, 5.0, 0.4);
        assert_close(
            hyp2f1(-2.0, b, c, z).unwrap(),
            1.0 - 2.0 * b * z / c + b * (b + 1.0) * z * z / (c * (c + 1.0)),
            1e-15,
        );
        // Out of reach: refused, never a wrong number.
        assert_eq!(hyp2f1(1.0, 1.0, 2.0, 1.0), None);
        assert_eq!(hyp2f1(1.0, 1.0, -3.0, 0.5), None);
        assert_eq!(
            hyp2f1(1.0, 1.0, 2.0, 1.0 - 1e-12),
            None,
            "too slow to converge"
        );
        // Heavy cancellation (alternating terms growing to ~e^40): refused.
        assert_eq!(hyp2f1(60.0, 60.0, 1.0, -0.99), None);
    }

    /// FHL (2005) §4 with the CDNOW estimates: E[Y(39) | x=2, t_x=30.43, T=38.86] = 1.226.
    #[test]
    fn expected_purchases_match_the_paper_and_the_direct_formula() {
        let cdnow = [0.243, 4.414, 0.793, 2.426];
        let e = expected_purchases(&cdnow, 2.0, 30.43, 38.86, 39.0).unwrap();
        assert!((e - 1.226).abs() < 5e-4, "{e}");
        // The direct formula with the plain 2F1 where it converges.
        for p in &BG {
            for &(x, t_x, big_t) in &ROWS {
                for t in [1.0, 10.0, 52.0] {
                    let [r, alpha, a, b] = *p;
                    let z = t / (alpha + big_t + t);
                    let f = hyp2f1(r + x, b + x, a + b + x - 1.0, z).unwrap();
                    let bracket = 1.0 - ((alpha + big_t) / (alpha + big_t + t)).powf(r + x) * f;
                    let want =
                        (a + b + x - 1.0) / (a - 1.0) * bracket / (1.0 / p_alive(p, x, t_x, big_t));
                    let got = expected_purchases(p, x, t_x, big_t, t).unwrap();
                    assert_close(got, want, 1e-9);
                }
            }
        }
        // A new customer (x = t_x = T = 0): the unconditional E[X(t)] of FHL (2005), eq. 9.
        for p in &BG {
            let [r, alpha, a, b] = *p;
            for t in [0.5, 39.0, 78.0] {
                let f = hyp2f1(r, b, a + b - 1.0, t / (alpha + t)).unwrap();
                let want = (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)).powf(r) * f);
                assert_close(expected_purchases(p, 0.0, 0.0, 0.0, t).unwrap(), want, 1e-9);
            }
        }
        // a = 1: the limit, continuous with its neighbours.
        let at = |a: f64| expected_purchases(&[0.5, 3.0, a, 2.0], 3.0, 20.0, 40.0, 26.0).unwrap();
        assert_close(at(1.0), (at(1.0 - 1e-7) + at(1.0 + 1e-7)) / 2.0, 1e-9);
        // Large x and the edges: finite and non-negative.
        for p in [
            [1e-4, 1e-4, 1e-4, 1e-4],
            [1e4, 1e4, 1e4, 1e4],
            [0.25, 4.0, 0.8, 2.5],
        ] {
            let e = expected_purchases(&p, 500.0, 59.0, 60.0, 52.0).unwrap();
            assert!(e.is_finite() && e >= 0.0, "{p:?}: {e}");
        }
        assert_eq!(
            expected_purchases(&cdnow, 2.0, 30.43, 38.86, 0.0),
            Some(0.0)
        );
    }

    #[test]
    fn p_alive_is_one_without_repeat_purchases_and_falls_with_inactivity() {
        let p = [0.243, 4.414, 0.793, 2.426];
        assert_eq!(p_alive(&p, 0.0, 0.0, 30.0), 1.0);
        let recent = p_alive(&p, 3.0, 29.0, 30.0);
        let lapsed = p_alive(&p, 3.0, 2.0, 30.0);
        assert!(recent > lapsed && lapsed > 0.0 && recent < 1.0);
        // The closed form.
        let [r, alpha, a, b] = p;
        let want = 1.0 / (1.0 + a / (b + 2.0) * ((alpha + 30.0) / (alpha + 2.0)).powf(r + 3.0));
        assert_close(lapsed, want, 1e-14);
    }

    #[test]
    fn expected_value_and_clv() {
        let gg = [6.25, 3.74, 15.44];
        // The population mean γp/(q-1) without repeat purchases; shrinks m toward it.
        assert_close(
            expected_value(&gg, 0.0, 0.0).unwrap(),
            15.44 * 6.25 / 2.74,
            1e-15,
        );
        let v = expected_value(&gg, 4.0, 50.0).unwrap();
        assert_close(v, 6.25 * (15.44 + 200.0) / (25.0 + 2.74), 1e-15);
        assert!(v < 50.0 && v > 15.44 * 6.25 / 2.74);
        assert_eq!(expected_value(&[0.1, 0.5, 1.0], 0.0, 0.0), None);

        let bg = [0.243, 4.414, 0.793, 2.426];
        let (x, t_x, big_t, m) = (2.0, 30.43, 38.86, 40.0);
        // No discount: the value times the expected purchases over the whole horizon.
        let plain = clv(&bg, &gg, x, t_x, big_t, m, 12, 4.345, 0.0).unwrap();
        let total = expected_purchases(&bg, x, t_x, big_t, 12.0 * 4.345).unwrap();
        assert_close(plain, expected_value(&gg, x, m).unwrap() * total, 1e-12);
        // Discounting lowers it, period by period.
        let discounted = clv(&bg, &gg, x, t_x, big_t, m, 12, 4.345, 0.01).unwrap();
        let mut want = 0.0;
        let mut before = 0.0;
        for k in 1..=12 {
            let e = expected_purchases(&bg, x, t_x, big_t, f64::from(k) * 4.345).unwrap();
            want += expected_value(&gg, x, m).unwrap() * (e - before) / 1.01f64.powi(k);
            before = e;
        }
        assert_close(discounted, want, 1e-12);
        assert!(discounted < plain);
    }
}
