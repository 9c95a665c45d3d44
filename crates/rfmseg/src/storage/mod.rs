//! The one safe output writer: every command that writes (`run`, `score`, `features`,
//! `ingest`, `generate`, `demo`, `sql --out`, `clean --quality-json`) goes through it.
//!
//! Three promises, each a lesson from a user losing data:
//! - **It only replaces what rfmseg made.** A folder output carries a marker file naming
//!   what kind of output it is; an existing folder without the marker (or with another
//!   kind's marker), a regular file, or a symbolic link at the path is refused and left
//!   untouched. A single-file output never replaces anything.
//! - **A kill at any instant leaves the complete old output or the complete new one.** The
//!   new folder is built under a temporary name beside the destination (same filesystem),
//!   every file and folder in it is fsynced, and then it is swapped with the old one in one
//!   step (`renameat2(RENAME_EXCHANGE)` on Linux). Only then is the old one deleted.
//! - **Temporary names are unique per run** (process id, clock and a counter, not the
//!   process id alone: in containers the pid repeats), created with `create_dir` so an
//!   existing folder is never reused, and each is held by a lock file for the life of the
//!   run. Leftovers of killed runs (their lock no longer held) are deleted by the next run
//!   writing to the same path; a live concurrent run's folder is left alone.

//!
//! [`parquet_file`] encodes the Parquet files those outputs hold.

pub mod parquet_file;
pub mod s3;
mod s3_output;

pub use parquet_file::write_batches;
pub use s3::S3Url;
pub use s3_output::{S3Output, S3Scratch, resolve_any, resolve_file, resolve_output};

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The file inside every folder rfmseg writes that says which kind of output it is.
pub const MARKER: &str = ".rfmseg-output.json";

/// Kinds of folder output. A path holding one kind is never replaced by another, so
/// `features --out` cannot overwrite a run's customers.parquet behind its model.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputKind {
    /// `rfmseg ingest`: a lake.
    Lake,
    /// `rfmseg run`: customers, model, report.
    Run,
    /// `rfmseg score`.
    Score,
    /// `rfmseg features`.
    Features,
    /// `rfmseg generate`: synthetic raw data.
    Generated,
    /// `rfmseg demo`: raw/, lake/ and out/ of one demo.
    Demo,
}

