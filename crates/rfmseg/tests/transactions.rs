//! A shop's transactions (`ingest --transactions`, DESIGN §3b): an export written by the
//! test (quoted fields with delimiters and newlines, returns, cancelled invoices, lines
//! without a customer, a repeated line), ingested from CSV, JSON Lines and Parquet, gives
//! the R, F and M of a plain Rust computation over the same rows, the same bytes from every
//! format, and clear errors for bad input.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use chrono::{NaiveDate, NaiveDateTime};
use common::{read_parquet_dir, run_with};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rfmseg::config::{Config, SourceConfig};
use rfmseg::ingest::OnBadLine;
use rfmseg::ingest::transactions::{TransactionsOptions, ingest_transactions};

/// One line of the export.
#[derive(Debug, Clone)]
struct Line {
    invoice: String,
    item: String,
    description: String,
    quantity: i64,
    /// Minutes since 2023-01-01 00:00.
    minute: i64,
    /// Unit price in cents.
    cents: i64,
    customer: Option<String>,
    country: String,
}

impl Line {
    fn time(&self) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2023, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            + chrono::TimeDelta::minutes(self.minute)
    }
    /// Days since 1970-01-01 (UTC).
    fn day(&self) -> i64 {
        self.time().and_utc().timestamp().div_euclid(86_400)
    }
    fn cancelled(&self) -> bool {
        self.invoice.starts_with('C')
    }
    /// The line's amount in cents as rfmseg nets it: negative for a return or a line of a
    /// cancelled invoice.
    fn amount_cents(&self) -> i64 {
        let a = self.quantity * self.cents;
        if self.cancelled() { -a.abs() } else { a }
    }
}

/// A shop's year and a half: invoices of 1-4 lines, some returns (negative quantity) and
/// cancelled invoices ('C'), a quarter of lines without a customer, one line repeated.
fn export(seed: u64) -> Vec<Line> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut lines = Vec::new();
    let descriptions = ["MUG", "LAMP, \"retro\"", "CARD\nSET", "BAG; large"];
    for c in 0..250 {
        let customer = format!("{}", 12_000 + c);
        let invoices = rng.random_range(1..10);
        let first = rng.random_range(0..500 * 1440);
        for i in 0..invoices {
            let minute = (first + i * rng.random_range(1_000..60_000)).min(540 * 1440);
            let invoice = format!("{}", 500_000 + c * 40 + i);
            for _ in 0..rng.random_range(1..5) {
                lines.push(Line {
                    invoice: invoice.clone(),
                    item: format!("SKU{}", rng.random_range(1..40)),
                    description: descriptions[rng.random_range(0..4)].to_string(),
                    quantity: rng.random_range(1..12),
                    minute,
                    cents: rng.random_range(10..5_000),
                    customer: Some(customer.clone()),
                    country: ["United Kingdom", "France", "EIRE"][rng.random_range(0..3)].into(),
                });
            }
            if rng.random::<f64>() < 0.08 {
                let mut l = lines.last().unwrap().clone();
                l.quantity = -l.quantity.min(2);
                l.minute += 1440;
                lines.push(l);
            }
            if rng.random::<f64>() < 0.05 {
                let mut l = lines.last().unwrap().clone();
                l.invoice = format!("C{}", l.invoice);
                l.quantity = l.quantity.abs();
                l.minute += 2 * 1440;
                lines.push(l);
            }
        }
    }
    for i in 0..(lines.len() / 3) as i64 {
        let mut l = lines[(i * 7) as usize % lines.len()].clone();
        l.customer = None;
        l.invoice = format!("{}", 700_000 + i);
        lines.push(l);
    }
    let repeated = lines[3].clone();
    lines.push(repeated);
    lines
}

fn csv_text(lines: &[Line]) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n",
    );
    for l in lines {
        out.push_str(&format!(
            "{},{},{},{},{},{}.{:02},{},{}\n",
            l.invoice,
            l.item,
            quote(&l.description),
            l.quantity,
            l.time().format("%m/%d/%Y %H:%M"),
            l.cents / 100,
            l.cents % 100,
            l.customer.clone().unwrap_or_default(),
            quote(&l.country)
        ));
    }
    out
}

