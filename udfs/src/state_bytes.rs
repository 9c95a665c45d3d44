//! The byte encoding of the UDAF states that travel between the partial and the final
//! aggregation (and between Ballista executors): little-endian integers in Arrow `Binary`.

/// Appends `values` as little-endian bytes.
pub(crate) fn put_i128s(out: &mut Vec<u8>, values: &[i128]) {
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Appends `values` as little-endian bytes.
pub(crate) fn put_i64s(out: &mut Vec<u8>, values: &[i64]) {
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// Adds the little-endian `i128`s in `bytes` to `target` (same length), failing on
/// overflow (only a corrupt state can overflow).
pub(crate) fn add_i128s(target: &mut [i128], bytes: &[u8]) -> Option<()> {
    if bytes.len() != target.len() * 16 {
        return None;
    }
    for (t, chunk) in target.iter_mut().zip(bytes.chunks_exact(16)) {
        let v = i128::from_le_bytes(chunk.try_into().ok()?);
        *t = t.checked_add(v)?;
    }
    Some(())
}

/// Adds the little-endian `i64`s in `bytes` to `target` (same length), failing on overflow.
pub(crate) fn add_i64s(target: &mut [i64], bytes: &[u8]) -> Option<()> {
    if bytes.len() != target.len() * 8 {
        return None;
    }
    for (t, chunk) in target.iter_mut().zip(bytes.chunks_exact(8)) {
        let v = i64::from_le_bytes(chunk.try_into().ok()?);
        *t = t.checked_add(v)?;
    }
    Some(())
}
