//! JSON Lines input: cut into segments of whole lines, parsed in parallel; a Parquet part
//! file per segment of items, per `segments_per_file` segments of reviews.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::checks::{self, Evidence};
use super::tables::{RowBuilder, row_builder};
use super::{FileCounts, IngestOptions, OnBadLine};
use crate::error::{Error, Result};
use crate::lake::Table;
use crate::lake::buckets::{self, Bucketed};

/// Rows per Arrow batch and per Parquet row group: small enough that a 200k-review lake
/// still splits into several row groups, so DataFusion scans it in parallel.
const BATCH_ROWS: usize = 64 * 1024;

/// One line that could not be read.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct BadLine {
    pub file: PathBuf,
    pub line: u64,
    pub error: String,
    /// The line as read (lossily decoded if it is not UTF-8), so it can be fixed and re-fed.
    pub raw: String,
}

struct Segment<'m> {
    index: usize,
    bytes: SegmentBytes<'m>,
}

enum SegmentBytes<'m> {
    /// Read into a buffer: the segment is `data[..len]`; the bytes after it are left from
    /// an earlier one.
    Read { data: Vec<u8>, len: usize },
    /// `input.body()[offset..offset + len]`.
    Mapped {
        input: &'m MappedInput,
        offset: usize,
        len: usize,
    },
}

impl Segment<'_> {
    fn bytes(&self) -> &[u8] {
        match &self.bytes {
            SegmentBytes::Read { data, len } => &data[..*len],
            SegmentBytes::Mapped { input, offset, len } => &input.body()[*offset..*offset + *len],
        }
    }
}

/// Where the segments of a JSON Lines input are cut from.
enum Source<'m> {
    Mapped(&'m MappedInput),
    Stream(Box<dyn Read + Send>),
}

#[derive(Default)]
struct SegmentResult {
    lines: u64,
    blank: u64,
    rows: u64,
    wrote_file: bool,
    /// Reviews: the segment's rows, ordered by bucket, for its part file ([`ReviewFiles`]).
    reviews: Option<Bucketed>,
    bad: Vec<BadLine>,
    evidence: Evidence,
}

/// Parsed reviews waiting for the other segments of their part file: segments
/// `k * per_file .. (k + 1) * per_file` make part file `k`, written by the worker that
/// parses the last of them to arrive. Which rows a file holds and in what order depend
/// only on the input, never on the threads.
struct ReviewFiles<'a> {
    dir: &'a Path,
    file_idx: usize,
    per_file: usize,
    /// File number -> its segments' rows as they arrive (None: not yet parsed).
    pending: Mutex<BTreeMap<usize, Vec<Option<Bucketed>>>>,
    written: AtomicU64,
}

impl<'a> ReviewFiles<'a> {
    fn new(dir: &'a Path, file_idx: usize, per_file: usize) -> Self {
        ReviewFiles {
            dir,
            file_idx,
            per_file: per_file.max(1),
            pending: Mutex::new(BTreeMap::new()),
            written: AtomicU64::new(0),
        }
    }

    /// Takes segment `index`'s rows; writes its part file if they were the last it waited for.
    fn add(&self, index: usize, rows: Bucketed) -> Result<()> {
        let file = index / self.per_file;
        let complete = {
            let mut pending = self
                .pending
                .lock()
                .map_err(|_| Error::Internal("an ingest worker panicked".into()))?;
            let slots = pending
                .entry(file)
                .or_insert_with(|| (0..self.per_file).map(|_| None).collect());
            slots[index % self.per_file] = Some(rows);
            if slots.iter().all(Option::is_some) {
                pending.remove(&file)
            } else {
                None
            }
        };
        match complete {
            Some(slots) => self.write(file, slots.into_iter().flatten().collect()),
            None => Ok(()),
        }
    }

    /// Writes the files still waiting: the last one, whose segments the input ended
    /// before. Returns how many part files were written in all.
    fn finish(self) -> Result<u64> {
        let pending = std::mem::take(
            &mut *self
                .pending
                .lock()
                .map_err(|_| Error::Internal("an ingest worker panicked".into()))?,
        );
        for (file, slots) in pending {
            self.write(file, slots.into_iter().flatten().collect())?;
        }
        Ok(self.written.load(Ordering::Relaxed))
    }

