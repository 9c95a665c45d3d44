//! k-means through the UDAFs: planted blobs recovered, the sweep picks their number,
//! results independent of partitioning, k distinct centres on degenerate data.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rfmseg::config::{Algorithm, Config, Init};
use rfmseg::stages::kmeans::{self, D};

/// `per` points around each centre, normal noise with `sd`; returns points and labels.
fn blobs(centres: &[[f64; 3]], per: usize, sd: f64, seed: u64) -> (Vec<f64>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut normal = move || {
        // Box-Muller.
        let u1: f64 = rng.random::<f64>().max(1e-300);
        let u2: f64 = rng.random();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    };
    let mut pts = Vec::new();
    let mut labels = Vec::new();
    for i in 0..per {
        for (c, centre) in centres.iter().enumerate() {
            let _ = i;
            for v in centre {
                pts.push(v + sd * normal());
            }
            labels.push(c);
        }
    }
    (pts, labels)
}

/// A session whose `kmeans_input` holds the points, in `partitions` partitions.
fn session(points: &[f64], partitions: usize, target_partitions: usize) -> SessionContext {
    session_laid_out(points, partitions, target_partitions, false)
}

/// [`session`], with the partitions listed last first when `reversed`: the same rows,
/// arriving at the driver in another order.
fn session_laid_out(
    points: &[f64],
    partitions: usize,
    target_partitions: usize,
    reversed: bool,
) -> SessionContext {
    let n = points.len() / D;
    let ids: Vec<String> = (0..n).map(|i| format!("C{i:06}")).collect();
    let col = |t: usize| -> ArrayRef {
        Arc::new(Float64Array::from(
            (0..n).map(|i| points[i * D + t]).collect::<Vec<_>>(),
        ))
    };
    let batch = RecordBatch::try_from_iter(vec![
        (
            "customer_id",
            Arc::new(StringArray::from(ids.clone())) as ArrayRef,
        ),
        ("recency_z", col(0)),
        ("frequency_z", col(1)),
        ("monetary_z", col(2)),
        (
            "batch",
            Arc::new(Int64Array::from(
                ids.iter()
                    .map(|id| rfmseg_udfs::stable_hash(id) % 16)
                    .collect::<Vec<_>>(),
            )),
        ),
    ])
    .unwrap();
    let chunk = n.div_ceil(partitions);
    let mut parts: Vec<Vec<RecordBatch>> = (0..partitions)
        .map(|p| {
            let start = (p * chunk).min(n);
            let len = chunk.min(n - start);
            vec![batch.slice(start, len)]
        })
        .collect();
    if reversed {
        parts.reverse();
    }
    let ctx = SessionContext::new_with_config(
        SessionConfig::new().with_target_partitions(target_partitions),
    );
    rfmseg_udfs::register_all(&ctx);
    let table = MemTable::try_new(batch.schema(), parts).unwrap();
    ctx.register_table("kmeans_input", Arc::new(table)).unwrap();
    ctx
}

/// Adjusted Rand index (Hubert & Arabie 1985) of two labelings.
fn adjusted_rand(a: &[usize], b: &[usize]) -> f64 {
    let ka = a.iter().max().unwrap() + 1;
    let kb = b.iter().max().unwrap() + 1;
    let mut table = vec![vec![0f64; kb]; ka];
    for (x, y) in a.iter().zip(b) {
        table[*x][*y] += 1.0;
    }
    let c2 = |n: f64| n * (n - 1.0) / 2.0;
    let sum_ij: f64 = table.iter().flatten().map(|&n| c2(n)).sum();
    let sum_a: f64 = table.iter().map(|r| c2(r.iter().sum())).sum();
    let sum_b: f64 = (0..kb).map(|j| c2(table.iter().map(|r| r[j]).sum())).sum();
    let n = a.len() as f64;
    let expected = sum_a * sum_b / c2(n);
    (sum_ij - expected) / ((sum_a + sum_b) / 2.0 - expected)
}

fn labels_of(points: &[f64], centres: &[f64]) -> Vec<usize> {
    points
        .chunks_exact(D)
        .map(|p| rfmseg_udfs::nearest(centres, D, p).0)
        .collect()
}