fn jsonl_text(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|l| {
            serde_json::json!({
                "InvoiceNo": l.invoice,
                "StockCode": l.item,
                "Description": l.description,
                "Quantity": l.quantity,
                "InvoiceDate": l.time().format("%m/%d/%Y %H:%M").to_string(),
                "UnitPrice": l.cents as f64 / 100.0,
                "CustomerID": l.customer,
                "Country": l.country,
            })
            .to_string()
                + "\n"
        })
        .collect()
}

fn write_parquet(path: &Path, lines: &[Line]) {
    let text = |f: &dyn Fn(&Line) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from(lines.iter().map(f).collect::<Vec<_>>()))
    };
    let batch = RecordBatch::try_from_iter(vec![
        ("InvoiceNo", text(&|l| Some(l.invoice.clone()))),
        ("StockCode", text(&|l| Some(l.item.clone()))),
        (
            "Quantity",
            Arc::new(Int64Array::from_iter_values(
                lines.iter().map(|l| l.quantity),
            )) as ArrayRef,
        ),
        (
            "InvoiceDate",
            text(&|l| Some(l.time().format("%m/%d/%Y %H:%M").to_string())),
        ),
        (
            "UnitPrice",
            Arc::new(Float64Array::from_iter_values(
                lines.iter().map(|l| l.cents as f64 / 100.0),
            )),
        ),
        ("CustomerID", text(&|l| l.customer.clone())),
        ("Country", text(&|l| Some(l.country.clone()))),
    ])
    .unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn uci_mapping() -> SourceConfig {
    // The generator's export has the same columns as the one written here.
    rfmseg::generate::shop::shop_mapping()
}

fn ingest(inputs: &[PathBuf], out: &Path, source: SourceConfig) -> rfmseg::Result<u64> {
    ingest_transactions(&TransactionsOptions {
        inputs: inputs.to_vec(),
        out: out.to_path_buf(),
        source,
        on_bad_line: OnBadLine::Fail,
    })
    .map(|s| s.transactions.map_or(0, |t| t.rows))
}

/// The lines cleaning keeps, plainly: exact duplicates once, lines without a customer
/// dropped.
fn cleaned(lines: &[Line]) -> Vec<&Line> {
    let mut seen = BTreeSet::new();
    lines
        .iter()
        .filter(|l| l.customer.is_some())
        .filter(|l| seen.insert(format!("{l:?}")))
        .collect()
}

/// customer -> (recency, frequency, monetary in cents) by the rules of DESIGN §3b, in
/// plain Rust: exact duplicate lines once, lines without a customer dropped, the as-of day
/// the newest remaining line's, a 365-day window; purchases are distinct invoices with a
/// line above 0.25, returns (negative or cancelled) netted into monetary, never below 0.
fn plain_rfm(lines: &[Line], window_days: i64) -> BTreeMap<String, (i64, i64, i64)> {
    let kept = cleaned(lines);
    let as_of = kept.iter().map(|l| l.day()).max().unwrap();
    let mut per: BTreeMap<String, (i64, BTreeSet<String>, i64)> = BTreeMap::new();
    for l in kept.iter().filter(|l| l.day() > as_of - window_days) {
        let a = l.amount_cents();
        let e = per
            .entry(l.customer.clone().unwrap())
            .or_insert((i64::MIN, BTreeSet::new(), 0));
        if a > 25 {
            e.0 = e.0.max(l.day());
            e.1.insert(l.invoice.clone());
            e.2 += a;
        } else if a < 0 {
            e.2 += a;
        }
    }
    per.into_iter()
        .filter(|(_, (last, _, _))| *last > i64::MIN)
        .map(|(c, (last, orders, cents))| {
            (c, (as_of + 1 - last, orders.len() as i64, cents.max(0)))
        })
        .collect()
}

