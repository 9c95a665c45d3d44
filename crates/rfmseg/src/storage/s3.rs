//! `s3://bucket/prefix` paths: the object store behind them, shared by every session of
//! the process, and the few object operations rfmseg's own code needs (DataFusion reads
//! and the executors' writes go through the same store, found by URL in [`S3Registry`]).
//!
//! The store is configured only from the standard `AWS_*` environment (endpoint, region,
//! keys, `AWS_ALLOW_HTTP` for a local server), so MinIO, Ceph, R2 and AWS S3 all work and
//! no credential ever travels in a job's settings, a log, an output or a message.
//!
//! One store per bucket is built once per process. Its HTTP connections run on a small
//! runtime of their own, so the store can be used from any runtime (each test's, the
//! CLI's, a Ballista executor's) and from synchronous code such as `ingest`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use futures::TryStreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::client::SpawnedReqwestConnector;
use object_store::path::Path as ObjectPath;
use object_store::{ClientConfigKey, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use url::Url;

use crate::error::{Error, Result};

/// An `s3://bucket/key` location; `key` has no leading or trailing slash (empty for the
/// bucket's root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub key: String,
}

impl S3Url {
    /// Parses `s3://bucket/key`; `None` if `text` is not an s3:// URL.
    pub fn parse(text: &str) -> Option<Result<S3Url>> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let key = key.trim_matches('/');
        let valid_bucket = !bucket.is_empty()
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'));
        if !valid_bucket {
            return Some(Err(Error::BadInput {
                path: PathBuf::from(text),
                message: format!("{bucket:?} is not an S3 bucket name"),
                hint: "write s3://BUCKET/PREFIX, with the bucket in lower case".into(),
            }));
        }
        if key.split('/').any(|part| part == "." || part == "..")
            || key.contains("//")
            || key.contains('\\')
        {
            return Some(Err(Error::BadInput {
                path: PathBuf::from(text),
                message: "has an empty, `.` or `..` part".into(),
                hint: "write s3://BUCKET/PREFIX with plain names between the slashes".into(),
            }));
        }
        Some(Ok(S3Url {
            bucket: bucket.to_string(),
            key: key.to_string(),
        }))
    }

    /// The location `name` below this one.
    pub fn join(&self, name: &str) -> S3Url {
        let name = name.trim_matches('/');
        S3Url {
            bucket: self.bucket.clone(),
            key: if self.key.is_empty() {
                name.to_string()
            } else {
                format!("{}/{name}", self.key)
            },
        }
    }

    /// The last part of the key.
    pub fn file_name(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or("")
    }

    /// The location one level up, if there is one.
    pub fn parent(&self) -> Option<S3Url> {
        let (parent, _) = self.key.rsplit_once('/').unwrap_or(("", &self.key));
        (!self.key.is_empty()).then(|| S3Url {
            bucket: self.bucket.clone(),
            key: parent.to_string(),
        })
    }

    /// The key as an object path.
    pub fn object_path(&self) -> ObjectPath {
        ObjectPath::from(self.key.as_str())
    }

    /// The URL DataFusion lists a folder of files under (with the trailing slash).
    pub fn folder_url(&self) -> String {
        format!("{self}/")
    }

    /// The URL as a path, the form rfmseg's options carry locations in.
    pub fn to_path(&self) -> PathBuf {
        PathBuf::from(self.to_string())
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.key)
        }
    }
}

/// The runtime the stores' HTTP requests run on.
fn io_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("rfmseg-s3-io")
            .enable_all()
            .build()
            .expect("a tokio runtime for S3 requests")
    })
}

/// Runs `fut` to completion from synchronous code (on the I/O runtime, so it works
/// whether or not the caller is inside a runtime).
pub fn block_on<T: Send + 'static>(
    fut: impl std::future::Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    let handle = io_runtime().spawn(fut);
    futures::executor::block_on(handle)
        .map_err(|e| Error::Internal(format!("S3 request task failed: {e}")))?
}

/// Ways an object request fails, told apart so the message says what to check.
const RETRIES: usize = 2;

/// The bucket's store: built on first use from the `AWS_*` environment, then shared.
pub fn store(bucket: &str) -> Result<Arc<dyn ObjectStore>> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<dyn ObjectStore>>>> = OnceLock::new();
    let stores = STORES.get_or_init(Default::default);
    let mut stores = stores.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = stores.get(bucket) {
        return Ok(Arc::clone(s));
    }
    // reqwest is built without a TLS crypto provider; an error only means one is set.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let built: Arc<dyn ObjectStore> = Arc::new(
        AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            // A wrong endpoint or a stopped server must fail within seconds, not after
            // object_store's default three minutes of retries.
            .with_retry(RetryConfig {
                max_retries: RETRIES,
                retry_timeout: Duration::from_secs(15),
                ..RetryConfig::default()
            })
            // Set key by key: with_client_options would replace what from_env read
            // (AWS_ALLOW_HTTP among it).
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                "5s",
            )
            .with_http_connector(SpawnedReqwestConnector::new(io_runtime().handle().clone()))
            .build()
            .map_err(|e| Error::S3 {
                url: format!("s3://{bucket}"),
                message: format!("cannot configure the S3 client: {}", scrub(&e.to_string())),
                hint: ENV_HINT.into(),
            })?,
    );
    stores.insert(bucket.to_string(), Arc::clone(&built));
    Ok(built)
}

