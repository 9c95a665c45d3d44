//! The cost of one Ballista job and the scheduler's memory over many: 1,000 small queries
//! (`RFMSEG_BENCH_JOBS`) from one client session to a local cluster of 2 executors, each
//! timed; the scheduler's resident memory (VmRSS) every 100 jobs and after its finished
//! jobs expire (`RFMSEG_BENCH_JOB_TTL` seconds, default 10, the `rfmseg scheduler`
//! default). A job here is what a k-means round or a one-row stage query costs beyond its
//! work: submission, planning, scheduling, the tasks, the result fetch. Set
//! `RFMSEG_BENCH_PARTITIONS` to see what more partitions (tasks per stage) cost.

use std::time::{Duration, Instant};

use datafusion::prelude::SessionContext;
use rfmseg::Config;
use rfmseg::exec::{Session, collect, query_count};
use rfmseg_benches::cluster::{LocalCluster, cores, serve_if_asked};
use rfmseg_benches::{cluster_engine, data_dir, runtime};

fn main() {
    if serve_if_asked() {
        return;
    }
    let jobs: usize = std::env::var("RFMSEG_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let ttl: u64 = std::env::var("RFMSEG_BENCH_JOB_TTL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let cluster = LocalCluster::start(2, (cores() / 2).max(1));
    let pid = cluster.scheduler_pid();
    let rt = runtime();
    let out = data_dir().join("scheduler-jobs-out");
    // Two partitions, as `rfmseg run` sizes them for a lake of up to 8M rows.
    let mut config = Config::default();
    config.engine.target_partitions = std::env::var("RFMSEG_BENCH_PARTITIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let session = rt
        .block_on(Session::open(
            &cluster_engine(cluster.url.clone()),
            &config,
            &out,
        ))
        .expect("cluster session");
    let ctx = session.ctx.clone();
    // A one-row aggregate over a small Parquet table: the shape of a k-means round.
    let table = data_dir().join("scheduler-jobs-table");
    let _ = std::fs::remove_dir_all(&table);
    std::fs::create_dir_all(&table).expect("table folder");
    let url = format!("{}/", table.display());
    rt.block_on(async {
        let local = SessionContext::new();
        local
            .sql("SELECT CAST(value AS DOUBLE) AS x FROM generate_series(1, 10000)")
            .await?
            .write_parquet(&url, Default::default(), None)
            .await?;
        ctx.register_parquet("t", &url, Default::default()).await
    })
    .expect("table");
    println!("scheduler_jobs: {jobs} jobs, 2 executors, finished-job ttl {ttl} s");
    println!("jobs\tscheduler_rss_mib\tmedian_ms\tp90_ms");
    println!("0\t{:.1}\t-\t-", rss_mib(pid));
    let mut times = Vec::with_capacity(jobs);
    for i in 1..=jobs {
        let started = Instant::now();
        one_job(&rt, &ctx, i);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        if i % 100 == 0 {
            let (median, p90) = quantiles(&times[i - 100..]);
            println!("{i}\t{:.1}\t{median:.1}\t{p90:.1}", rss_mib(pid));
        }
    }
    let (median, p90) = quantiles(&times);
    let counted = query_count(&ctx).map_or(0, |c| c.read().queries);
    println!(
        "all {jobs} jobs: median {median:.1} ms, p90 {p90:.1} ms ({counted} counted by the session)"
    );
    std::thread::sleep(Duration::from_secs(ttl + 5));
    println!(
        "after the ttl ({} s later): scheduler rss {:.1} MiB",
        ttl + 5,
        rss_mib(pid)
    );
}

fn one_job(rt: &tokio::runtime::Runtime, ctx: &SessionContext, i: usize) {
    let sql = format!("SELECT sum(x * {i}) AS s, count(*) AS n FROM t");
    let batches = rt.block_on(collect(ctx, "bench", &sql)).expect("job");
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
}

/// Median and 90th percentile of `ms`.
fn quantiles(ms: &[f64]) -> (f64, f64) {
    let mut v = ms.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9))
}

/// VmRSS of process `pid` in MiB.
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