    /// Writes part file `file`, unless its segments held no row.
    fn write(&self, file: usize, parts: Vec<Bucketed>) -> Result<()> {
        if parts.iter().all(|p| p.rows.num_rows() == 0) {
            return Ok(());
        }
        write_reviews(&self.path(file), &parts)?;
        self.written.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn path(&self, file: usize) -> PathBuf {
        self.dir
            .join(format!("part-{:03}-{file:05}.parquet", self.file_idx))
    }
}

/// One part file of reviews: every bucket's rows of `parts`, a row group per bucket.
fn write_reviews(path: &Path, parts: &[Bucketed]) -> Result<()> {
    let pq = |e| Error::Parquet {
        path: path.to_path_buf(),
        source: e,
    };
    let mut w = part_writer(path, Table::Reviews)?;
    buckets::write_by_bucket(&mut w, parts, pq)?;
    w.close().map_err(pq)?;
    Ok(())
}

/// A lake part file of `table` at `path`, created, with the lake's writer properties.
pub(crate) fn part_writer(path: &Path, table: Table) -> Result<ArrowWriter<BufWriter<File>>> {
    let f = File::create(path).map_err(|e| Error::io(path, e))?;
    ArrowWriter::try_new(
        BufWriter::with_capacity(1 << 20, f),
        table.schema(),
        Some(writer_properties(table)),
    )
    .map_err(|e| Error::Parquet {
        path: path.to_path_buf(),
        source: e,
    })
}

fn writer_properties(table: Table) -> WriterProperties {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_max_row_group_row_count(Some(BATCH_ROWS));
    for column in plain_columns(table) {
        props = props.set_column_dictionary_enabled((*column).into(), false);
    }
    for column in unsorted_text_columns(table) {
        props = props.set_column_statistics_enabled((*column).into(), EnabledStatistics::None);
    }
    props.build()
}

/// The text columns written without min/max statistics. A row group holds a bucket of
/// customers, whose ids (and their items, and the items' titles) spread over the whole
/// alphabet, so their min and max prune nothing; computing them compared every value
/// twice (3% of the ingest's CPU). The bucket, the time and the numbers keep theirs.
fn unsorted_text_columns(table: Table) -> &'static [&'static str] {
    match table {
        Table::Reviews => &["user_id", "parent_asin", "asin"],
        Table::Items => &["parent_asin", "title"],
    }
}

/// The columns written without a Parquet dictionary: those whose values rarely repeat in
/// a row group. A row group holds a bucket of customers, so an item or a customer repeats
/// in it only a few times, and a review's second or an item's title hardly ever: the
/// dictionary's interning cost ~12% of the ingest's CPU and saved nothing, since zstd finds
/// the repeats as well (10M reviews: ingest 0.5-0.9 s faster, the lake 6% smaller, the
/// cleaning unchanged). Ratings, votes, categories and stores keep their dictionaries.
fn plain_columns(table: Table) -> &'static [&'static str] {
    match table {
        Table::Reviews => &["user_id", "parent_asin", "asin", "ts"],
        Table::Items => &["parent_asin", "title"],
    }
}

/// Counts bytes read from the stored file (before decompression), for progress and totals.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads up to `n` bytes (fewer only at the end of the input), however few each read
/// returns: a pipe may hand them over one at a time.
fn read_head(r: &mut dyn Read, n: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut head)?;
    Ok(head)
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const UTF8_BOM: [u8; 3] = [0xef, 0xbb, 0xbf];