const FOUR: [[f64; 3]; 4] = [
    [0.0, 0.0, 0.0],
    [6.0, 0.0, 0.0],
    [0.0, 6.0, 0.0],
    [0.0, 0.0, 6.0],
];

#[test]
fn adjusted_rand_index_is_one_for_a_relabelling_and_near_zero_for_noise() {
    assert_eq!(adjusted_rand(&[0, 0, 1, 1, 2], &[2, 2, 0, 0, 1]), 1.0);
    let a: Vec<usize> = (0..1000).map(|i| i % 3).collect();
    let b: Vec<usize> = (0..1000).map(|i| (i / 7) % 3).collect();
    assert!(adjusted_rand(&a, &b).abs() < 0.05);
}

#[tokio::test]
async fn planted_blobs_are_recovered_and_the_sweep_picks_their_number() {
    let (pts, truth) = blobs(&FOUR, 300, 0.6, 1);
    let ctx = session(&pts, 4, 4);
    let mut config = Config::default();
    config.kmeans.k_max = 8;
    let c = kmeans::cluster(&ctx, &config, truth.len() as u64)
        .await
        .unwrap();
    let sel = c.selection.as_ref().unwrap();
    assert_eq!(sel.chosen_k, 4, "{}", sel.reason);
    assert_eq!(sel.elbow_k, 4);
    assert_eq!(sel.fits.len(), 7);
    let ari = adjusted_rand(&labels_of(&pts, &c.model.centroids), &truth);
    assert!(ari >= 0.99, "ARI {ari}");
    assert_eq!(c.model.sizes.iter().sum::<u64>(), truth.len() as u64);
    // WCSS falls with k; the silhouettes peak at the planted k.
    let wcss: Vec<f64> = sel.fits.iter().map(|f| f.wcss).collect();
    assert!(wcss.windows(2).all(|w| w[1] <= w[0] * 1.0001), "{wcss:?}");
    assert_eq!(sel.best_silhouette_k, 4);
    let best_sample = sel
        .fits
        .iter()
        .max_by(|a, b| a.silhouette_sample.total_cmp(&b.silhouette_sample))
        .unwrap();
    assert_eq!(best_sample.k, 4);
}

#[tokio::test]
async fn three_blobs_by_minibatch_are_recovered() {
    let (pts, truth) = blobs(&FOUR[..3], 600, 0.5, 2);
    let ctx = session(&pts, 3, 3);
    let mut config = Config::default();
    config.kmeans.k = Some(3);
    config.kmeans.algorithm = Algorithm::Minibatch;
    let c = kmeans::cluster(&ctx, &config, truth.len() as u64)
        .await
        .unwrap();
    assert_eq!(c.model.algorithm, "minibatch");
    let ari = adjusted_rand(&labels_of(&pts, &c.model.centroids), &truth);
    assert!(ari >= 0.99, "ARI {ari}");
}