impl OutputKind {
    /// How the kind reads in a message.
    pub fn describe(self) -> &'static str {
        match self {
            OutputKind::Lake => "an rfmseg lake",
            OutputKind::Run => "the output of `rfmseg run`",
            OutputKind::Score => "the output of `rfmseg score`",
            OutputKind::Features => "the output of `rfmseg features`",
            OutputKind::Generated => "the output of `rfmseg generate`",
            OutputKind::Demo => "an `rfmseg demo` folder",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Marker {
    kind: OutputKind,
    rfmseg_version: String,
    /// On S3: the prefix below the output that holds its files (see [`s3_output`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generation: Option<String>,
}

/// Test hook: `RFMSEG_FAULT=<point>` aborts the process at that point of a commit, as a
/// `kill -9` would, so tests can check what a kill leaves behind. Points, in order:
/// `written`, `synced`, `swapped`, `cleaned`.
const FAULT_ENV: &str = "RFMSEG_FAULT";

fn fault_point(point: &str) {
    if std::env::var(FAULT_ENV).is_ok_and(|p| p == point) {
        eprintln!("{FAULT_ENV}={point}: aborting");
        std::process::abort();
    }
}

/// The part of a leftover's name before its unique id: `.NAME.rfmseg-`.
fn temp_prefix(dest: &Path) -> Result<String> {
    let name = dest.file_name().ok_or_else(|| Error::Config {
        key: "--out".into(),
        message: format!("{} does not name a file or folder", dest.display()),
    })?;
    Ok(format!(".{}.rfmseg-", name.to_string_lossy()))
}

/// An id no other run on this machine produces: pid, nanoseconds, and a counter within
/// the process.
fn unique_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// The folder `dest` goes in, which must exist: outputs never create folders above
/// themselves, so a typo in a path fails instead of spreading folders.
fn existing_parent(dest: &Path) -> Result<PathBuf> {
    let parent = parent_of(dest);
    if parent.is_dir() {
        Ok(parent)
    } else {
        Err(Error::BadInput {
            path: parent,
            message: "folder does not exist".into(),
            hint: "create the folder first, or choose another path".into(),
        })
    }
}

fn parent_of(dest: &Path) -> PathBuf {
    match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// What is at `dest` now, and whether a `kind` output may replace it.
fn check_dest(dest: &Path, kind: OutputKind) -> Result<bool> {
    let refuse = |message: String, hint: &str| Error::BadInput {
        path: dest.to_path_buf(),
        message,
        hint: hint.into(),
    };
    let meta = match fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(dest, e)),
    };
    if meta.file_type().is_symlink() {
        return Err(refuse(
            format!(
                "is a symbolic link; rfmseg writes {} as a folder and will not replace a link",
                kind.describe()
            ),
            "give the real folder's path, or another --out",
        ));
    }
    if !meta.is_dir() {
        return Err(refuse(
            format!(
                "is a file, not a folder; rfmseg writes {} as a folder and never replaces a file",
                kind.describe()
            ),
            "choose another --out, or move the file away first",
        ));
    }
    let marker = dest.join(MARKER);
    match fs::read(&marker) {
        Ok(bytes) => match serde_json::from_slice::<Marker>(&bytes) {
            Ok(m) if m.kind == kind => Ok(true),
            Ok(m) => Err(refuse(
                format!(
                    "holds {}; refusing to replace it with {}",
                    m.kind.describe(),
                    kind.describe()
                ),
                "choose another --out",
            )),
            Err(_) => Err(refuse(
                format!("has an unreadable {MARKER}; refusing to replace it"),
                "choose another --out, or remove the folder first",
            )),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let empty = fs::read_dir(dest)
                .map_err(|e| Error::io(dest, e))?
                .next()
                .is_none();
            if empty {
                Ok(true)
            } else {
                Err(refuse(
                    format!(
                        "exists and was not written by rfmseg (no {MARKER}); refusing to replace it"
                    ),
                    "choose another --out, or remove the folder first",
                ))
            }
        }
        Err(e) => Err(Error::io(&marker, e)),
    }
}

/// Deletes the leftovers of earlier runs that wrote to `dest` and were killed: every
/// `.NAME.rfmseg-ID` whose lock file `.NAME.rfmseg-ID.lock` is no longer held.
fn remove_leftovers(dest: &Path) -> Result<()> {
    let parent = parent_of(dest);
    let prefix = temp_prefix(dest)?;
    let Ok(entries) = fs::read_dir(&parent) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".lock"))
        else {
            continue;
        };
        let lock_path = entry.path();
        let Ok(lock) = OpenOptions::new().write(true).open(&lock_path) else {
            continue;
        };
        // Held: a live run (this one included) owns it.
        if lock.try_lock().is_err() {
            continue;
        }
        let stale = parent.join(format!("{prefix}{id}"));
        for path in [aside_name(&stale), stale] {
            remove_any(&path).map_err(|e| Error::io(&path, e))?;
        }
        let _ = fs::remove_file(&lock_path);
    }
    Ok(())
}