/// Opens a JSON Lines file, decompressing it if it is gzip and dropping a leading UTF-8
/// byte-order mark (Windows tools write one; it is not JSON).
///
/// The file is opened once and its first bytes are sniffed from the stream, never by
/// opening it again: a pipe or FIFO (`--reviews /dev/stdin`, `<(zcat ...)`) can be read
/// only once, and this way it streams like a file.
fn open_decoded(path: &Path, count: Arc<AtomicU64>) -> Result<Box<dyn Read + Send>> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut counted = Counting { inner: f, count };
    let magic = read_head(&mut counted, 4).map_err(|e| Error::io(path, e))?;
    if magic == b"PAR1" {
        // Only a stream gets here: a regular Parquet file was routed to parquet_input.
        return Err(Error::BadInput {
            path: path.to_path_buf(),
            message: "is a Parquet stream, and Parquet cannot be read from a pipe (its \
                      schema is in a footer at the end of the file)"
                .into(),
            hint: "save it to a regular file and pass that path".into(),
        });
    }
    let gzip = magic.starts_with(&GZIP_MAGIC);
    let raw = io::Cursor::new(magic).chain(counted);
    let mut decoded: Box<dyn Read + Send> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(
            io::BufReader::with_capacity(1 << 20, raw),
        ))
    } else {
        Box::new(raw)
    };
    let head = read_head(&mut decoded, UTF8_BOM.len()).map_err(|e| Error::BadInput {
        path: path.to_path_buf(),
        message: format!("could not be read: {e}"),
        hint: "check that the file is complete (a .gz must not be truncated)".into(),
    })?;
    let head = if head == UTF8_BOM { Vec::new() } else { head };
    Ok(Box::new(io::Cursor::new(head).chain(decoded)))
}

pub(crate) fn ingest_jsonl(
    table: Table,
    path: &Path,
    file_idx: usize,
    dir: &Path,
    opts: &IngestOptions,
    quarantine: &mut Vec<BadLine>,
) -> Result<FileCounts> {
    // A pipe has no length: the progress bar then shows bytes read without a total.
    let meta = fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let total_bytes = meta.is_file().then_some(meta.len());
    let bytes_read = Arc::new(AtomicU64::new(0));
    let rows_done = Arc::new(AtomicU64::new(0));
    let mapped = MappedInput::open(path, &meta);
    let mut source = match &mapped {
        Some(m) => Source::Mapped(m),
        None => Source::Stream(open_decoded(path, bytes_read.clone())?),
    };
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        opts.threads
    };
    // Segments after the first failing one are not worth reading (fail mode only).
    let stop_after = AtomicUsize::new(usize::MAX);
    let progress = progress_bar(opts.progress, total_bytes, table, path);

    let (tx, rx) = mpsc::sync_channel::<Segment>(threads);
    let rx = Mutex::new(rx);
    // Parsed segments' buffers go back to the reader: a fresh 64 MB buffer per segment
    // was a page fault per 4 KB of input (1.6M faults for 10M reviews, a tenth of the
    // ingest's CPU time).
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    let results: Mutex<Vec<(usize, Result<SegmentResult>)>> = Mutex::new(Vec::new());
    let review_files = ReviewFiles::new(dir, file_idx, opts.segments_per_file);

    let read_result = std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let next = rx.lock().map(|r| r.recv());
                    let Ok(Ok(seg)) = next else { break };
                    if seg.index > stop_after.load(Ordering::Relaxed) {
                        continue;
                    }
                    let index = seg.index;
                    let mut res = parse_segment(table, path, file_idx, dir, &seg, opts, &rows_done);
                    match seg.bytes {
                        SegmentBytes::Read { data, .. } => {
                            let _ = free_tx.send(data);
                        }
                        SegmentBytes::Mapped { input, offset, len } => input.done(offset, len),
                    }
                    if let Ok(r) = &mut res
                        && let Some(rows) = r.reviews.take()
                        && let Err(e) = review_files.add(index, rows)
                    {
                        res = Err(e);
                    }
                    if opts.on_bad_line == OnBadLine::Fail
                        && matches!(&res, Ok(r) if !r.bad.is_empty())
                    {
                        stop_after.fetch_min(index, Ordering::Relaxed);
                    }
                    if let Ok(mut all) = results.lock() {
                        all.push((index, res));
                    }
                }
            });
        }
        let tick = || {
            if let Some(pb) = &progress {
                pb.set_position(bytes_read.load(Ordering::Relaxed));
                pb.set_message(format!(
                    "{}: {} rows",
                    table.dir_name(),
                    rows_done.load(Ordering::Relaxed)
                ));
            }
        };
        let r = match &mut source {
            Source::Mapped(m) => {
                cut_mapped(m, opts.segment_bytes, &tx, &stop_after, &bytes_read, tick);
                Ok(())
            }
            Source::Stream(reader) => read_segments(
                reader.as_mut(),
                opts.segment_bytes,
                &tx,
                &free_rx,
                &stop_after,
                tick,
            ),
        };
        drop(tx);
        r
    });
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    read_result.map_err(|e| Error::BadInput {
        path: path.to_path_buf(),
        message: format!("could not be read: {e}"),
        hint: "check that the file is complete (a .gz must not be truncated)".into(),
    })?;

    let mut all = results
        .into_inner()
        .map_err(|_| Error::Internal("an ingest worker panicked".into()))?;
    all.sort_by_key(|(i, _)| *i);
    let mut counts = FileCounts {
        bytes: bytes_read.load(Ordering::Relaxed),
        ..FileCounts::default()
    };
    let mut evidence = Evidence::default();
    for (_, res) in all {
        let mut r = res?;
        // A segment numbers its lines from 1; the segments before it (all present, in
        // order) hold `counts.lines`.
        let before = counts.lines;
        for b in &mut r.bad {
            b.line += before;
        }
        r.evidence.lines_after(before);
        if opts.on_bad_line == OnBadLine::Fail && !r.bad.is_empty() {
            return Err(bad_line_error(r.bad.swap_remove(0)));
        }
        counts.lines += r.lines;
        counts.blank_lines += r.blank;
        counts.rows += r.rows;
        counts.parquet_files += u64::from(r.wrote_file);
        // Segments are in file order, so the quarantine is in line order.
        quarantine.extend(r.bad);
        evidence.merge(&r.evidence);
    }
    if let Some(e) = checks::check_jsonl(table, path, &evidence) {
        return Err(e);
    }
    counts.parquet_files += review_files.finish()?;
    counts.bad_lines = counts.lines - counts.rows - counts.blank_lines;
    Ok(counts)
}

