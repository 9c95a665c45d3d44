//! RFM from the lake: cleaning plus every RFM stage (purchases, window, RFM, scaler,
//! scores), in reviews/s; and the RFM stages alone on the cleaned tables, in cleaned
//! purchases/s. Compare with benches/duckdb_rfm.py on the same lake.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rfmseg::Config;
use rfmseg_benches::{lake, runtime, sizes};

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let config = Config::default();
    let mut group = c.benchmark_group("rfm");
    group.sample_size(10);
    for n in sizes() {
        let lake = lake(n);
        group.throughput(Throughput::Elements(n));
        group.bench_function(format!("lake_to_customers/{n}"), |b| {
            b.iter(|| {
                rt.block_on(rfmseg::lake_features(&lake, &config))
                    .expect("features")
            })
        });
        let (ctx, quality) = rt
            .block_on(rfmseg::clean_lake(&lake, &config))
            .expect("clean");
        group.throughput(Throughput::Elements(quality.kept("reviews")));
        group.bench_function(format!("rfm_stages_on_clean/{n}"), |b| {
            b.iter(|| {
                rt.block_on(rfmseg::stages::rfm::features(&ctx, &config))
                    .expect("rfm")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
