//! The library's one error type. Each variant says where the problem is (file and line,
//! flag or config key, stage) so the binary can print it once, as a chain, with a hint.

use std::path::PathBuf;

/// Everything that can go wrong in rfmseg, split by whose fault it is: the user's input
/// (`BadLine`, `BadInput`, `Config`, `NothingToFit`), the environment (`Io`), or a bug (`Internal`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// One line of a raw input file is not what the format says it should be.
    #[error("{}:{line}: {message}\nhint: {hint}", path.display())]
    BadLine {
        path: PathBuf,
        line: u64,
        message: String,
        hint: String,
    },
    /// An input as a whole is unusable (missing, empty, wrong format, nothing left).
    #[error("{}: {message}\nhint: {hint}", path.display())]
    BadInput {
        path: PathBuf,
        message: String,
        hint: String,
    },
    /// A model has no rows to be fitted on (no customer, no repeat purchase): the data
    /// cannot support it, which a run reports instead of failing.
    #[error("{table}: no customers to fit the {model} model on\nhint: {hint}")]
    NothingToFit {
        table: String,
        model: String,
        hint: String,
    },
    /// A flag or config value is out of range; `key` is the flag or config key.
    #[error("invalid {key}: {message}")]
    Config { key: String, message: String },
    /// A pipeline stage failed in DataFusion.
    #[error("stage {stage}: {source}")]
    Stage {
        stage: String,
        #[source]
        source: datafusion::error::DataFusionError,
    },
    /// A stage's operator could not get memory within `engine.memory_limit` and could not
    /// spill.
    #[error(
        "stage {stage} needed more memory than engine.memory_limit (--memory-limit) allows: \
         {message}. Raise the limit, or give fewer partitions (--partitions) so fewer \
         operators hold memory at once"
    )]
    MemoryLimit { stage: String, message: String },
    /// Writing Parquet failed.
    #[error("{}: {source}", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// The Ballista cluster could not be reached or stopped serving.
    #[error("{url}: {message}\nhint: {hint}")]
    Cluster {
        url: String,
        message: String,
        hint: String,
    },
    /// An object store (`s3://`) request failed: `url` names the bucket and key, never a
    /// credential.
    #[error("{url}: {message}\nhint: {hint}")]
    S3 {
        url: String,
        message: String,
        hint: String,
    },
    /// One failure that several callers report, e.g. a k-means round shared by the fits
    /// of a sweep.
    #[error(transparent)]
    Shared(std::sync::Arc<Error>),
    /// A bug in rfmseg, not in the input.
    #[error("internal error: {0} (this is a bug in rfmseg; please report it)")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether this is a bug in rfmseg rather than a problem with the input or the
    /// machine: the binary exits with its own code for it, so a script can tell "fix the
    /// input" from "report this".
    pub fn is_bug(&self) -> bool {
        match self {
            Error::Internal(_) => true,
            Error::Shared(e) => e.is_bug(),
            _ => false,
        }
    }

    /// The same error with every path it names passed through `f` (an input read from a
    /// local copy is named by its original location).
    pub fn map_paths(self, f: impl Fn(&std::path::Path) -> PathBuf) -> Error {
        match self {
            Error::Io { path, source } => Error::Io {
                path: f(&path),
                source,
            },
            Error::BadLine {
                path,
                line,
                message,
                hint,
            } => Error::BadLine {
                path: f(&path),
                line,
                message,
                hint,
            },
            Error::BadInput {
                path,
                message,
                hint,
            } => Error::BadInput {
                path: f(&path),
                message,
                hint,
            },
            Error::Parquet { path, source } => Error::Parquet {
                path: f(&path),
                source,
            },
            other => other,
        }
    }

    /// Wraps a DataFusion error with the stage that raised it.
    pub fn stage(stage: &str, source: datafusion::error::DataFusionError) -> Self {
        if let datafusion::error::DataFusionError::ResourcesExhausted(message) = source.find_root()
        {
            return Error::MemoryLimit {
                stage: stage.to_string(),
                message: message.clone(),
            };
        }
        Error::Stage {
            stage: stage.to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::error::DataFusionError;

    /// An operator out of pool memory, however DataFusion wraps it, is reported naming
    /// the limit's key and what to do.
    #[test]
    fn an_exhausted_memory_pool_names_the_limit_and_what_to_do() {
        let exhausted =
            DataFusionError::ResourcesExhausted("HashJoinInput[1] consumed 114.0 MB".into());
        let wrapped = DataFusionError::Context("joining".into(), Box::new(exhausted));
        let err = Error::stage("segment_purchases", wrapped).to_string();
        assert!(
            err.starts_with(
                "stage segment_purchases needed more memory than engine.memory_limit \
                 (--memory-limit) allows: HashJoinInput[1] consumed 114.0 MB."
            ),
            "{err}"
        );
        assert!(err.contains("Raise the limit"), "{err}");
        let other = Error::stage("clean", DataFusionError::Plan("no such column".into()));
        assert!(matches!(other, Error::Stage { .. }));
    }
}
