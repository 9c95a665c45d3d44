//! How each stage grows with the data: ingest and every stage of `rfmseg run` at each
//! size of `RFMSEG_BENCH_REVIEWS` (at least 3; default 50k, 100k, 200k so `cargo bench`
//! stays short), each size in a fresh process (this binary again, with
//! `RFMSEG_BENCH_ROLE=run:N`) so its peak memory is its own, `RFMSEG_BENCH_REPEATS` runs per
//! size (default 3, the median is kept). Prints, per stage, the seconds at each size and
//! the exponent a of the least-squares fit time = c * rows^a (1 is linear), and writes the
//! same table to `<bench data>/scaling.md`. With `RFMSEG_BENCH_CLUSTER=df://host:port` the
//! job runs on that cluster (ingest stays local; the peak memory is then the client's).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

use rfmseg::Config;
use rfmseg::ingest::{IngestOptions, ingest};
use rfmseg::pipeline::{RunOptions, peak_rss_mib, run};
use rfmseg_benches::{data_dir, external_cluster, raw, runtime};

const ROLE: &str = "RFMSEG_BENCH_ROLE";

fn main() {
    if let Ok(role) = std::env::var(ROLE) {
        let n: u64 = role.trim_start_matches("run:").parse().expect("size");
        measure(n);
        return;
    }
    // `cargo test` runs bench targets once as a smoke test: nothing to measure there.
    if !std::env::args().any(|a| a == "--bench") {
        println!("scaling: run with `cargo bench --bench scaling`");
        return;
    }
    let sizes = sizes();
    let repeats: usize = std::env::var("RFMSEG_BENCH_REPEATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let exe = std::env::current_exe().expect("bench binary");
    // stage -> size -> seconds of each repeat; size -> peak MiB
    let mut times: BTreeMap<String, BTreeMap<u64, Vec<f64>>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut peak: BTreeMap<u64, f64> = BTreeMap::new();
    for &n in &sizes {
        raw(n);
        for _ in 0..repeats {
            let out = Command::new(&exe)
                .env(ROLE, format!("run:{n}"))
                .output()
                .expect("start measurement");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let mut f = line.split('\t');
                let (Some(stage), Some(secs)) = (f.next(), f.next()) else {
                    continue;
                };
                if stage == "peak_mib" {
                    let v: f64 = secs.parse().unwrap_or(0.0);
                    let e = peak.entry(n).or_default();
                    *e = e.max(v);
                    continue;
                }
                if !order.iter().any(|s| s == stage) {
                    order.push(stage.to_string());
                }
                times
                    .entry(stage.to_string())
                    .or_default()
                    .entry(n)
                    .or_default()
                    .push(secs.parse().unwrap_or(f64::NAN));
            }
        }
    }
    let table = render(&sizes, &order, &times, &peak, repeats);
    print!("{table}");
    let path = data_dir().join("scaling.md");
    std::fs::write(&path, &table).expect("write scaling.md");
    println!("written to {}", path.display());
}

fn sizes() -> Vec<u64> {
    let s = rfmseg_benches::sizes();
    if std::env::var("RFMSEG_BENCH_REVIEWS").is_ok() && s.len() >= 3 {
        s
    } else if std::env::var("RFMSEG_BENCH_REVIEWS").is_ok() {
        panic!("the scaling bench needs 3 or more sizes in RFMSEG_BENCH_REVIEWS");
    } else {
        vec![50_000, 100_000, 200_000]
    }
}

/// One size, in this (fresh) process: ingest the cached raw files into a new lake, run
/// the job on it, print `stage<TAB>seconds` lines and the peak memory.
fn measure(n: u64) {
    let g = raw(n);
    let dir = data_dir().join(format!("scaling-{n}-{}", std::process::id()));
    let lake = dir.join("lake");
    let started = Instant::now();
    ingest(&IngestOptions::new(&g.reviews_path, &g.items_path, &lake)).expect("ingest");
    println!("ingest\t{}", started.elapsed().as_secs_f64());
    let rt = runtime();
    let started = Instant::now();
    let summary = rt
        .block_on(run(&RunOptions {
            lake: lake.clone(),
            out: dir.join("out"),
            config: Config::default(),
            progress: false,
            engine: external_cluster().unwrap_or_default(),
        }))
        .expect("run");
    for t in &summary.report.timings {
        println!("{}\t{}", t.stage, t.seconds);
    }
    println!("run (all stages)\t{}", started.elapsed().as_secs_f64());
    println!("peak_mib\t{}", peak_rss_mib());
    let _ = std::fs::remove_dir_all(&dir);
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The slope of log(time) against log(rows), least squares.
fn exponent(points: &[(f64, f64)]) -> f64 {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|(_, t)| *t > 0.0)
        .map(|(n, t)| (n.ln(), t.ln()))
        .collect();
    let k = pts.len() as f64;
    let (sx, sy) = pts.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / k, sy / k);
    let cov: f64 = pts.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let var: f64 = pts.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    cov / var
}

fn render(
    sizes: &[u64],
    order: &[String],
    times: &BTreeMap<String, BTreeMap<u64, Vec<f64>>>,
    peak: &BTreeMap<u64, f64>,
    repeats: usize,
) -> String {
    let engine = match std::env::var("RFMSEG_BENCH_CLUSTER") {
        Ok(url) => format!("on the cluster {url} (peak RSS: the client's)"),
        Err(_) => "embedded".into(),
    };
    let mut s = format!(
        "Seconds per stage, {engine}, median of {repeats} runs [min-max], each size in its \
         own process; a = fitted exponent of time ~ reviews^a\n\n| stage |"
    );
    for n in sizes {
        s.push_str(&format!(" {n} reviews |"));
    }
    s.push_str(" a |\n|---|");
    for _ in sizes {
        s.push_str("---|");
    }
    s.push_str("---|\n");
    for stage in order {
        let by_size = &times[stage];
        s.push_str(&format!("| {stage} |"));
        let mut pts = Vec::new();
        for n in sizes {
            let v = &by_size[n];
            let (lo, hi) = v
                .iter()
                .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            let m = median(v);
            pts.push((*n as f64, m));
            s.push_str(&format!(" {m:.3} [{lo:.3}-{hi:.3}] |"));
        }
        s.push_str(&format!(" {:.2} |\n", exponent(&pts)));
    }
    s.push_str("| peak RSS, MiB |");
    let mut pts = Vec::new();
    for n in sizes {
        let p = peak.get(n).copied().unwrap_or(0.0);
        pts.push((*n as f64, p));
        s.push_str(&format!(" {p:.0} |"));
    }
    s.push_str(&format!(" {:.2} |\n", exponent(&pts)));
    s
}