const ENV_HINT: &str = "rfmseg reads S3 settings from AWS_ENDPOINT (for a server other than \
    AWS), AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_ALLOW_HTTP=true (for \
    an http:// endpoint)";

/// `text` with the secret key, if the environment holds one, blotted out: object store
/// errors quote requests and responses, and a secret must never reach a message.
fn scrub(text: &str) -> String {
    let mut out = text.to_string();
    for var in ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
        if let Ok(secret) = std::env::var(var)
            && secret.len() >= 4
        {
            out = out.replace(&secret, "***");
        }
    }
    out
}

/// An object store error as an rfmseg error on `url`, with a hint for its likely cause.
pub fn error(url: &S3Url, e: &object_store::Error) -> Error {
    let text = scrub(&e.to_string());
    let bucket = &url.bucket;
    let has = |needle: &str| text.contains(needle);
    let (message, hint) = if has("NoSuchBucket") {
        (
            format!("bucket {bucket:?} does not exist"),
            format!("create the bucket {bucket:?} first, or check the bucket name"),
        )
    } else if matches!(
        e,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || has("InvalidAccessKeyId")
        || has("SignatureDoesNotMatch")
        || has("AccessDenied")
        || has("403 Forbidden")
    {
        (
            format!("access to bucket {bucket:?} was refused"),
            format!(
                "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that they may read and \
                 write {bucket:?}"
            ),
        )
    } else if has("error sending request")
        || has("Connection refused")
        || has("connect")
        || has("timed out")
        || has("dns error")
    {
        (
            "cannot reach the S3 endpoint".to_string(),
            format!(
                "check AWS_ENDPOINT ({}) and that the server is up; for an http:// endpoint set \
                 AWS_ALLOW_HTTP=true",
                std::env::var("AWS_ENDPOINT")
                    .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
                    .unwrap_or_else(|_| "unset: AWS S3".into())
            ),
        )
    } else {
        let first = text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(300)
            .collect();
        (first, ENV_HINT.to_string())
    };
    Error::S3 {
        url: url.to_string(),
        message,
        hint,
    }
}

/// The object at `url`, or None if there is none.
pub async fn get(url: &S3Url) -> Result<Option<Vec<u8>>> {
    let store = store(&url.bucket)?;
    match store.get(&url.object_path()).await {
        Ok(r) => match r.bytes().await {
            Ok(b) => Ok(Some(b.to_vec())),
            Err(e) => Err(error(url, &e)),
        },
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(error(url, &e)),
    }
}

/// Writes one object in one request: S3 never shows a half-written object.
pub async fn put(url: &S3Url, bytes: Vec<u8>) -> Result<()> {
    let store = store(&url.bucket)?;
    store
        .put(&url.object_path(), PutPayload::from(bytes))
        .await
        .map(drop)
        .map_err(|e| error(url, &e))
}

/// Fails if an object exists at `url`: single-file outputs never replace anything.
pub async fn check_new_object(url: &S3Url) -> Result<()> {
    let store = store(&url.bucket)?;
    match store.head(&url.object_path()).await {
        Ok(_) => Err(exists(url)),
        Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(error(url, &e)),
    }
}

fn exists(url: &S3Url) -> Error {
    Error::BadInput {
        path: url.to_path(),
        message: "already exists; rfmseg never overwrites a file".into(),
        hint: "choose another name, or delete the object first".into(),
    }
}

/// Writes a new object in one request, failing if one appeared at `url` meanwhile (a
/// conditional put where the store supports it).
pub async fn put_new(url: &S3Url, bytes: Vec<u8>) -> Result<()> {
    check_new_object(url).await?;
    let store = store(&url.bucket)?;
    let opts = object_store::PutOptions {
        mode: object_store::PutMode::Create,
        ..Default::default()
    };
    match store
        .put_opts(&url.object_path(), PutPayload::from(bytes.clone()), opts)
        .await
    {
        Ok(_) => Ok(()),
        Err(object_store::Error::AlreadyExists { .. }) => Err(exists(url)),
        // Stores without conditional writes: the check above is the guard.
        Err(object_store::Error::NotImplemented { .. }) => put(url, bytes).await,
        Err(e) => Err(error(url, &e)),
    }
}

/// Every object below `url` (as a folder): keys relative to it, sizes and times.
pub async fn list(url: &S3Url) -> Result<Vec<object_store::ObjectMeta>> {
    let store = store(&url.bucket)?;
    let prefix = (!url.key.is_empty()).then(|| url.object_path());
    store
        .list(prefix.as_ref())
        .try_collect()
        .await
        .map_err(|e| error(url, &e))
}

/// Deletes every object below `url`.
pub async fn delete_prefix(url: &S3Url) -> Result<()> {
    let store = store(&url.bucket)?;
    for meta in list(url).await? {
        match store.delete(&meta.location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(error(url, &e)),
        }
    }
    Ok(())
}

/// Uploads every file below the local folder `dir` to the same names below `to`,
/// streaming each (multipart above a few MB, so memory stays small for any size).
pub async fn upload_tree(dir: &Path, to: &S3Url) -> Result<u64> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    let mut bytes = 0;
    for file in files {
        let rel = file
            .strip_prefix(dir)
            .map_err(|e| Error::Internal(e.to_string()))?
            .to_string_lossy()
            .replace('\\', "/");
        bytes += upload_file(&file, &to.join(&rel)).await?;
    }
    Ok(bytes)
}

