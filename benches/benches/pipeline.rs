//! The whole job (`rfmseg run`: clean, RFM, k-means with k chosen from 2..10, labels,
//! segments, outputs) on the same lake, embedded and on a local Ballista cluster of 1 and
//! 2 executors. The scheduler and executors are separate processes: this bench binary
//! started again with `RFMSEG_BENCH_ROLE` set, so they run exactly the code under test.
//! Each cluster has as many task slots in all as the machine has cores, like embedded.
//! `RFMSEG_BENCH_CLUSTER=df://host:port` benches an existing cluster instead (the lake
//! and the cache folder must then be on storage its executors share).

use criterion::{Criterion, Throughput};
use rfmseg::Config;
use rfmseg::exec::Engine;
use rfmseg::pipeline::{RunOptions, run};
use rfmseg_benches::cluster::{LocalCluster, cores, serve_if_asked};
use rfmseg_benches::{cluster_engine, data_dir, external_cluster, lake, runtime, sizes};

fn main() {
    if serve_if_asked() {
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    let external = external_cluster();
    for n in sizes() {
        let lake = lake(n);
        let out = data_dir().join(format!("pipeline-out-{n}"));
        group.throughput(Throughput::Elements(n));
        let mut run_on = |name: String, engine: Engine| {
            let opts = RunOptions {
                lake: lake.clone(),
                out: out.clone(),
                config: Config::default(),
                progress: false,
                engine,
            };
            // Jobs per run on a cluster (queries embedded), from the run's own count.
            let report = rt.block_on(run(&opts)).expect("run").report;
            let total: u64 = report.timings.iter().map(|t| t.queries).sum();
            let fit: u64 = report.timings.iter().map(|t| t.fit_queries).sum();
            let stages: Vec<String> = report
                .timings
                .iter()
                .map(|t| format!("{} {}", t.stage, t.queries))
                .collect();
            println!(
                "pipeline/{name}/{n}: {total} queries per run ({} without the {fit} CLV fit \
                 evaluations): {}",
                total - fit,
                stages.join(", ")
            );
            group.bench_function(format!("{name}/{n}"), |b| {
                b.iter(|| rt.block_on(run(&opts)).expect("run"))
            });
        };
        run_on("embedded".into(), Engine::Embedded);
        match &external {
            Some(engine) => run_on("cluster".into(), engine.clone()),
            None => {
                for executors in [1, 2] {
                    let cluster = LocalCluster::start(executors, (cores() / executors).max(1));
                    run_on(
                        format!("cluster-{executors}"),
                        cluster_engine(cluster.url.clone()),
                    );
                }
            }
        }
    }
    group.finish();
}
