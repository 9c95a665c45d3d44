//! Parallel generation with ordered, single-threaded writing, and gzip made in parallel.
//!
//! Workers generate blocks `w, w + W, w + 2W, ...` into bounded channels; the writer takes
//! block 0 from worker 0, block 1 from worker 1, and so on, so the output order (and bytes)
//! never depend on the number of workers, and memory is bounded by the channel depth.
//!
//! Gzip is done pigz-style: each worker deflates its own block as a raw deflate stream ended
//! by a sync flush (byte-aligned, not final), with the block's CRC-32. Concatenated, these
//! streams form one valid deflate stream; the writer adds the gzip header, a final empty
//! block and the trailer (CRC-32 combined over blocks, length mod 2^32). The result is a
//! single-member `.gz` that any gzip reader accepts, compressed on every core.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;

use flate2::{Compress, Compression, Crc, FlushCompress};

use crate::error::{Error, Result};

/// Blocks each worker may have finished but not yet handed to the writer.
const CHANNEL_DEPTH: usize = 2;

/// Runs `generate(b)` for b = 0, 1, ... on `workers` threads and `consume`s the results in
/// block order on the calling thread. Stops after `blocks` blocks (if given) or when
/// `consume` returns `Ok(false)`; an error from `consume` stops everything and is returned.
pub(crate) fn ordered_parallel<T, G, C>(
    workers: usize,
    blocks: Option<u64>,
    generate: G,
    mut consume: C,
) -> Result<()>
where
    T: Send,
    G: Fn(u64) -> T + Sync,
    C: FnMut(T) -> Result<bool>,
{
    let workers = workers.max(1);
    std::thread::scope(|s| {
        let mut receivers = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx) = sync_channel::<T>(CHANNEL_DEPTH);
            receivers.push(rx);
            let generate = &generate;
            s.spawn(move || {
                let mut b = w as u64;
                while blocks.is_none_or(|n| b < n) {
                    // A send fails once the writer has stopped: nothing more is wanted.
                    if tx.send(generate(b)).is_err() {
                        break;
                    }
                    b += workers as u64;
                }
            });
        }
        let mut b = 0u64;
        let result = loop {
            if blocks.is_some_and(|n| b >= n) {
                break Ok(());
            }
            let Ok(block) = receivers[(b % workers as u64) as usize].recv() else {
                break Err(Error::Internal(format!(
                    "generator worker stopped before block {b}"
                )));
            };
            match consume(block) {
                Ok(true) => b += 1,
                Ok(false) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        // Dropping the receivers wakes any worker blocked on a full channel.
        drop(receivers);
        result
    })
}

/// A block deflated on a worker: raw deflate ending in a sync flush, and its CRC-32.
pub(crate) struct GzPart {
    data: Vec<u8>,
    crc: Crc,
    len: u64,
}

/// Deflates `raw` as an independent, non-final, byte-aligned piece of a deflate stream.
pub(crate) fn deflate_part(raw: &[u8]) -> Result<GzPart> {
    let mut c = Compress::new(Compression::fast(), false);
    let mut data = Vec::with_capacity(raw.len() / 3 + 4096);
    loop {
        if data.capacity() - data.len() < 1024 {
            data.reserve(data.capacity().max(4096));
        }
        let consumed = c.total_in() as usize;
        c.compress_vec(&raw[consumed..], &mut data, FlushCompress::Sync)
            .map_err(|e| Error::Internal(format!("deflate failed: {e}")))?;
        // The flush is complete once all input is in and the output was not filled up.
        if c.total_in() as usize == raw.len() && data.len() < data.capacity() {
            break;
        }
    }
    let mut crc = Crc::new();
    crc.update(raw);
    Ok(GzPart {
        data,
        crc,
        len: raw.len() as u64,
    })
}

/// An output file, plain or gzip.
pub(crate) struct Sink {
    path: PathBuf,
    w: BufWriter<File>,
    /// For gzip: the CRC-32 and length of everything written so far.
    gz: Option<(Crc, u64)>,
}

/// gzip header: magic, deflate, no flags, mtime 0 (so output is reproducible), XFL 4
/// (fastest), OS 255 (unknown).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];
/// A final, empty, fixed-Huffman deflate block: ends the stream after the sync flushes.
const DEFLATE_FINAL_EMPTY_BLOCK: [u8; 2] = [0x03, 0x00];

impl Sink {
    pub(crate) fn create(path: &Path, gzip: bool) -> Result<Sink> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut sink = Sink {
            path: path.to_path_buf(),
            w: BufWriter::with_capacity(1 << 20, file),
            gz: gzip.then(|| (Crc::new(), 0)),
        };
        if gzip {
            sink.put(&GZIP_HEADER)?;
        }
        Ok(sink)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.w
            .write_all(bytes)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Writes `raw`; `part`, if given, must be `deflate_part(raw)` (made on a worker).
    pub(crate) fn write(&mut self, raw: &[u8], part: Option<&GzPart>) -> Result<()> {
        if self.gz.is_none() {
            return self.put(raw);
        }
        let owned;
        let part = match part {
            Some(p) if p.len == raw.len() as u64 => p,
            _ => {
                owned = deflate_part(raw)?;
                &owned
            }
        };
        self.put(&part.data)?;
        if let Some((crc, len)) = &mut self.gz {
            crc.combine(&part.crc);
            *len += part.len;
        }
        Ok(())
    }

    /// Ends the gzip stream if any and flushes the file.
    pub(crate) fn finish(mut self) -> Result<()> {
        if let Some((crc, len)) = self.gz.take() {
            self.put(&DEFLATE_FINAL_EMPTY_BLOCK)?;
            self.put(&crc.sum().to_le_bytes())?;
            // ISIZE is the length modulo 2^32, as RFC 1952 says.
            self.put(&(len as u32).to_le_bytes())?;
        }
        self.w.flush().map_err(|e| Error::io(&self.path, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn ordered_parallel_consumes_in_block_order_whatever_the_workers() {
        for workers in [1, 2, 3, 5] {
            let mut seen = Vec::new();
            ordered_parallel(
                workers,
                Some(17),
                |b| b * 10,
                |x| {
                    seen.push(x);
                    Ok(true)
                },
            )
            .unwrap();
            assert_eq!(seen, (0..17).map(|b| b * 10).collect::<Vec<_>>());
        }
    }

    #[test]
    fn ordered_parallel_stops_an_endless_run_when_the_consumer_is_done() {
        let mut n = 0;
        ordered_parallel(
            2,
            None,
            |b| b,
            |_| {
                n += 1;
                Ok(n < 9)
            },
        )
        .unwrap();
        assert_eq!(n, 9);
    }

    #[test]
    fn concatenated_parts_are_one_gzip_member() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.gz");
        let pieces: Vec<Vec<u8>> = (0..5)
            .map(|k| format!("line {k} ").repeat(1000 * k + 1).into_bytes())
            .collect();
        let mut sink = Sink::create(&path, true).unwrap();
        for (k, p) in pieces.iter().enumerate() {
            // Half precompressed, half compressed by the writer.
            let part = deflate_part(p).unwrap();
            sink.write(p, (k % 2 == 0).then_some(&part)).unwrap();
        }
        sink.finish().unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(File::open(&path).unwrap())
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, pieces.concat());
    }
}
