//! k-means: one Lloyd iteration through the `kmeans_step` UDAF (SQL over the in-memory
//! features, all cores) against a hand-written single-threaded f64 loop over the same
//! Arrow arrays; the full k sweep (fits, WCSS and both silhouettes); and mini-batch
//! against Lloyd. Customers: RFMSEG_BENCH_CUSTOMERS (default 100000), synthetic scaled
//! features in four blobs.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use rfmseg::config::{Algorithm, Config, Init};
use rfmseg::stages::kmeans::{self, D, Queries};
use rfmseg_benches::runtime;

fn customers() -> Vec<usize> {
    std::env::var("RFMSEG_BENCH_CUSTOMERS")
        .ok()
        .map(|s| {
            s.split(',')
                .filter_map(|t| t.trim().replace('_', "").parse().ok())
                .collect()
        })
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![100_000])
}

/// Four blobs in 3-D, deterministic (a xorshift, Irwin-Hall noise).
fn features(n: usize) -> RecordBatch {
    let centres = [
        [-1.0, -0.5, -0.5],
        [1.2, -0.5, 0.0],
        [0.0, 1.5, 1.0],
        [-0.8, -0.3, 1.5],
    ];
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut uniform = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut cols: Vec<Vec<f64>> = (0..D).map(|_| Vec::with_capacity(n)).collect();
    for i in 0..n {
        let c = centres[i % 4];
        for t in 0..D {
            let noise: f64 = (0..4).map(|_| uniform()).sum::<f64>() - 2.0;
            cols[t].push(c[t] + 0.6 * noise);
        }
    }
    let ids: Vec<String> = (0..n).map(|i| format!("C{i:09}")).collect();
    let batch: Vec<i64> = ids
        .iter()
        .map(|id| rfmseg_udfs::stable_hash(id) % 16)
        .collect();
    RecordBatch::try_from_iter(vec![
        ("customer_id", Arc::new(StringArray::from(ids)) as ArrayRef),
        (
            "recency_z",
            Arc::new(Float64Array::from(cols[0].clone())) as ArrayRef,
        ),
        (
            "frequency_z",
            Arc::new(Float64Array::from(cols[1].clone())) as ArrayRef,
        ),
        (
            "monetary_z",
            Arc::new(Float64Array::from(cols[2].clone())) as ArrayRef,
        ),
        ("batch", Arc::new(Int64Array::from(batch)) as ArrayRef),
    ])
    .expect("batch")
}

fn session(batch: &RecordBatch) -> SessionContext {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(cores));
    rfmseg_udfs::register_all(&ctx);
    // One partition per core, in 64k-row batches, as a MemTable (the embedded mode keeps
    // the features in memory between iterations).
    let n = batch.num_rows();
    let per = n.div_ceil(cores);
    let parts: Vec<Vec<RecordBatch>> = (0..cores)
        .map(|p| {
            let start = (p * per).min(n);
            let end = ((p + 1) * per).min(n);
            (start..end)
                .step_by(65_536)
                .map(|s| batch.slice(s, (end - s).min(65_536)))
                .collect()
        })
        .collect();
    let table = MemTable::try_new(batch.schema(), parts).expect("memtable");
    ctx.register_table("kmeans_input", Arc::new(table))
        .expect("register");
    ctx
}

/// The baseline: nearest centre, sums, counts and cost in one f64 loop, one thread.
fn hand_loop(batch: &RecordBatch, centres: &[f64]) -> (Vec<f64>, Vec<u64>, f64) {
    let k = centres.len() / D;
    let col = |i: usize| {
        batch
            .column(i)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("f64")
            .values()
            .clone()
    };
    let (x, y, z) = (col(1), col(2), col(3));
    let mut sums = vec![0.0; k * D];
    let mut counts = vec![0u64; k];
    let mut cost = 0.0;
    for i in 0..x.len() {
        let p = [x[i], y[i], z[i]];
        let mut best = (0, f64::INFINITY);
        for c in 0..k {
            let d: f64 = (0..D).map(|t| (p[t] - centres[c * D + t]).powi(2)).sum();
            if d < best.1 {
                best = (c, d);
            }
        }
        for t in 0..D {
            sums[best.0 * D + t] += p[t];
        }
        counts[best.0] += 1;
        cost += best.1;
    }
    (sums, counts, cost)
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("kmeans");
    group.sample_size(10);
    for n in customers() {
        let batch = features(n);
        let ctx = session(&batch);
        let centres: Vec<f64> = (0..8)
            .flat_map(|i| [i as f64 * 0.3 - 1.0, (i % 3) as f64 - 1.0, 0.5])
            .collect();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("lloyd_iteration_udaf_k8/{n}"), |b| {
            let q = Queries::new(&ctx);
            b.iter(|| rt.block_on(q.step(&centres, 0, u32::MAX)).expect("step"))
        });
        group.bench_function(format!("lloyd_iteration_hand_loop_1_thread_k8/{n}"), |b| {
            b.iter(|| hand_loop(&batch, &centres))
        });
        if n > 2_000_000 {
            // The sweep and the fits take minutes per sample at this size; the per-iteration
            // figures above are what scale.
            continue;
        }
        // The default start (the best of 10 on a sample) and Spark's k-means||.
        for (init, name) in [(Init::Sample, ""), (Init::Parallel, "_kmeans_parallel")] {
            let mut config = Config::default();
            config.kmeans.algorithm = Algorithm::Lloyd;
            config.kmeans.init = init;
            group.bench_function(format!("k_sweep_2_to_10{name}/{n}"), |b| {
                b.iter(|| {
                    rt.block_on(kmeans::cluster(&ctx, &config, n as u64))
                        .expect("sweep")
                })
            });
        }
        for algorithm in [Algorithm::Lloyd, Algorithm::Minibatch] {
            let mut config = Config::default();
            config.kmeans.k = Some(4);
            config.kmeans.algorithm = algorithm;
            let fit = rt
                .block_on(kmeans::cluster(&ctx, &config, n as u64))
                .expect("fit");
            eprintln!(
                "{algorithm:?} k=4 on {n}: wcss {:.6e}, iterations {}, silhouette {:.4}",
                fit.model.wcss, fit.model.iterations, fit.model.silhouette
            );
            group.bench_function(format!("fit_k4_{algorithm:?}/{n}").to_lowercase(), |b| {
                b.iter(|| {
                    rt.block_on(kmeans::cluster(&ctx, &config, n as u64))
                        .expect("fit")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
