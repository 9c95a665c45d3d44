//! Raw data: generation rate and ingest rate (JSONL -> lake) in reviews/s, and, for
//! comparison, a plain single-threaded `arrow-json` read of the same reviews file into
//! the lake's columns (it tokenizes every byte of every line; rfmseg's scanner skips the
//! values it does not keep). Sizes: RFMSEG_BENCH_REVIEWS.

use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rfmseg::generate::{GenerateOptions, generate};
use rfmseg::ingest::{IngestOptions, ingest};
use rfmseg_benches::{data_dir, raw, sizes};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("raw");
    group.sample_size(10);
    for n in sizes() {
        group.throughput(Throughput::Elements(n));
        let scratch = data_dir().join(format!("scratch-gen-{n}"));
        group.bench_function(format!("generate/{n}"), |b| {
            b.iter(|| {
                generate(&GenerateOptions {
                    reviews: n,
                    seed: 42,
                    out: scratch.clone(),
                    gzip: false,
                    malformed_rate: 0.0,
                })
                .expect("generate")
            })
        });
        let _ = std::fs::remove_dir_all(&scratch);

        let g = raw(n);
        let lake = data_dir().join(format!("scratch-lake-{n}"));
        group.bench_function(format!("ingest_jsonl/{n}"), |b| {
            b.iter(|| {
                ingest(&IngestOptions::new(&g.reviews_path, &g.items_path, &lake)).expect("ingest")
            })
        });
        let _ = std::fs::remove_dir_all(&lake);

        let schema = Arc::new(Schema::new(vec![
            Field::new("user_id", DataType::Utf8, true),
            Field::new("parent_asin", DataType::Utf8, true),
            Field::new("asin", DataType::Utf8, true),
            Field::new("rating", DataType::Float64, true),
            Field::new("timestamp", DataType::Int64, true),
            Field::new("verified_purchase", DataType::Boolean, true),
            Field::new("helpful_vote", DataType::Int64, true),
        ]));
        group.bench_function(format!("arrow_json_read_reviews/{n}"), |b| {
            b.iter(|| {
                let f = File::open(&g.reviews_path).expect("open");
                let reader = arrow::json::ReaderBuilder::new(schema.clone())
                    .with_batch_size(64 * 1024)
                    .build(BufReader::with_capacity(1 << 20, f))
                    .expect("reader");
                let mut rows = 0;
                for batch in reader {
                    rows += batch.expect("batch").num_rows();
                }
                assert_eq!(rows as u64, g.review_lines);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