fn bad_line_error(b: BadLine) -> Error {
    Error::BadLine {
        path: b.file,
        line: b.line,
        message: b.error,
        hint: "fix the line, or re-run with --on-bad-line skip (count and drop bad lines) or \
               --on-bad-line quarantine (keep them aside in <lake>/quarantine/)"
            .into(),
    }
}

/// The bytes after which a segment ends at the next newline: `requested`, but at least
/// 64 KiB. Streamed and mapped input cut by it alike, so both give the same lake.
fn segment_size(requested: usize) -> usize {
    requested.max(1 << 16)
}

/// Reads whole-line segments and sends them on. A segment ends at the first newline at or
/// after `segment_bytes`, a position that depends only on the decompressed content, never
/// on how many bytes each read returned; so plain and gzip input cut identically.
fn read_segments(
    reader: &mut dyn Read,
    segment_bytes: usize,
    tx: &mpsc::SyncSender<Segment<'_>>,
    free: &mpsc::Receiver<Vec<u8>>,
    stop_after: &AtomicUsize,
    mut tick: impl FnMut(),
) -> io::Result<()> {
    let segment_bytes = segment_size(segment_bytes);
    const READ: usize = 1 << 20;
    let mut carry: Vec<u8> = Vec::new();
    let mut index = 0usize;
    let mut eof = false;
    while !(eof && carry.is_empty()) {
        // A parsed segment's buffer comes back whole, every byte of it written before, so
        // reading into it needs no zeroing first: zero-filling each 1 MB before its read
        // was 2.4% of the ingest's CPU. Only a new buffer's bytes are zeroed, once.
        let mut data = free
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(segment_bytes + READ));
        if data.len() < carry.len() {
            data.resize(carry.len(), 0);
        }
        data[..carry.len()].copy_from_slice(&carry);
        let mut len = carry.len();
        carry.clear();
        let mut scanned = segment_bytes - 1;
        let cut = loop {
            if len > scanned {
                if let Some(nl) = memchr::memchr(b'\n', &data[scanned..len]) {
                    break Some(scanned + nl + 1);
                }
                scanned = len;
            }
            if eof {
                break None;
            }
            if data.len() < len + READ {
                data.resize(len + READ, 0);
            }
            let n = loop {
                match reader.read(&mut data[len..len + READ]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r?,
                }
            };
            len += n;
            tick();
            eof = n == 0;
        };
        if let Some(cut) = cut {
            carry.extend_from_slice(&data[cut..len]);
            len = cut;
        }
        if len == 0 {
            break;
        }
        if index > stop_after.load(Ordering::Relaxed) {
            break;
        }
        let seg = Segment {
            index,
            bytes: SegmentBytes::Read { data, len },
        };
        if tx.send(seg).is_err() {
            break;
        }
        index += 1;
    }
    Ok(())
}