/// Deletes a file or folder if there is one.
fn remove_any(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// The temporary name of one run and the lock that marks it live.
struct TempName {
    path: PathBuf,
    lock_path: PathBuf,
    _lock: File,
}

impl TempName {
    fn new(dest: &Path) -> Result<TempName> {
        let parent = parent_of(dest);
        let prefix = temp_prefix(dest)?;
        let id = unique_id();
        let lock_path = parent.join(format!("{prefix}{id}.lock"));
        let lock = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        lock.lock().map_err(|e| Error::io(&lock_path, e))?;
        Ok(TempName {
            path: parent.join(format!("{prefix}{id}")),
            lock_path,
            _lock: lock,
        })
    }

    /// Deletes whatever is at the temporary name, then the lock file.
    fn remove(&self) {
        let _ = remove_any(&aside_name(&self.path));
        let _ = remove_any(&self.path);
        let _ = fs::remove_file(&self.lock_path);
    }
}

/// A folder output being written. Write into [`OutputDir::path`], then
/// [`OutputDir::commit`]; dropped without a commit (an error, a panic), the temporary
/// folder is deleted and the destination was never touched.
pub struct OutputDir {
    dest: PathBuf,
    kind: OutputKind,
    temp: TempName,
    committed: bool,
}

impl OutputDir {
    /// Checks that `dest` may be replaced by a `kind` output (before any work is done, so
    /// a wrong `--out` fails at once), removes leftovers of killed runs, and creates the
    /// temporary folder.
    pub fn create(dest: &Path, kind: OutputKind) -> Result<OutputDir> {
        local_path(dest)?;
        check_dest(dest, kind)?;
        existing_parent(dest)?;
        remove_leftovers(dest)?;
        let temp = TempName::new(dest)?;
        fs::create_dir(&temp.path).map_err(|e| Error::io(&temp.path, e))?;
        Ok(OutputDir {
            dest: dest.to_path_buf(),
            kind,
            temp,
            committed: false,
        })
    }

    /// The folder to write into (the temporary one).
    pub fn path(&self) -> &Path {
        &self.temp.path
    }

    /// Where the output will be once committed.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Makes the written folder the output: marker, fsync of everything, one-step swap
    /// with the old output, then the old one deleted.
    pub fn commit(mut self) -> Result<()> {
        let marker = Marker {
            kind: self.kind,
            rfmseg_version: env!("CARGO_PKG_VERSION").into(),
            generation: None,
        };
        write_json(&self.temp.path.join(MARKER), &marker)?;
        fault_point("written");
        sync_tree(&self.temp.path)?;
        fault_point("synced");
        // Checked again: the destination may have changed while the command ran.
        let replacing = check_dest(&self.dest, self.kind)?;
        if replacing {
            swap(&self.temp.path, &self.dest)?;
        } else {
            rename_new(&self.temp.path, &self.dest)?;
        }
        sync_dir(&parent_of(&self.dest))?;
        self.committed = true;
        fault_point("swapped");
        // The old output now sits at the temporary name.
        self.temp.remove();
        fault_point("cleaned");
        Ok(())
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if !self.committed {
            self.temp.remove();
        }
    }
}

/// Makes `dir` a folder of `kind` that holds other outputs (the demo's raw/, lake/ and
/// out/, each swapped in by its own [`OutputDir`]): created with its marker if missing or
/// empty, accepted if it already has the same marker, refused otherwise.
pub fn ensure_container(dir: &Path, kind: OutputKind) -> Result<()> {
    local_path(dir)?;
    if check_dest(dir, kind)? && dir.join(MARKER).exists() {
        return Ok(());
    }
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io(dir, e)),
    }
    let marker = Marker {
        kind,
        rfmseg_version: env!("CARGO_PKG_VERSION").into(),
        generation: None,
    };
    write_json(&dir.join(MARKER), &marker)
}

/// Writes a single-file output (`sql --out`, `clean --quality-json`) with `write`, which
/// gets the temporary path. The file is fsynced and then renamed into place only if
/// nothing is at `dest`: a single file is never replaced, as rfmseg cannot tell its own
/// files from a user's.
pub fn write_new_file<T>(dest: &Path, write: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    check_new_file(dest)?;
    let parent = parent_of(dest);
    remove_leftovers(dest)?;
    let temp = TempName::new(dest)?;
    let result = write(&temp.path).and_then(|value| {
        File::open(&temp.path)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&temp.path, e))?;
        rename_new(&temp.path, dest)?;
        sync_dir(&parent)?;
        Ok(value)
    });
    temp.remove();
    result
}

/// Fails unless a new file can be written at `dest`: called before a command's work, so
/// a taken name fails at once, and again when writing.
pub fn check_new_file(dest: &Path) -> Result<()> {
    local_path(dest)?;
    if fs::symlink_metadata(dest).is_ok() {
        return Err(Error::BadInput {
            path: dest.to_path_buf(),
            message: "already exists; rfmseg never overwrites a file".into(),
            hint: "choose another file name, or remove the file first".into(),
        });
    }
    existing_parent(dest).map(drop)
}

/// Writes `bytes` as a new file inside a folder output being built (no rename needed:
/// the whole folder is swapped in at once).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes).map_err(|e| Error::io(path, e))
}

/// Writes `value` as pretty JSON into a folder output being built.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(value).map_err(|e| Error::Internal(e.to_string()))?;
    json.push(b'\n');
    write_file(path, &json)
}

/// fsyncs every file and folder under `root`, children before parents, so the swap never
/// publishes a folder whose contents are still only in the page cache.
fn sync_tree(root: &Path) -> Result<()> {
    for entry in fs::read_dir(root).map_err(|e| Error::io(root, e))? {
        let entry = entry.map_err(|e| Error::io(root, e))?;
        let path = entry.path();
        let ty = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if ty.is_dir() {
            sync_tree(&path)?;
        } else if ty.is_file() {
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io(&path, e))?;
        }
    }
    sync_dir(root)
}