#[tokio::test]
async fn the_model_is_bit_identical_for_1_and_8_partitions() {
    let (pts, truth) = blobs(&FOUR, 200, 1.5, 3);
    for init in [Init::Sample, Init::Parallel] {
        let mut config = Config::default();
        config.kmeans.k_max = 5;
        config.kmeans.init = init;
        let mut results = Vec::new();
        for (parts, target) in [(1, 1), (8, 8), (3, 2)] {
            let ctx = session(&pts, parts, target);
            results.push(
                kmeans::cluster(&ctx, &config, truth.len() as u64)
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(results[0], results[1], "{init:?}");
        assert_eq!(results[0], results[2], "{init:?}");
    }
}

/// Points with no cluster structure, where the fit depends on the initial centres: the
/// init sample and the k-means|| candidates must reach the driver in the same order
/// however the partitions answer (k-means++ picks them by position).
#[tokio::test]
async fn the_model_does_not_depend_on_the_order_partitions_answer_in() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let pts: Vec<f64> = (0..3 * 3000).map(|_| rng.random::<f64>() * 4.0).collect();
    for init in [Init::Sample, Init::Parallel] {
        let mut config = Config::default();
        config.kmeans.k = Some(7);
        config.kmeans.init = init;
        // A third of the points: the sample is chosen, not all of them.
        config.kmeans.init_sample = 1000;
        let mut models = Vec::new();
        for reversed in [false, true] {
            let ctx = session_laid_out(&pts, 6, 6, reversed);
            models.push(kmeans::cluster(&ctx, &config, 3000).await.unwrap().model);
        }
        assert_eq!(models[0], models[1], "{init:?}");
    }
}

/// A sweep gathers the aggregates of all its fits into shared queries (rounds); each k
/// fitted on its own makes rounds of one. The fits must not differ by a bit, for Lloyd and
/// for mini-batch (whose steps carry a FILTER on their mini-batches).
#[tokio::test]
async fn a_sweep_fits_every_k_exactly_as_that_k_alone() {
    let (pts, truth) = blobs(&FOUR, 150, 1.0, 5);
    let ctx = session(&pts, 3, 2);
    for (algorithm, init) in [
        (Algorithm::Lloyd, Init::Sample),
        (Algorithm::Minibatch, Init::Sample),
        (Algorithm::Lloyd, Init::Parallel),
    ] {
        let mut config = Config::default();
        config.kmeans.k_max = 6;
        config.kmeans.algorithm = algorithm;
        config.kmeans.init = init;
        let sweep = kmeans::cluster(&ctx, &config, truth.len() as u64)
            .await
            .unwrap();
        let fits = &sweep.selection.as_ref().unwrap().fits;
        assert_eq!(fits.len(), 5);
        for fit in fits {
            let mut alone = config.clone();
            alone.kmeans.k = Some(fit.k as u32);
            let single = kmeans::cluster(&ctx, &alone, truth.len() as u64)
                .await
                .unwrap();
            assert_eq!(&single.model, fit, "{algorithm:?} {init:?} k = {}", fit.k);
        }
    }
}

#[tokio::test]
async fn k_distinct_centres_even_when_the_data_has_few_distinct_points() {
    // 6 distinct points, each repeated 50 times.
    let distinct: Vec<[f64; 3]> = (0..6)
        .map(|i| [i as f64, (i * i) as f64 * 0.1, 0.0])
        .collect();
    let pts: Vec<f64> = (0..50)
        .flat_map(|_| distinct.iter().flatten().copied())
        .collect();
    let ctx = session(&pts, 2, 2);
    for k in [2usize, 5, 6] {
        let mut config = Config::default();
        config.kmeans.k = Some(k as u32);
        let c = kmeans::cluster(&ctx, &config, 300).await.unwrap();
        let mut centres: Vec<Vec<u64>> = c
            .model
            .centroids
            .chunks_exact(D)
            .map(|p| p.iter().map(|v| v.to_bits()).collect())
            .collect();
        centres.sort();
        centres.dedup();
        assert_eq!(centres.len(), k, "k = {k}: {:?}", c.model.centroids);
    }
    let mut config = Config::default();
    config.kmeans.k = Some(7);
    let err = kmeans::cluster(&ctx, &config, 300)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("k = 7 but the customers have only 6 distinct feature vectors"),
        "{err}"
    );
}