/// A plain JSON Lines file read through a memory map: the parsers read its pages where
/// the kernel keeps them, instead of a reader thread copying every byte into a buffer
/// first (read(2)'s copy was 7-11% of the ingest's CPU). Gzip input, pipes and empty files
/// are read as streams.
struct MappedInput {
    map: memmap2::Mmap,
    /// Where the JSON starts: after a UTF-8 byte-order mark, if there is one.
    start: usize,
}

impl MappedInput {
    /// The file mapped, or None when it is to be read as a stream (not a regular file,
    /// empty, gzip, Parquet, or the map failed).
    fn open(path: &Path, meta: &fs::Metadata) -> Option<MappedInput> {
        if !meta.is_file() || meta.len() == 0 {
            return None;
        }
        let file = File::open(path).ok()?;
        // SAFETY: the map is read-only and no one else holds it. A file truncated by
        // another process while it is read would fault (SIGBUS), as in every reader of
        // mapped files (ripgrep maps its inputs the same way); modified bytes are read as
        // they are, which the parser treats as any other input.
        let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
        if map.starts_with(&GZIP_MAGIC) || map.starts_with(b"PAR1") {
            return None;
        }
        let _ = map.advise(memmap2::Advice::Sequential);
        let start = if map.starts_with(&UTF8_BOM) {
            UTF8_BOM.len()
        } else {
            0
        };
        Some(MappedInput { map, start })
    }

    fn body(&self) -> &[u8] {
        &self.map[self.start..]
    }

    /// Lets go of a parsed segment's pages (`offset` within [`MappedInput::body`]): they
    /// stay in the page cache, but no longer count in this process's memory, which
    /// otherwise grew by the whole file.
    #[cfg(unix)]
    fn done(&self, offset: usize, len: usize) {
        let at = self.start + offset;
        // Whole pages only (the map starts on a page): a page shared with the next
        // segment is kept. With larger pages than these the call fails and changes nothing.
        let page = 4096;
        let from = at.div_ceil(page) * page;
        let to = (at + len) / page * page;
        if to > from {
            // SAFETY: DONTNEED on a read-only shared file mapping only drops this
            // process's page-table entries; a later read of the range faults the file's
            // pages back in. No reference into the range outlives the parse of its segment.
            let _ = unsafe {
                self.map
                    .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from)
            };
        }
    }

    #[cfg(not(unix))]
    fn done(&self, _offset: usize, _len: usize) {}
}

/// Cuts a mapped file into segments where [`read_segments`] cuts a stream: at the first
/// newline at or after `segment_bytes`, so both give the same segments and the same lake.
fn cut_mapped<'m>(
    input: &'m MappedInput,
    segment_bytes: usize,
    tx: &mpsc::SyncSender<Segment<'m>>,
    stop_after: &AtomicUsize,
    bytes_read: &AtomicU64,
    mut tick: impl FnMut(),
) {
    let segment_bytes = segment_size(segment_bytes);
    let body = input.body();
    let mut start = 0;
    let mut index = 0;
    while start < body.len() {
        if index > stop_after.load(Ordering::Relaxed) {
            break;
        }
        let from = (start + segment_bytes - 1).min(body.len());
        let end = memchr::memchr(b'\n', &body[from..]).map_or(body.len(), |nl| from + nl + 1);
        let seg = Segment {
            index,
            bytes: SegmentBytes::Mapped {
                input,
                offset: start,
                len: end - start,
            },
        };
        if tx.send(seg).is_err() {
            break;
        }
        bytes_read.store((input.start + end) as u64, Ordering::Relaxed);
        tick();
        start = end;
        index += 1;
    }
}