fn sync_dir(dir: &Path) -> Result<()> {
    match File::open(dir).and_then(|f| f.sync_all()) {
        Ok(()) => Ok(()),
        // Some filesystems cannot fsync a folder; the rename is still atomic there.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Ok(()),
        Err(e) => Err(Error::io(dir, e)),
    }
}

#[cfg(target_os = "linux")]
fn renameat2(from: &Path, to: &Path, flags: libc::c_uint) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))
    };
    let (from, to) = (c(from)?, c(to)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call; the syscall is
    // used directly because glibc's wrapper is missing on musl.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            flags,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Whether the filesystem lacks the flag (old kernels, some network filesystems).
#[cfg(target_os = "linux")]
fn unsupported(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS))
}

/// Exchanges `new` and `dest` in one step; afterwards `new`'s name holds the old output.
fn swap(new: &Path, dest: &Path) -> Result<()> {
    #[cfg(target_os = "linux")]
    match renameat2(new, dest, libc::RENAME_EXCHANGE) {
        Ok(()) => return Ok(()),
        Err(e) if unsupported(&e) => {}
        Err(e) => return Err(Error::io(dest, e)),
    }
    // Without an atomic exchange: old aside, new in place. A kill between the two
    // renames leaves the old output under a hidden name beside `dest`, not at it.
    let aside = aside_name(new);
    fs::rename(dest, &aside).map_err(|e| Error::io(dest, e))?;
    if let Err(e) = fs::rename(new, dest) {
        let _ = fs::rename(&aside, dest);
        return Err(Error::io(dest, e));
    }
    fs::rename(&aside, new).map_err(|e| Error::io(new, e))
}

/// Where the non-atomic fallback of [`swap`] parks the old output; removed with its
/// temporary name's leftovers.
fn aside_name(temp: &Path) -> PathBuf {
    let mut name = temp.as_os_str().to_os_string();
    name.push("-old");
    PathBuf::from(name)
}

/// Renames `new` to `dest`, failing if something appeared at `dest` meanwhile.
fn rename_new(new: &Path, dest: &Path) -> Result<()> {
    let exists = || Error::BadInput {
        path: dest.to_path_buf(),
        message: "appeared while rfmseg was writing; refusing to replace it".into(),
        hint: "choose another --out, or run again".into(),
    };
    #[cfg(target_os = "linux")]
    match renameat2(new, dest, libc::RENAME_NOREPLACE) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(exists()),
        Err(e) if unsupported(&e) => {}
        Err(e) => return Err(Error::io(dest, e)),
    }
    if fs::symlink_metadata(dest).is_ok() {
        return Err(exists());
    }
    fs::rename(new, dest).map_err(|e| Error::io(dest, e))
}

/// A scratch folder beside `near` (a cluster's shared work folder), unique per run and
/// deleted when dropped; leftovers of killed runs are deleted by the next run.
pub struct ScratchDir {
    temp: TempName,
}

impl ScratchDir {
    pub fn create(near: &Path) -> Result<ScratchDir> {
        local_path(near)?;
        remove_leftovers(near)?;
        let temp = TempName::new(near)?;
        fs::create_dir(&temp.path).map_err(|e| Error::io(&temp.path, e))?;
        Ok(ScratchDir { temp })
    }

    pub fn path(&self) -> &Path {
        &self.temp.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        self.temp.remove();
    }
}

/// The URL scheme of `path` (`s3` for `s3://bucket/lake`), if it is a URL.
fn scheme(path: &Path) -> Option<String> {
    let text = path.to_string_lossy();
    text.split_once("://")
        .map(|(s, _)| s)
        .filter(|s| {
            s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        })
        .map(str::to_string)
}

/// Where a path option points: a local path or an `s3://` location. Options carry both
/// as paths; each command reads them through this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    S3(S3Url),
}

