//! The byte encoding of the UDAF states that travel between the partial and the final
//! aggregation (and between Ballista executors, possibly of different builds).
//!
//! Every k-means UDAF has one state field, an Arrow `Binary` holding its
//! [`ExactSums`](crate::exact_sum::ExactSums), little-endian:
//!
//! | bytes | meaning |
//! |---|---|
//! | 0 | format version, [`STATE_VERSION`] |
//! | 1..5 | n_sums, `u32` |
//! | 5..9 | n_counts, `u32` |
//! | 9..9+16·n_sums | the exact sums, `i128` in units of 2^-40 |
//! | then 8·n_counts | the counts, `i64` |
//!
//! The version comes first so that a final aggregation never adds bytes it would read
//! differently from the partial one that wrote them: a state of another version is an error
//! saying so. n_sums = n_counts = 0 is the state of an accumulator that has not learned its
//! shape; a zero-length binary is accepted as that empty state too.

use datafusion::common::{Result, exec_err};

/// The format version of the states: bump it whenever the layout above changes.
pub(crate) const STATE_VERSION: u8 = 1;

/// Version byte and the two lengths.
const HEADER: usize = 1 + 4 + 4;

/// The state bytes of `sums` and `counts`.
pub(crate) fn encode(sums: &[i128], counts: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + sums.len() * 16 + counts.len() * 8);
    out.push(STATE_VERSION);
    out.extend_from_slice(&length(sums.len()).to_le_bytes());
    out.extend_from_slice(&length(counts.len()).to_le_bytes());
    for v in sums {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for v in counts {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// A length as the `u32` of the header (a state of 2^32 sums would be 64 GiB).
fn length(n: usize) -> u32 {
    u32::try_from(n).expect("a state of fewer than 2^32 values")
}

/// A decoded state, borrowing the bytes it was read from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decoded<'a> {
    sums: &'a [u8],
    counts: &'a [u8],
}

impl<'a> Decoded<'a> {
    pub fn n_sums(&self) -> usize {
        self.sums.len() / 16
    }

    pub fn n_counts(&self) -> usize {
        self.counts.len() / 8
    }

    /// The exact sums, in order.
    pub fn sums(&self) -> impl Iterator<Item = i128> + 'a {
        self.sums
            .chunks_exact(16)
            .map(|c| i128::from_le_bytes(c.try_into().expect("16 bytes")))
    }

    /// The counts, in order.
    pub fn counts(&self) -> impl Iterator<Item = i64> + 'a {
        self.counts
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
    }
}

/// Reads the bytes [`encode`] wrote; `None` for a zero-length binary. Errors (naming
/// `func`): another format version, a header that does not match the length.
pub(crate) fn decode<'a>(func: &str, bytes: &'a [u8]) -> Result<Option<Decoded<'a>>> {
    let Some(&version) = bytes.first() else {
        return Ok(None);
    };
    if version != STATE_VERSION {
        return exec_err!(
            "{func}: a partial aggregation state has format version {version}, this rfmseg \
             reads version {STATE_VERSION}; the partial and final aggregations must run the \
             same rfmseg version"
        );
    }
    let malformed = || {
        exec_err!(
            "{func}: malformed state of {} bytes (format version {STATE_VERSION})",
            bytes.len()
        )
    };
    let Some(header) = bytes.get(1..HEADER) else {
        return malformed();
    };
    let n = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize;
    let (n_sums, n_counts) = (n(&header[..4]), n(&header[4..]));
    let body = &bytes[HEADER..];
    if body.len() as u128 != n_sums as u128 * 16 + n_counts as u128 * 8 {
        return malformed();
    }
    let (sums, counts) = body.split_at(n_sums * 16);
    Ok(Some(Decoded { sums, counts }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_carry_their_version_first() -> Result<()> {
        let sums = [1i128 << 100, -3, 0];
        let counts = [7i64, -1];
        let bytes = encode(&sums, &counts);
        assert_eq!(bytes[0], STATE_VERSION);
        assert_eq!(bytes.len(), HEADER + 3 * 16 + 2 * 8);
        let state = decode("f", &bytes)?.expect("non-empty");
        assert_eq!((state.n_sums(), state.n_counts()), (3, 2));
        assert_eq!(state.sums().collect::<Vec<_>>(), sums);
        assert_eq!(state.counts().collect::<Vec<_>>(), counts);
        // The empty state: a header of zeros, or no bytes at all.
        let empty = encode(&[], &[]);
        assert_eq!(empty, [STATE_VERSION, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(decode("f", &empty)?.map(|s| s.n_sums()), Some(0));
        assert!(decode("f", &[])?.is_none());
        Ok(())
    }

    #[test]
    fn another_version_or_a_bad_length_is_an_error() {
        let mut bytes = encode(&[5], &[1]);
        bytes[0] = STATE_VERSION + 1;
        let err = decode("kmeans_cost", &bytes).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "kmeans_cost: a partial aggregation state has format version {}, this rfmseg \
                 reads version {STATE_VERSION}",
                STATE_VERSION + 1
            )),
            "{err}"
        );
        let mut bytes = encode(&[5], &[1]);
        bytes.pop();
        let err = decode("kmeans_cost", &bytes).unwrap_err().to_string();
        assert!(
            err.contains("kmeans_cost: malformed state of 32 bytes"),
            "{err}"
        );
        let err = decode("kmeans_cost", &[STATE_VERSION, 1]).unwrap_err();
        assert!(
            err.to_string().contains("malformed state of 2 bytes"),
            "{err}"
        );
    }
}