/// Uploads one local file to `to`.
pub async fn upload_file(file: &Path, to: &S3Url) -> Result<u64> {
    use tokio::io::AsyncWriteExt;
    let store = store(&to.bucket)?;
    let mut writer = object_store::buffered::BufWriter::new(store, to.object_path());
    let mut reader = tokio::fs::File::open(file)
        .await
        .map_err(|e| Error::io(file, e))?;
    let copied = tokio::io::copy(&mut reader, &mut writer).await;
    let result = match copied {
        Ok(n) => writer.shutdown().await.map(|()| n),
        Err(e) => Err(e),
    };
    match result {
        Ok(n) => Ok(n),
        Err(e) => {
            let _ = writer.abort().await;
            Err(io_error(to, e))
        }
    }
}

/// Downloads the object `from` to the new local file `file`, streaming.
pub async fn download_file(from: &S3Url, file: &Path) -> Result<u64> {
    use tokio::io::AsyncWriteExt;
    let store = store(&from.bucket)?;
    let got = store
        .get(&from.object_path())
        .await
        .map_err(|e| error(from, &e))?;
    let mut stream = got.into_stream();
    let mut out = tokio::fs::File::create(file)
        .await
        .map_err(|e| Error::io(file, e))?;
    let mut n = 0u64;
    while let Some(chunk) = stream.try_next().await.map_err(|e| error(from, &e))? {
        out.write_all(&chunk)
            .await
            .map_err(|e| Error::io(file, e))?;
        n += chunk.len() as u64;
    }
    out.flush().await.map_err(|e| Error::io(file, e))?;
    Ok(n)
}

/// An I/O error from the object store's writer (which wraps its own errors in io::Error).
fn io_error(url: &S3Url, e: std::io::Error) -> Error {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<object_store::Error>())
    {
        Some(os) => error(url, os),
        None => Error::S3 {
            url: url.to_string(),
            message: scrub(&e.to_string()),
            hint: ENV_HINT.into(),
        },
    }
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// The object store registry of every rfmseg session, scheduler and executor: `s3://`
/// URLs resolve to the shared store of their bucket, everything else as in DataFusion.
#[derive(Debug, Default)]
pub struct S3Registry {
    others: DefaultObjectStoreRegistry,
}

impl ObjectStoreRegistry for S3Registry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.others.register_store(url, store)
    }

    fn get_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        if url.scheme() == "s3" {
            let bucket = url.host_str().unwrap_or_default();
            return store(bucket)
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)));
        }
        self.others.get_store(url)
    }
}

/// A runtime whose object store registry knows `s3://` (and, like DataFusion's default,
/// local files), with spill files in `temp_dir` if given, and with a memory pool of
/// `memory_limit` bytes if given: a fair pool, so every spilling operator running at once
/// gets its share instead of the first one taking all; tracking the largest consumers, so
/// an operator that cannot spill fails naming what held the memory.
pub fn runtime_env(
    temp_dir: Option<&str>,
    memory_limit: Option<usize>,
) -> datafusion::error::Result<Arc<RuntimeEnv>> {
    let mut builder =
        RuntimeEnvBuilder::new().with_object_store_registry(Arc::new(S3Registry::default()));
    if let Some(dir) = temp_dir {
        builder = builder.with_temp_file_path(dir);
    }
    if let Some(bytes) = memory_limit {
        use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
        builder = builder.with_memory_pool(Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(bytes),
            std::num::NonZeroUsize::new(3).expect("3 > 0"),
        )));
    }
    builder.build_arc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_join_and_print() {
        let u = S3Url::parse("s3://bucket/a/lake/").unwrap().unwrap();
        assert_eq!((u.bucket.as_str(), u.key.as_str()), ("bucket", "a/lake"));
        assert_eq!(u.to_string(), "s3://bucket/a/lake");
        assert_eq!(
            u.join("reviews").folder_url(),
            "s3://bucket/a/lake/reviews/"
        );
        assert_eq!(u.file_name(), "lake");
        assert_eq!(u.parent().unwrap().to_string(), "s3://bucket/a");
        let root = S3Url::parse("s3://bucket").unwrap().unwrap();
        assert_eq!(root.join("x").to_string(), "s3://bucket/x");
        assert!(root.parent().is_none());
        assert!(S3Url::parse("/tmp/lake").is_none());
        for bad in ["s3://", "s3://Bucket/x", "s3://b/../x", "s3://b/a//c"] {
            assert!(S3Url::parse(bad).unwrap().is_err(), "{bad}");
        }
    }
}