/// customer -> (recency, frequency, monetary in cents) from a customers.parquet.
fn rfm_of(path: &Path) -> BTreeMap<String, (i64, i64, i64)> {
    let mut out = BTreeMap::new();
    for b in read_parquet_dir(path) {
        let ids = arrow::compute::cast(b.column_by_name("customer_id").unwrap(), &DataType::Utf8)
            .unwrap();
        let int = |n: &str| {
            arrow::compute::cast(b.column_by_name(n).unwrap(), &DataType::Int64)
                .unwrap()
                .as_primitive::<Int64Type>()
                .clone()
        };
        let (r, f) = (int("recency"), int("frequency"));
        let m = b
            .column_by_name("monetary")
            .unwrap()
            .as_primitive::<Float64Type>()
            .clone();
        for i in 0..b.num_rows() {
            out.insert(
                ids.as_string::<i32>().value(i).to_string(),
                (r.value(i), f.value(i), (m.value(i) * 100.0).round() as i64),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_in_any_format_gives_the_rfm_of_a_plain_computation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lines = export(3);
    let customers_with_a_line: BTreeSet<_> =
        lines.iter().filter_map(|l| l.customer.clone()).collect();
    std::fs::write(d.join("retail.csv"), csv_text(&lines)).unwrap();
    std::fs::write(d.join("retail.jsonl"), jsonl_text(&lines)).unwrap();
    write_parquet(&d.join("retail.parquet"), &lines);
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(d.join("retail.csv.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    std::io::Write::write_all(&mut gz, csv_text(&lines).as_bytes()).unwrap();
    gz.finish().unwrap();

    let want = plain_rfm(&lines, 365);
    assert!(want.len() > 150 && want.len() <= customers_with_a_line.len());
    let mut outputs = Vec::new();
    for input in [
        "retail.csv",
        "retail.csv.gz",
        "retail.jsonl",
        "retail.parquet",
    ] {
        let lake = d.join(format!("lake-{input}"));
        let rows = ingest(&[d.join(input)], &lake, uci_mapping()).unwrap();
        assert_eq!(rows as usize, lines.len(), "{input}");
        let out = d.join(format!("features-{input}"));
        let f = rfmseg::features_to_dir(&lake, &out, &Config::default())
            .await
            .unwrap();
        let q = &f.quality;
        let missing = lines.iter().filter(|l| l.customer.is_none()).count() as u64;
        assert_eq!(q.rows("transactions", "exact duplicate"), 1, "{input}\n{q}");
        assert_eq!(
            q.rows("transactions", "missing customer id"),
            missing,
            "{q}"
        );
        let cancelled = lines.iter().filter(|l| l.cancelled()).count() as u64;
        assert!(cancelled > 5);
        assert_eq!(
            q.rows(
                "transactions",
                "cancelled order, amount made negative (a return)"
            ),
            cancelled,
            "{q}"
        );
        let got = rfm_of(&out.join("customers.parquet"));
        assert_eq!(got.len(), want.len(), "{input}");
        for (c, w) in &want {
            assert_eq!(got.get(c), Some(w), "{input}: customer {c}");
        }
        outputs.push(std::fs::read(out.join("customers.parquet")).unwrap());
    }
    // CSV (plain and gzipped), JSON Lines and Parquet of the same rows: the same
    // customers, byte for byte.
    assert!(outputs.windows(2).all(|w| w[0] == w[1]));

    // rfm.window_days = "all": the whole history, from the oldest line.
    let config: Config = toml::from_str("[rfm]\nwindow_days = \"all\"\n").unwrap();
    config.validate().unwrap();
    let out = d.join("features-all");
    let f = rfmseg::features_to_dir(&d.join("lake-retail.csv"), &out, &config)
        .await
        .unwrap();
    let days = f.features.window.window_days as i64;
    assert!(days > 365, "{days}");
    let all = plain_rfm(&lines, days);
    assert!(all.len() > want.len());
    assert_eq!(rfm_of(&out.join("customers.parquet")), all);
    assert!(config.to_toml().contains("window_days = \"all\""));
}

fn simple_mapping() -> SourceConfig {
    SourceConfig {
        customer: Some("customer".into()),
        time: Some("date".into()),
        amount: Some("total".into()),
        ..SourceConfig::default()
    }
}

/// Each bad export fails naming the file, the line and column where it can, and the flag
/// that fixes it; a failed ingest leaves no lake; `skip` counts what it set aside.
#[test]
fn bad_exports_fail_naming_file_line_column_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("lake");
    let write = |name: &str, text: &str| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let fails = |inputs: &[PathBuf], source: SourceConfig| -> String {
        let err = ingest(inputs, &out, source).unwrap_err().to_string();
        assert!(!out.exists(), "no lake after a failure: {err}");
        err
    };
    let good = "customer;date;total\nA;2023-09-01;\"1.299,99 €\"\nB;2023-09-02;5\n";

    // A mapped column that does not exist: the columns that do, and a near miss.
    let p = write("good.csv", good);
    let mut m = simple_mapping();
    m.customer = Some("Customer".into());
    let err = fails(std::slice::from_ref(&p), m);
    assert!(
        err.contains("has no column \"Customer\" (given to --customer); its columns are: \"customer\", \"date\", \"total\""),
        "{err}"
    );
    assert!(
        err.contains("did you mean --customer \"customer\"?"),
        "{err}"
    );

    // Decimal commas need the flag; with it, the file reads.
    let err = fails(std::slice::from_ref(&p), simple_mapping());
    assert!(
        err.contains("good.csv:2: column \"total\" (--amount): \"1.299,99 €\""),
        "{err}"
    );
    assert!(err.contains("pass --decimal-comma"), "{err}");
    let mut m = simple_mapping();
    m.decimal_comma = true;
    assert_eq!(ingest(std::slice::from_ref(&p), &out, m).unwrap(), 2);
    std::fs::remove_dir_all(&out).unwrap();

    // A time that does not parse, after a row whose quoted field spans two lines: the
    // line number is the file's.
    let p = write(
        "times.csv",
        "customer,note,date,total\nA,\"two\nlines\",2023-09-01,3\nB,x,13/09/2023,4\n",
    );
    let err = fails(std::slice::from_ref(&p), simple_mapping());
    assert!(
        err.contains("times.csv:4: column \"date\" (--time): \"13/09/2023\" is not a time"),
        "{err}"
    );
    assert!(err.contains("--on-bad-line skip"), "{err}");
    let mut m = simple_mapping();
    m.time_format = Some("%d/%m/%Y".into());
    let err = fails(std::slice::from_ref(&p), m);
    assert!(
        err.contains(
            "times.csv:2: column \"date\" (--time): \"2023-09-01\" does not match --time-format"
        ),
        "{err}"
    );
    // skip: the bad row is counted and left out.
    let s = ingest_transactions(&TransactionsOptions {
        inputs: vec![p.clone()],
        out: out.clone(),
        source: simple_mapping(),
        on_bad_line: OnBadLine::Skip,
    })
    .unwrap();
    let t = s.transactions.unwrap();
    assert_eq!((t.rows, t.bad_lines, t.lines), (1, 1, 2));
    std::fs::remove_dir_all(&out).unwrap();

    // A row with a field too many.
    let p = write(
        "fields.csv",
        "customer,date,total\nA,2023-09-01,3\nB,2023-09-02,4,5\n",
    );
    let err = fails(&[p], simple_mapping());
    assert!(
        err.contains("fields.csv:3: has 4 fields, the header has 3"),
        "{err}"
    );

    // Empty, header-only, and a folder whose second file lacks a mapped column.
    let err = fails(&[write("empty.csv", "")], simple_mapping());
    assert!(err.contains("empty.csv: is empty"), "{err}");
    let err = fails(
        &[write("header.csv", "customer,date,total\n")],
        simple_mapping(),
    );
    assert!(
        err.contains("header.csv: has a header row but no data rows"),
        "{err}"
    );
    let folder = d.join("folder");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("a.csv"),
        "customer,date,total\nA,2023-09-01,3\n",
    )
    .unwrap();
    std::fs::write(folder.join("b.csv"), "client,date,total\nB,2023-09-01,3\n").unwrap();
    let err = fails(&[folder], simple_mapping());
    assert!(err.contains("b.csv: has no column \"customer\""), "{err}");

    // The mapping itself.
    let mut m = simple_mapping();
    m.customer = None;
    assert!(fails(&[d.join("good.csv")], m).contains("invalid --customer (source.customer)"));
    let mut m = simple_mapping();
    m.quantity = Some("q".into());
    assert!(fails(&[d.join("good.csv")], m).contains("give either --amount, or --quantity"));
    let mut m = simple_mapping();
    m.time_format = Some("%Q".into());
    assert!(fails(&[d.join("good.csv")], m).contains("is not a strftime format"));
}

/// `generate --transactions` plants behaviours in a shop export: after ingest and `run`,
/// the clusters name them; its malformed rows fail an ingest naming the line, or are
/// counted with skip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_shop_exports_segment_into_their_planted_behaviours() {
    use rfmseg::generate::shop::{ShopOptions, generate_transactions};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let g = generate_transactions(&ShopOptions {
        lines: 30_000,
        seed: 11,
        out: d.join("raw"),
        malformed_rate: 0.0,
    })
    .unwrap();
    assert!(
        g.lines >= 30_000 && g.anonymous_lines > g.lines / 6,
        "{g:?}"
    );
    assert!(g.cancelled_lines > 0 && g.return_lines > 0, "{g:?}");
    let lake = d.join("lake");
    ingest(
        std::slice::from_ref(&g.transactions_path),
        &lake,
        g.mapping.clone(),
    )
    .unwrap();
    let out = d.join("out");
    let s = run_with(
        &lake,
        &out,
        &rfmseg::config::Overrides {
            k: Some("4".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let q = &s.report.data_quality;
    let missing = q.rows("transactions", "missing customer id");
    assert!(
        missing <= g.anonymous_lines && missing * 100 >= g.anonymous_lines * 95,
        "{q}"
    );
    let returns = q.rows(
        "transactions",
        "returns (netted into monetary, never a purchase)",
    );
    assert!(
        returns > 0 && returns <= g.cancelled_lines + g.return_lines,
        "{q}"
    );

    let truth: BTreeMap<String, String> = std::fs::read_to_string(&g.truth_path)
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| {
            l.split_once(',')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .collect();
    let mut table: BTreeMap<(String, String), u64> = BTreeMap::new();
    for b in read_parquet_dir(&out.join("customers.parquet")) {
        let ids = b
            .column_by_name("customer_id")
            .unwrap()
            .as_string::<i32>()
            .clone();
        let labels =
            arrow::compute::cast(b.column_by_name("cluster_label").unwrap(), &DataType::Utf8)
                .unwrap();
        for i in 0..b.num_rows() {
            if let Some(a) = truth.get(ids.value(i)) {
                let label = labels.as_string::<i32>().value(i).to_string();
                *table.entry((a.clone(), label)).or_default() += 1;
            }
        }
    }
    let agreement = |arch: &str, label: &str| common::agreement(&table, arch, label);
    for (arch, label, at_least) in [
        ("loyal", "Loyal Customer", 0.95),
        ("new", "New Customer", 0.95),
        ("one_time_big_spender", "One Time Big Spender", 0.9),
        ("churned", "Churned", 0.95),
    ] {
        let a = agreement(arch, label);
        assert!(a >= at_least, "{arch}: {a} ({table:?})");
    }

    // score with the saved model on the same lake gives back every label and value.
    let scored = d.join("scored");
    rfmseg::score::score(
        &out.join("model.json"),
        &d.join("lake"),
        &scored,
        &Default::default(),
    )
    .await
    .unwrap();
    let columns = |path: &Path| {
        let b = read_parquet_dir(path);
        let b = arrow::compute::concat_batches(&b[0].schema(), &b).unwrap();
        ["customer_id", "cluster_label", "rfm_segment", "clv"]
            .map(|c| b.column_by_name(c).unwrap().to_data())
    };
    assert!(columns(&scored.join("customers.parquet")) == columns(&out.join("customers.parquet")));

    // Malformed rows: an error naming the line, or counted with skip.
    let bad = generate_transactions(&ShopOptions {
        lines: 5_000,
        seed: 12,
        out: d.join("raw-bad"),
        malformed_rate: 0.01,
    })
    .unwrap();
    assert!(bad.malformed_lines > 10);
    let err = ingest(
        std::slice::from_ref(&bad.transactions_path),
        &d.join("bad-lake"),
        bad.mapping.clone(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("transactions.csv:") && err.contains("(--"),
        "{err}"
    );
    let skipped = ingest_transactions(&TransactionsOptions {
        inputs: vec![bad.transactions_path.clone()],
        out: d.join("bad-lake"),
        source: bad.mapping.clone(),
        on_bad_line: OnBadLine::Skip,
    })
    .unwrap()
    .transactions
    .unwrap();
    assert_eq!(skipped.bad_lines, bad.malformed_lines);
    assert_eq!(skipped.rows, bad.lines - bad.malformed_lines);
}

/// Acquisition cohorts and segment migration on a shop's lake: cohorts.csv against a
/// direct count of the export's lines by the rules of `plain_rfm` (duplicates once, a
/// customer's purchases are its lines above 0.25), and the migration's matrix accounts for
/// every customer of both dates.
#[tokio::test]
async fn a_shops_cohorts_equal_a_direct_count_and_its_migration_adds_up() {
    use chrono::Datelike;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lines = export(5);
    std::fs::write(d.join("retail.csv"), csv_text(&lines)).unwrap();
    let lake = d.join("lake");
    ingest(&[d.join("retail.csv")], &lake, uci_mapping()).unwrap();
    let out = d.join("out");
    let s = run_with(
        &lake,
        &out,
        &rfmseg::config::Overrides {
            k: Some("3".into()),
            cohorts: Some("quarter".into()),
            compare_as_of: Some("2024-03-01".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let kept: Vec<&Line> = cleaned(&lines)
        .into_iter()
        .filter(|l| l.amount_cents() > 25)
        .collect();
    let quarter = |l: &Line| {
        let t = l.time();
        i64::from(t.year()) * 4 + i64::from(t.month0() / 3)
    };
    let mut first: BTreeMap<String, i64> = BTreeMap::new();
    for l in &kept {
        let q = quarter(l);
        let e = first.entry(l.customer.clone().unwrap()).or_insert(q);
        *e = (*e).min(q);
    }
    let mut cells: BTreeMap<(i64, i64), (BTreeSet<String>, i64)> = BTreeMap::new();
    for l in &kept {
        let c = first[l.customer.as_ref().unwrap()];
        let e = cells.entry((c, quarter(l) - c)).or_default();
        e.0.insert(l.customer.clone().unwrap());
        e.1 += l.amount_cents();
    }
    let want: Vec<String> = cells
        .iter()
        .map(|((c, i), (who, cents))| {
            let size = cells[&(*c, 0)].0.len();
            format!(
                "{}-{:02}-01,{size},{i},{},{:.6},{:.2}",
                c / 4,
                (c % 4) * 3 + 1,
                who.len(),
                who.len() as f64 / size as f64,
                *cents as f64 / 100.0
            )
        })
        .collect();
    let csv = std::fs::read_to_string(out.join("cohorts.csv")).unwrap();
    let got: Vec<String> = csv.lines().skip(1).map(String::from).collect();
    assert_eq!(got, want);

    // Every customer of either date is in exactly one cell of the segment matrix.
    let m = s.report.migration.as_ref().expect("a migration");
    let before: u64 = m
        .segments
        .cells
        .iter()
        .filter(|c| c.from != "new")
        .map(|c| c.customers)
        .sum();
    let now: u64 = m
        .segments
        .cells
        .iter()
        .filter(|c| c.to != "gone")
        .map(|c| c.customers)
        .sum();
    assert_eq!(before, m.customers_before);
    assert_eq!(now, s.report.customers);
    assert!(m.customers_before > 50 && m.downgraded > 0, "{m:?}");
}