/// The default range 2..10 over data k-means cannot split ten ways: capped to what it
/// can fit, with the reason saying so, instead of an error blaming `kmeans.k`. A range the
/// user gave is not capped: it fails naming where it came from.
#[tokio::test]
async fn the_default_k_range_is_capped_to_what_the_data_can_fit() {
    let point = |i: usize| [i as f64, (i * i) as f64 * 0.1, 0.0];
    // 5 customers, all distinct: k up to 4 (k = 5 would be one customer per cluster).
    let few: Vec<f64> = (0..5).flat_map(point).collect();
    // 40 customers on 3 distinct feature vectors: k up to 3.
    let repeated: Vec<f64> = (0..40).flat_map(|i| point(i % 3)).collect();
    for (pts, ks, why) in [
        (&few, vec![2, 3, 4], "there are only 5 customers"),
        (
            &repeated,
            vec![2, 3],
            "the 40 customers have only 3 distinct R/F/M values",
        ),
    ] {
        let n = (pts.len() / D) as u64;
        let ctx = session(pts, 2, 2);
        let c = kmeans::cluster(&ctx, &Config::default(), n).await.unwrap();
        let sel = c.selection.as_ref().unwrap();
        assert_eq!(sel.fits.iter().map(|f| f.k).collect::<Vec<_>>(), ks);
        let top = ks.last().unwrap();
        let note = format!(
            "the default k range 2..10 was capped to 2..{top}: {why}, and k-means can fit \
             and compare at most k = {top}. "
        );
        assert!(sel.reason.starts_with(&note), "{}", sel.reason);
        assert!(
            sel.reason[note.len()..].contains(&format!("k = {}", sel.chosen_k)),
            "{}",
            sel.reason
        );

        let mut given = Config::default();
        given.kmeans.k_range_from = Some("--k-range".into());
        let err = kmeans::cluster(&ctx, &given, n)
            .await
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            err,
            format!(
                "invalid --k-range: the k range 2..10 does not fit the data: {why}, so \
                 k-means can fit and compare at most k = {top}; give a range ending at {top} \
                 or below, or leave the range out to have the default range capped to the data"
            )
        );
    }
    // One distinct vector: no k of the range fits, and the error says it is the data.
    let ctx = session(&[1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0], 1, 1);
    let err = kmeans::cluster(&ctx, &Config::default(), 3)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with(
            "customers: the 3 customers have only 1 distinct R/F/M value: too few to choose \
             k from 2..10"
        ),
        "{err}"
    );
    assert!(!err.contains("kmeans.k"), "{err}");
    // A fixed k above the customers names --k.
    let ctx = session(&few, 1, 1);
    let mut fixed = Config::default();
    fixed.kmeans.k = Some(6);
    let err = kmeans::cluster(&ctx, &fixed, 5)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.starts_with("invalid kmeans.k (--k): k = 6 but there are only 5 customers"),
        "{err}"
    );
}

#[tokio::test]
async fn one_lloyd_iteration_moves_centres_to_the_plain_rust_means() {
    let (pts, _) = blobs(&FOUR[..3], 100, 1.0, 4);
    let ctx = session(&pts, 4, 4);
    let q = kmeans::Queries::new(&ctx);
    let start = [0.5, 0.5, 0.5, 5.0, 1.0, 0.0, 1.0, 5.0, 1.0];
    let (got, iterations, _) = kmeans::fit::lloyd(&q, start.to_vec(), 1, 0.0)
        .await
        .unwrap();
    assert_eq!(iterations, 1);
    let mut sums = [0.0; 9];
    let mut counts = [0.0; 3];
    for p in pts.chunks_exact(D) {
        let (c, _) = rfmseg_udfs::nearest(&start, D, p);
        for t in 0..D {
            sums[c * D + t] += p[t];
        }
        counts[c] += 1.0;
    }
    for c in 0..3 {
        for t in 0..D {
            let want = sums[c * D + t] / counts[c];
            assert!(
                (got[c * D + t] - want).abs() < 1e-9,
                "{c},{t}: {} vs {want}",
                got[c * D + t]
            );
        }
    }
}

/// Every k-means round counts the customers it saw: a round that does not see exactly the
/// customers being clustered (as after a partial result lost or read twice on a cluster)
/// is an error, never moved centres.
#[tokio::test]
async fn a_round_that_does_not_see_every_customer_is_an_error() {
    let (pts, _) = blobs(&FOUR[..3], 100, 1.0, 4);
    let n = (pts.len() / D) as u64;
    let ctx = session(&pts, 4, 4);
    let centres = [0.5, 0.5, 0.5, 5.0, 1.0, 0.0, 1.0, 5.0, 1.0];
    let right = kmeans::Queries::new(&ctx).expecting_rows(n);
    let step = right.step(&centres, 0, u32::MAX).await.unwrap();
    assert_eq!(step.rows(), n as f64);
    let wrong = kmeans::Queries::new(&ctx).expecting_rows(n + 1);
    let err = wrong
        .step(&centres, 0, u32::MAX)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("saw {n} customers, kmeans_input has {}", n + 1)),
        "{err}"
    );
    assert!(err.contains("did not add up"), "{err}");
}
