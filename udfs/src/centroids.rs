//! The centroid text format and the nearest-centre rule.
//!
//! Functions reach Ballista executors by name only, so centroids travel inside the SQL as a
//! string literal; [`format_centroids`] writes it so that [`parse_centroids`] reads back the
//! same bits. [`nearest`] is the one assignment rule of every k-means function and of the
//! driver in `crates/rfmseg`, which re-uses these helpers to do exactly the same arithmetic
//! as the SQL functions.

/// Parses the `centroids` text: k*d comma-separated f64 values, row-major (centre 0's d
/// values, then centre 1's, ...). Spaces around values are allowed. Errors (without the
/// function name, which the caller adds): an empty list (k = 0), a length not a multiple
/// of `d`, a value that is not a finite number.
pub fn parse_centroids(text: &str, d: usize) -> Result<Vec<f64>, String> {
    let values = parse_f64_list("centroids", text)?;
    if d == 0 {
        return Err("d = 0: at least one feature column is needed".to_string());
    }
    if values.is_empty() {
        return Err("centroids is empty (k = 0); at least one centre is needed".to_string());
    }
    if !values.len().is_multiple_of(d) {
        return Err(format!(
            "centroids has {} values, not a multiple of d = {d}",
            values.len()
        ));
    }
    Ok(values)
}

/// A comma-separated list of finite f64 (`what` names it in errors). An empty or
/// all-blank text is the empty list.
pub(crate) fn parse_f64_list(what: &str, text: &str) -> Result<Vec<f64>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .enumerate()
        .map(|(i, raw)| {
            let s = raw.trim();
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                Ok(v) => Err(format!("{what} value {i} is {v}, not a finite number")),
                Err(_) => Err(format!("{what} value {i} ({s:?}) is not a number")),
            }
        })
        .collect()
}

/// The `centroids` text for a flat row-major list of values: each written with `{:?}`,
/// which round-trips exactly through [`parse_centroids`], joined with commas.
pub fn format_centroids(values: &[f64]) -> String {
    let mut out = String::with_capacity(values.len() * 20);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("{v:?}"));
    }
    out
}

/// The centre nearest to `x` and its squared Euclidean distance. `centroids` is k*d
/// values row-major and `x` has d values. The distance is `Σ_j (x_j − c_j)²` summed in f64
/// in the order j = 0..d (no fused multiply-add, so the same bits on every machine); ties
/// go to the lowest index. With d = 0 or no centre, `(0, +inf)`. A NaN distance never
/// wins, so a NaN in `x` gives `(0, +inf)`.
#[inline(always)]
pub fn nearest(centroids: &[f64], d: usize, x: &[f64]) -> (usize, f64) {
    let mut best = 0;
    let mut best_dist = f64::INFINITY;
    if d == 0 {
        return (best, best_dist);
    }
    for (c, centre) in centroids.chunks_exact(d).enumerate() {
        let mut dist = 0.0;
        for (a, b) in x.iter().zip(centre) {
            let t = a - b;
            dist += t * t;
        }
        if dist < best_dist {
            best_dist = dist;
            best = c;
        }
    }
    (best, best_dist)
}

/// [`nearest`] for L rows side by side, given column-wise (`xs[j][l]` is feature j of
/// row l): the same distances, bit for bit (the same operations in the same order), and
/// the same winners (strictly smaller wins, so ties go to the lowest index and NaN never
/// wins). The choice is a bit mask, not a branch: on mixed data a branch per row and
/// centre mispredicts about as often as not.
#[inline(always)]
pub(crate) fn nearest_lanes<const D: usize, const L: usize>(
    centroids: &[f64],
    xs: &[[f64; L]; D],
) -> ([usize; L], [f64; L]) {
    // The index is kept as f64 (exact below 2^53): selected with the same f64 mask as the
    // distance, it stays in vector registers; as u64 the compiler moved each lane out to
    // a general register and back.
    let mut best = [0.0f64; L];
    let mut best_dist = [f64::INFINITY; L];
    for (c, centre) in centroids.chunks_exact(D).enumerate() {
        let centre: [f64; D] = std::array::from_fn(|j| centre[j]);
        let index = c as f64;
        let mut dist = [0.0; L];
        for (j, xj) in xs.iter().enumerate() {
            for (s, x) in dist.iter_mut().zip(xj) {
                let t = x - centre[j];
                *s += t * t;
            }
        }
        for l in 0..L {
            let closer = u64::from(dist[l] < best_dist[l]).wrapping_neg();
            best_dist[l] =
                f64::from_bits((best_dist[l].to_bits() & !closer) | (dist[l].to_bits() & closer));
            best[l] = f64::from_bits((best[l].to_bits() & !closer) | (index.to_bits() & closer));
        }
    }
    (std::array::from_fn(|l| best[l] as usize), best_dist)
}

/// `||x||²` summed in f64 in the order j = 0..d.
#[inline(always)]
pub(crate) fn squared_norm(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for v in x {
        s += v * v;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centroids_round_trip_exactly() {
        let values = [
            0.5,
            -1.25,
            3.0,
            1e-7,
            2.0,
            0.0,
            0.1 + 0.2,
            f64::MIN_POSITIVE,
            -1e300,
        ];
        let text = format_centroids(&values);
        let back = parse_centroids(&text, 3).expect("parses");
        assert_eq!(
            back.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(format_centroids(&[0.5, -1.25, 3.0]), "0.5,-1.25,3.0");
    }

    #[test]
    fn bad_centroid_texts_are_errors() {
        assert_eq!(
            parse_centroids("1,2,3,4,5,6,7", 3).unwrap_err(),
            "centroids has 7 values, not a multiple of d = 3"
        );
        assert!(parse_centroids("", 3).unwrap_err().contains("k = 0"));
        assert!(parse_centroids("1,x,3", 3).unwrap_err().contains("\"x\""));
        assert!(
            parse_centroids("1,NaN,3", 3)
                .unwrap_err()
                .contains("finite")
        );
        assert!(parse_centroids("1,,3", 3).is_err());
        assert_eq!(parse_centroids(" 1, 2 ,3 ", 3), Ok(vec![1.0, 2.0, 3.0]));
    }

    #[test]
    fn nearest_breaks_ties_by_lowest_index() {
        // x = 0 is at squared distance 1 from both centres 1 and 2.
        let c = [5.0, 5.0, 1.0, 0.0, 0.0, 1.0];
        assert_eq!(nearest(&c, 2, &[0.0, 0.0]), (1, 1.0));
        assert_eq!(nearest(&c, 2, &[5.0, 4.0]), (0, 1.0));
        assert_eq!(nearest(&c, 2, &[f64::NAN, 0.0]), (0, f64::INFINITY));
    }
}