fn parse_segment(
    table: Table,
    path: &Path,
    file_idx: usize,
    dir: &Path,
    seg: &Segment<'_>,
    opts: &IngestOptions,
    rows_done: &AtomicU64,
) -> Result<SegmentResult> {
    let mut res = SegmentResult::default();
    let mut builder: Box<dyn RowBuilder> = row_builder(table);
    let out_path = dir.join(format!("part-{file_idx:03}-{:05}.parquet", seg.index));
    let mut writer: Option<ArrowWriter<BufWriter<File>>> = None;
    // Numbered within the segment: the reader does not count lines (a pass over every
    // byte); `ingest_jsonl` adds the lines of the segments before.
    let mut line_no = 1u64;
    let mut rest = seg.bytes();
    while !rest.is_empty() {
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        res.lines += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            res.blank += 1;
        } else if let Err(error) = builder.push_line(line, line_no) {
            let bad = BadLine {
                file: path.to_path_buf(),
                line: line_no,
                error,
                raw: String::from_utf8_lossy(&line[..line.len().min(1 << 16)]).into_owned(),
            };
            match opts.on_bad_line {
                OnBadLine::Fail => {
                    res.bad.push(bad);
                    if let Some(w) = writer.take() {
                        drop(w);
                        let _ = fs::remove_file(&out_path);
                    }
                    return Ok(res);
                }
                OnBadLine::Skip => {}
                OnBadLine::Quarantine => res.bad.push(bad),
            }
        }
        line_no += 1;
        // Reviews are written with the other segments of their part file (`ReviewFiles`).
        if table != Table::Reviews && builder.len() >= BATCH_ROWS {
            flush(&mut builder, &mut writer, &out_path, rows_done, &mut res)?;
        }
    }
    if table == Table::Reviews {
        // Even a segment of no rows (all blank or bad lines) is handed on, so its file
        // does not wait for the end of the input.
        let rows = builder.finish();
        res.rows += rows.num_rows() as u64;
        rows_done.fetch_add(rows.num_rows() as u64, Ordering::Relaxed);
        res.reviews = Some(buckets::by_bucket(&rows)?);
        res.evidence = builder.take_evidence();
        return Ok(res);
    }
    flush(&mut builder, &mut writer, &out_path, rows_done, &mut res)?;
    if let Some(w) = writer {
        w.close().map_err(|e| Error::Parquet {
            path: out_path.clone(),
            source: e,
        })?;
        res.wrote_file = true;
    }
    res.evidence = builder.take_evidence();
    Ok(res)
}

/// Writes the items parsed so far to the segment's part file (opened on first use).
fn flush(
    builder: &mut Box<dyn RowBuilder>,
    writer: &mut Option<ArrowWriter<BufWriter<File>>>,
    out_path: &Path,
    rows_done: &AtomicU64,
    res: &mut SegmentResult,
) -> Result<()> {
    if builder.len() == 0 {
        return Ok(());
    }
    let batch = builder.finish();
    let pq = |e| Error::Parquet {
        path: out_path.to_path_buf(),
        source: e,
    };
    if writer.is_none() {
        *writer = Some(part_writer(out_path, Table::Items)?);
    }
    if let Some(w) = writer.as_mut() {
        w.write(&batch).map_err(pq)?;
    }
    res.rows += batch.num_rows() as u64;
    rows_done.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
    Ok(())
}

/// Writes `<lake>/quarantine/<table>.jsonl`: one JSON object per bad line.
pub(crate) fn write_quarantine(dir: &Path, table: Table, bad: &[BadLine]) -> Result<()> {
    write_quarantine_named(dir, table.dir_name(), bad)
}

/// Writes the bad lines of the table `name` to `<dir>/<name>.jsonl`.
pub(crate) fn write_quarantine_named(dir: &Path, name: &str, bad: &[BadLine]) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(format!("{name}.jsonl"));
    let f = File::create(&path).map_err(|e| Error::io(&path, e))?;
    let mut w = BufWriter::new(f);
    for b in bad {
        serde_json::to_writer(&mut w, b).map_err(|e| Error::Internal(e.to_string()))?;
        w.write_all(b"\n").map_err(|e| Error::io(&path, e))?;
    }
    w.flush().map_err(|e| Error::io(&path, e))
}

fn progress_bar(
    enabled: bool,
    total: Option<u64>,
    table: Table,
    path: &Path,
) -> Option<indicatif::ProgressBar> {
    if !enabled {
        return None;
    }
    let pb =
        indicatif::ProgressBar::with_draw_target(total, indicatif::ProgressDrawTarget::stderr());
    let template = if total.is_some() {
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "{msg} {bytes} {bytes_per_sec}"
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(format!("{}: {}", table.dir_name(), path.display()));
    Some(pb)
}