impl Location {
    /// Reads a path option. A URL of a scheme rfmseg does not support is an error, never a
    /// local folder named `gs:` beside the user's data.
    pub fn of(path: &Path) -> Result<Location> {
        match scheme(path) {
            None => Ok(Location::Local(path.to_path_buf())),
            Some(s) if s == "s3" => match S3Url::parse(&path.to_string_lossy()) {
                Some(url) => url.map(Location::S3),
                None => Err(Error::Internal(format!("{} is not s3://", path.display()))),
            },
            Some(s) => Err(Error::BadInput {
                path: path.to_path_buf(),
                message: format!(
                    "is a {s}:// URL; rfmseg reads and writes local paths and s3:// URLs only"
                ),
                hint: match s.as_str() {
                    "s3a" | "s3n" => "write it as s3://BUCKET/PREFIX".into(),
                    _ => "give a local path, or an s3://BUCKET/PREFIX of an S3-compatible \
                          store (copy other stores' data there, for example with rclone)"
                        .into(),
                },
            }),
        }
    }
}

/// Fails unless `path` is a local path: for what rfmseg writes only locally (`generate`,
/// `demo`, the data-quality file), where an s3:// URL taken as a path would silently
/// become a folder named `s3:`.
pub fn local_path(path: &Path) -> Result<()> {
    match Location::of(path)? {
        Location::Local(_) => Ok(()),
        Location::S3(_) => Err(Error::BadInput {
            path: path.to_path_buf(),
            message: "is an s3:// URL; this command reads and writes local paths only".into(),
            hint: "write to a local folder (lakes and run outputs can go to S3: \
                   `rfmseg ingest --out s3://...`, `rfmseg run --out s3://...`)"
                .into(),
        }),
    }
}

/// A folder output, local or on S3: write into [`Output::path`], then
/// [`Output::commit`]. Dropped without a commit, nothing of it remains.
pub enum Output {
    Local(OutputDir),
    S3(S3Output),
}

impl Output {
    /// Checks `dest` and prepares the output (see [`OutputDir::create`] and
    /// [`S3Output::create`]).
    pub async fn create(dest: &Path, kind: OutputKind) -> Result<Output> {
        match Location::of(dest)? {
            Location::Local(p) => OutputDir::create(&p, kind).map(Output::Local),
            Location::S3(u) => S3Output::create(&u, kind).await.map(Output::S3),
        }
    }

    /// [`Output::create`] from synchronous code.
    pub fn create_blocking(dest: &Path, kind: OutputKind) -> Result<Output> {
        match Location::of(dest)? {
            Location::Local(p) => OutputDir::create(&p, kind).map(Output::Local),
            Location::S3(u) => {
                s3::block_on(async move { S3Output::create(&u, kind).await }).map(Output::S3)
            }
        }
    }

    /// The local folder to write into.
    pub fn path(&self) -> &Path {
        match self {
            Output::Local(o) => o.path(),
            Output::S3(o) => o.path(),
        }
    }

    pub async fn commit(self) -> Result<()> {
        match self {
            Output::Local(o) => o.commit(),
            Output::S3(o) => o.commit().await,
        }
    }

    /// [`Output::commit`] from synchronous code.
    pub fn commit_blocking(self) -> Result<()> {
        match self {
            Output::Local(o) => o.commit(),
            Output::S3(o) => s3::block_on(async move { o.commit().await }),
        }
    }
}

