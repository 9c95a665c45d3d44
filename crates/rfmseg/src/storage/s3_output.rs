//! Folder outputs on S3, where nothing can be renamed: the same promises as a local
//! [`super::OutputDir`], kept with a marker object instead of a swap.
//!
//! An output at `s3://b/out` is written under a fresh prefix `s3://b/out/<generation>/`
//! (staged locally first, then uploaded). It becomes the output when the marker object
//! `s3://b/out/.rfmseg-output.json`, naming that generation, is written, last and in one
//! request. Readers go through the marker, so they see the complete old output or the
//! complete new one, never a half-uploaded one; a run that fails before the marker leaves
//! the old output in place and deletes what it uploaded. After the marker, the previous
//! generation is deleted, and so are generations of killed runs once they are an hour old
//! (younger ones may belong to a run still uploading).

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::s3::{self, S3Url};
use super::{MARKER, Marker, OutputKind, ScratchDir, fault_point};
use crate::error::{Error, Result};

/// Generations of other runs younger than this are left alone: they may be uploading.
const LEFTOVER_AGE: Duration = Duration::from_secs(3600);

/// Names of generation prefixes: sortable by time, unique per run.
const GENERATION_PREFIX: &str = "rfmseg-";

/// A folder output being written to S3: write into [`S3Output::path`] (a local staging
/// folder), then [`S3Output::commit`].
pub struct S3Output {
    dest: S3Url,
    kind: OutputKind,
    generation: String,
    staging: ScratchDir,
    uploading: bool,
    committed: bool,
}

impl S3Output {
    /// Checks that `dest` may take a `kind` output (so a wrong `--out` or bad credentials
    /// fail before any work), and makes the staging folder.
    pub async fn create(dest: &S3Url, kind: OutputKind) -> Result<S3Output> {
        if dest.key.is_empty() {
            return Err(Error::BadInput {
                path: dest.to_path(),
                message: "is a whole bucket".into(),
                hint: "write outputs under a prefix: s3://BUCKET/PREFIX".into(),
            });
        }
        check_dest(dest, kind).await?;
        let staging = ScratchDir::create(&std::env::temp_dir().join("rfmseg-s3-staging"))?;
        let secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let stamp = chrono::DateTime::from_timestamp(secs, 0)
            .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
            .unwrap_or_default();
        Ok(S3Output {
            dest: dest.clone(),
            kind,
            generation: format!("{GENERATION_PREFIX}{stamp}-{}", super::unique_id()),
            staging,
            uploading: false,
            committed: false,
        })
    }

    /// The local folder to write the output into.
    pub fn path(&self) -> &Path {
        self.staging.path()
    }

    /// Uploads the staged folder under a fresh generation, then writes the marker that
    /// makes it the output, then deletes what it replaced.
    pub async fn commit(mut self) -> Result<()> {
        let generation = self.dest.join(&self.generation);
        self.uploading = true;
        s3::upload_tree(self.staging.path(), &generation).await?;
        fault_point("uploaded");
        // Checked again: the destination may have changed while the command ran.
        let old = check_dest(&self.dest, self.kind).await?;
        let marker = Marker {
            kind: self.kind,
            rfmseg_version: env!("CARGO_PKG_VERSION").into(),
            generation: Some(self.generation.clone()),
        };
        let mut json =
            serde_json::to_vec_pretty(&marker).map_err(|e| Error::Internal(e.to_string()))?;
        json.push(b'\n');
        s3::put(&self.dest.join(MARKER), json).await?;
        self.committed = true;
        fault_point("marked");
        if let Some(old) = old.and_then(|m| m.generation) {
            s3::delete_prefix(&self.dest.join(&old)).await?;
        }
        remove_leftovers(&self.dest, &self.generation).await
    }
}

impl Drop for S3Output {
    fn drop(&mut self) {
        if self.uploading && !self.committed {
            // An upload that failed part-way: delete what it wrote, best effort (a kill
            // leaves it for the next writer's leftover sweep).
            let generation = self.dest.join(&self.generation);
            let _ = s3::block_on(async move { s3::delete_prefix(&generation).await });
        }
    }
}

/// The marker at `dest`, if any: None for nothing there (or only leftovers of failed
/// runs); an error for something rfmseg did not write or another kind of output.
async fn check_dest(dest: &S3Url, kind: OutputKind) -> Result<Option<Marker>> {
    let refuse = |message: String, hint: &str| Error::BadInput {
        path: dest.to_path(),
        message,
        hint: hint.into(),
    };
    match read_marker(dest).await? {
        Some(m) if m.kind == kind => Ok(Some(m)),
        Some(m) => Err(refuse(
            format!(
                "holds {}; refusing to replace it with {}",
                m.kind.describe(),
                kind.describe()
            ),
            "choose another --out",
        )),
        None => {
            let foreign = s3::list(dest).await?.into_iter().find(|o| {
                let rel = relative(dest, &o.location);
                !rel.starts_with(GENERATION_PREFIX)
            });
            match foreign {
                None => Ok(None),
                Some(o) => Err(refuse(
                    format!(
                        "holds objects rfmseg did not write (for example {}, and no {MARKER}); \
                         refusing to replace them",
                        o.location
                    ),
                    "choose another --out prefix, or delete those objects first",
                )),
            }
        }
    }
}

