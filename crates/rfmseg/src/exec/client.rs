//! The client side of `--cluster df://host:port`: a session whose queries are planned
//! here and executed by the scheduler's executors.

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use super::work_dir::SharedWorkDir;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::storage::{Location, s3};

/// How long the client waits for the scheduler's port before giving up. Ballista itself
/// connects lazily (at the first query) and retries, which looks like a hang.
const ADAPTIVE_PLANNER: &str = "ballista.planner.adaptive.enabled";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A scheduler address as the user writes it: `df://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterUrl {
    pub host: String,
    pub port: u16,
}

impl ClusterUrl {
    pub fn parse(url: &str) -> Result<ClusterUrl> {
        let bad = |message: &str| Error::Config {
            key: "--cluster".into(),
            message: format!(
                "{message} in \"{url}\"; expected df://host:port, e.g. df://127.0.0.1:50050"
            ),
        };
        let rest = url
            .strip_prefix("df://")
            .ok_or_else(|| bad("the scheme is not df://"))?;
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("no port"))?;
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = port
            .trim_end_matches('/')
            .parse::<u16>()
            .map_err(|_| bad("the port is not a number from 1 to 65535"))?;
        Ok(ClusterUrl {
            host: host.to_string(),
            port,
        })
    }
}

impl std::fmt::Display for ClusterUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "df://{}:{}", self.host, self.port)
    }
}

/// A session on the Ballista cluster at `url`, with rfmseg's functions, keeping its
/// intermediate tables under `work_dir`.
pub async fn cluster_context(
    url: &ClusterUrl,
    config: &Config,
    work_dir: Location,
    query_timeout: Duration,
) -> Result<SessionContext> {
    probe(url).await?;
    let work = SharedWorkDir::new(
        work_dir,
        query_timeout,
        config.engine.target_partitions == 0,
    );
    let mut session = super::session_config(
        SessionConfig::new_with_ballista().with_extension(Arc::new(work)),
        config,
    );
    // The static distributed planner, not AQE: with AQE on, Ballista 55 cannot recover a
    // stage whose executor was lost ("Can't find active stage to update stage outputs")
    // and the job hangs; the static planner reruns the lost tasks on the other executors.
    session = session.set_bool(ADAPTIVE_PLANNER, false);
    // rfmseg's scheduler has every task of a write's last stage write its own file
    // (cluster::parallel_write): one file per task, not DataFusion's four, keeps the work
    // folder to a few objects per table.
    session = session.set_usize("datafusion.execution.minimum_parallel_output_files", 1);
    let runtime = s3::runtime_env(None, None).map_err(|e| Error::Internal(e.to_string()))?;
    let state = SessionStateBuilder::new()
        .with_config(session)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    let ctx = SessionContext::remote_with_state(&format!("df://{}:{}", url.host, url.port), state)
        .await
        .map_err(|e| unreachable(url, &e.to_string()))?;
    // Ballista replaced the state's function lists with its defaults: rfmseg's go back on.
    rfmseg_udfs::register_all(&ctx);
    Ok(ctx)
}

/// Fails within seconds, with what to do, when nothing listens at the scheduler's address.
async fn probe(url: &ClusterUrl) -> Result<()> {
    let target = format!("{}:{}", url.host, url.port);
    let addrs: Vec<_> = target
        .to_socket_addrs()
        .map_err(|e| unreachable(url, &format!("cannot resolve {}: {e}", url.host)))?
        .collect();
    let mut last = String::from("no address");
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
        }
    }
    Err(unreachable(url, &last))
}

fn unreachable(url: &ClusterUrl, why: &str) -> Error {
    Error::Cluster {
        url: url.to_string(),
        message: format!("cannot reach the Ballista scheduler: {why}"),
        hint: "start one with `rfmseg scheduler --bind HOST:PORT` (and executors with \
               `rfmseg executor --scheduler HOST:PORT`), or drop --cluster to run embedded"
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cluster_urls() {
        assert_eq!(
            ClusterUrl::parse("df://127.0.0.1:50050").unwrap(),
            ClusterUrl {
                host: "127.0.0.1".into(),
                port: 50050
            }
        );
        assert_eq!(ClusterUrl::parse("df://sched:1/").unwrap().port, 1);
        for bad in [
            "127.0.0.1:50050",
            "df://host",
            "df://:50050",
            "df://h:99999",
            "http://h:1",
        ] {
            let e = ClusterUrl::parse(bad).unwrap_err().to_string();
            assert!(
                e.contains("--cluster") && e.contains("df://host:port"),
                "{bad}: {e}"
            );
        }
    }

    #[tokio::test]
    async fn unreachable_scheduler_fails_fast_with_a_hint() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = ClusterUrl {
            host: "127.0.0.1".into(),
            port,
        };
        let started = std::time::Instant::now();
        let err = cluster_context(
            &url,
            &Config::default(),
            Location::Local("/tmp".into()),
            Duration::from_secs(9),
        )
        .await
        .err()
        .expect("no scheduler there")
        .to_string();
        assert!(started.elapsed() < Duration::from_secs(6));
        assert!(err.contains(&format!("df://127.0.0.1:{port}")), "{err}");
        assert!(err.contains("cannot reach the Ballista scheduler"), "{err}");
        assert!(err.contains("rfmseg scheduler"), "{err}");
    }
}