/// `path` made absolute against this process's folder: every path a cluster session
/// registers or writes is resolved by executors that run elsewhere.
pub fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_not_local_paths() {
        for url in [
            "s3://bucket/lake",
            "gs://b/x",
            "file:///tmp/lake",
            "s3a://b",
            "minio+s3://b",
        ] {
            let e = local_path(Path::new(url)).unwrap_err().to_string();
            assert!(e.contains(url) && e.contains("local paths"), "{e}");
        }
        for path in [
            "lake",
            "./data/s3_dump",
            "/tmp/a:b",
            "1://x",
            "./x://y",
            "C:/data",
        ] {
            assert!(local_path(Path::new(path)).is_ok(), "{path}");
        }
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn write_out(dest: &Path, kind: OutputKind, content: &str) -> Result<()> {
        let out = OutputDir::create(dest, kind)?;
        write_file(&out.path().join("a.txt"), content.as_bytes())?;
        out.commit()
    }

    #[test]
    fn replaces_its_own_output_and_leaves_nothing_beside_it() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("out");
        write_out(&dest, OutputKind::Run, "one").unwrap();
        write_out(&dest, OutputKind::Run, "two").unwrap();
        assert_eq!(fs::read_to_string(dest.join("a.txt")).unwrap(), "two");
        assert_eq!(files(root.path()), ["out"]);
        assert_eq!(files(&dest), [MARKER, "a.txt"]);
    }

    #[test]
    fn refuses_a_users_folder_a_file_a_link_and_another_kind() {
        let root = tempfile::tempdir().unwrap();
        let users = root.path().join("users");
        fs::create_dir(&users).unwrap();
        fs::write(users.join("thesis.txt"), "mine").unwrap();
        let err = write_out(&users, OutputKind::Run, "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("was not written by rfmseg"), "{err}");
        assert_eq!(
            fs::read_to_string(users.join("thesis.txt")).unwrap(),
            "mine"
        );

        let file = root.path().join("file.txt");
        fs::write(&file, "mine").unwrap();
        let err = write_out(&file, OutputKind::Run, "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("is a file"), "{err}");
        assert_eq!(fs::read_to_string(&file).unwrap(), "mine");

        let link = root.path().join("link");
        std::os::unix::fs::symlink(&users, &link).unwrap();
        let err = write_out(&link, OutputKind::Run, "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("symbolic link"), "{err}");

        let run = root.path().join("run");
        write_out(&run, OutputKind::Run, "model").unwrap();
        let err = write_out(&run, OutputKind::Features, "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("holds the output of `rfmseg run`"), "{err}");
        assert_eq!(fs::read_to_string(run.join("a.txt")).unwrap(), "model");
        // Nothing temporary is left behind by the refusals.
        assert_eq!(files(root.path()), ["file.txt", "link", "run", "users"]);
    }

    #[test]
    fn an_empty_folder_the_user_made_is_filled() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("out");
        fs::create_dir(&dest).unwrap();
        write_out(&dest, OutputKind::Score, "s").unwrap();
        assert_eq!(fs::read_to_string(dest.join("a.txt")).unwrap(), "s");
    }

    #[test]
    fn a_failed_write_leaves_the_old_output_and_no_temporary() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("out");
        write_out(&dest, OutputKind::Lake, "old").unwrap();
        {
            let out = OutputDir::create(&dest, OutputKind::Lake).unwrap();
            write_file(&out.path().join("a.txt"), b"half").unwrap();
            // dropped without commit, as on an error
        }
        assert_eq!(fs::read_to_string(dest.join("a.txt")).unwrap(), "old");
        assert_eq!(files(root.path()), ["out"]);
    }

    #[test]
    fn a_stale_temporary_is_deleted_not_merged_and_a_live_one_is_kept() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("lake");
        // A killed run's leftovers: its folder (with a stray part file) and its unheld lock.
        let stale = root.path().join(".lake.rfmseg-77-abc-0");
        fs::create_dir(&stale).unwrap();
        fs::write(stale.join("part-stale.parquet"), "junk").unwrap();
        fs::write(root.path().join(".lake.rfmseg-77-abc-0.lock"), "").unwrap();
        // A live run's, whose lock is held.
        let live = root.path().join(".lake.rfmseg-78-def-0");
        fs::create_dir(&live).unwrap();
        let live_lock_path = root.path().join(".lake.rfmseg-78-def-0.lock");
        let live_lock = File::create(&live_lock_path).unwrap();
        live_lock.lock().unwrap();
        // The lock is per open file description, so this process's own try_lock in
        // remove_leftovers sees it held, as another process would.

        write_out(&dest, OutputKind::Lake, "new").unwrap();
        assert_eq!(files(&dest), [MARKER, "a.txt"]);
        assert!(!stale.exists());
        assert!(live.exists());
        drop(live_lock);
        assert_eq!(
            files(root.path()),
            [
                ".lake.rfmseg-78-def-0",
                ".lake.rfmseg-78-def-0.lock",
                "lake"
            ]
        );
    }

    #[test]
    fn a_new_file_never_replaces_one() {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("r.csv");
        write_new_file(&dest, |p| write_file(p, b"first")).unwrap();
        let err = write_new_file(&dest, |p| write_file(p, b"second"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(fs::read_to_string(&dest).unwrap(), "first");
        let failed: Result<()> = write_new_file(&root.path().join("x.csv"), |p| {
            write_file(p, b"half")?;
            Err(Error::Internal("boom".into()))
        });
        assert!(failed.is_err());
        assert_eq!(files(root.path()), ["r.csv"]);
    }
}