/// The key of `location` relative to the folder `dest`.
fn relative(dest: &S3Url, location: &object_store::path::Path) -> String {
    let key = location.as_ref();
    let rest = if dest.key.is_empty() {
        key
    } else {
        key.strip_prefix(&dest.key).unwrap_or(key)
    };
    rest.trim_start_matches('/').to_string()
}

async fn read_marker(dest: &S3Url) -> Result<Option<Marker>> {
    let url = dest.join(MARKER);
    match s3::get(&url).await? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice::<Marker>(&bytes)
            .map(Some)
            .map_err(|_| Error::BadInput {
                path: url.to_path(),
                message: "is unreadable; refusing to use or replace this output".into(),
                hint: "choose another prefix, or delete the prefix first".into(),
            }),
    }
}

/// Deletes generations below `dest` other than `keep` whose newest object is over an hour
/// old: uploads of runs that were killed before their marker.
async fn remove_leftovers(dest: &S3Url, keep: &str) -> Result<()> {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut newest: std::collections::BTreeMap<String, i64> = Default::default();
    for o in s3::list(dest).await? {
        let rel = relative(dest, &o.location);
        let Some((generation, _)) = rel.split_once('/') else {
            continue;
        };
        if generation.starts_with(GENERATION_PREFIX) && generation != keep {
            let t = newest.entry(generation.to_string()).or_insert(i64::MIN);
            *t = (*t).max(o.last_modified.timestamp());
        }
    }
    for (generation, t) in newest {
        if now.saturating_sub(t) > LEFTOVER_AGE.as_secs() as i64 {
            s3::delete_prefix(&dest.join(&generation)).await?;
        }
    }
    Ok(())
}

/// Where the complete output of `kind` at `url` lives: its current generation. An error
/// if `url` holds no complete rfmseg output of that kind.
pub async fn resolve_output(url: &S3Url, kind: OutputKind, hint: &str) -> Result<S3Url> {
    match read_marker(url).await? {
        Some(m) if m.kind == kind => match m.generation {
            Some(g) => Ok(url.join(&g)),
            None => Ok(url.clone()),
        },
        Some(m) => Err(Error::BadInput {
            path: url.to_path(),
            message: format!("holds {}, not {}", m.kind.describe(), kind.describe()),
            hint: hint.into(),
        }),
        None => Err(Error::BadInput {
            path: url.to_path(),
            message: format!(
                "holds no complete rfmseg output (no {MARKER}): not {}, or its writer did \
                 not finish",
                kind.describe()
            ),
            hint: hint.into(),
        }),
    }
}

/// `url` as a reader should open it: a file inside an rfmseg output (`s3://b/out/model.json`)
/// maps to the same file in the output's current generation; anything else stays as is.
pub async fn resolve_file(url: &S3Url) -> Result<S3Url> {
    if let Some(parent) = url.parent()
        && let Some(m) = read_marker(&parent).await?
        && let Some(g) = m.generation
    {
        return Ok(parent.join(&g).join(url.file_name()));
    }
    Ok(url.clone())
}

/// `url` as a reader of a folder or file should open it: the current generation of an
/// rfmseg output, a file inside one, or `url` itself.
pub async fn resolve_any(url: &S3Url) -> Result<S3Url> {
    if let Some(m) = read_marker(url).await?
        && let Some(g) = m.generation
    {
        return Ok(url.join(&g));
    }
    resolve_file(url).await
}

/// A run's scratch prefix on S3 (a cluster's intermediate tables), unique per run and
/// deleted when dropped. A killed run's prefix stays; it holds only intermediate tables
/// (a bucket lifecycle rule on `*.rfmseg-work-*` can expire them).
pub struct S3Scratch {
    url: S3Url,
}

impl S3Scratch {
    /// A fresh prefix beside `near` (`s3://b/out` -> `s3://b/.out.rfmseg-work-ID`).
    pub fn beside(near: &S3Url) -> S3Scratch {
        let name = format!(".{}.rfmseg-work-{}", near.file_name(), super::unique_id());
        let url = match near.parent() {
            Some(parent) => parent.join(&name),
            None => near.join(&name),
        };
        S3Scratch { url }
    }

    pub fn url(&self) -> &S3Url {
        &self.url
    }
}

impl Drop for S3Scratch {
    fn drop(&mut self) {
        let url = self.url.clone();
        if let Err(e) = s3::block_on(async move { s3::delete_prefix(&url).await }) {
            tracing::warn!("could not delete the work prefix: {e}");
        }
    }
}
