//! Every trap of DESIGN §3 at once, with the DEFAULT config: raw reviews and items written
//! by hand (placeholder strings in several cases and spacings, exact duplicates, excluded
//! and NULL categories, ratings 0 and out of range, negative helpful votes, unverified and
//! old reviews, prices as text, as placeholders, out of range or at the 0.25 floor), then
//! `ingest` and the features, compared with a plain Rust computation that follows DESIGN
//! §3 and §5 literally over the same rows.
//!
//! A JSON key missing from an object reads as NULL (a review without `user_id` is
//! dropped, one without `title`/`images` counts), and both files start with a UTF-8
//! byte-order mark.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use rfmseg::Config;
use rfmseg::ingest::{IngestOptions, ingest};
use serde_json::{Value, json};

/// 2023-09-13, the as-of day (days since 1970-01-01): the day of the newest review.
const AS_OF: i64 = 19_613;
const DAY: i64 = 86_400;

/// DESIGN §3: the reference notebook's `main_category` exclusion list, copied by hand, in
/// its order. Four names were once wrong in the default ('Fine Art', 'Kindle Store',
/// 'Luxury Beauty', 'Movies & TV' instead of 'Collectibles & Fine Art', 'Amazon Home',
/// 'Tools & Home Improvement', 'Software'), which kept the wrong items.
const DESIGN_EXCLUDED: [&str; 24] = [
    "Pet Supplies",
    "Toys & Games",
    "Baby",
    "Grocery",
    "Collectible Coins",
    "Automotive",
    "Handmade",
    "Health & Personal Care",
    "Arts, Crafts & Sewing",
    "All Beauty",
    "AMAZON FASHION",
    "Premium Beauty",
    "Collectibles & Fine Art",
    "Magazine Subscriptions",
    "Digital Music",
    "Tools & Home Improvement",
    "Software",
    "Unique Finds",
    "Audible Audiobooks",
    "Gift Cards",
    "Sports & Outdoors",
    "Amazon Home",
    "Books",
    "Buy a Kindle",
];

/// Unix milliseconds at `hour` o'clock UTC, `days_before` days before the as-of day.
fn ms(days_before: i64, hour: i64) -> i64 {
    ((AS_OF - days_before) * DAY + hour * 3600) * 1000
}

/// One raw review line, every key of the Amazon Reviews 2023 format present.
#[allow(clippy::too_many_arguments)]
fn review(
    user: Value,
    item: &str,
    asin: Value,
    rating: Value,
    days_before: i64,
    hour: i64,
    helpful: i64,
    verified: bool,
) -> Value {
    json!({
        "rating": rating, "title": "t", "text": "x", "images": [],
        "asin": asin, "parent_asin": item, "user_id": user,
        "timestamp": ms(days_before, hour), "helpful_vote": helpful,
        "verified_purchase": verified
    })
}

/// A verified review, rating 5, no helpful votes, asin = the item.
fn bought(user: &str, item: &str, days_before: i64, hour: i64) -> Value {
    review(
        json!(user),
        item,
        json!(item),
        json!(5.0),
        days_before,
        hour,
        0,
        true,
    )
}

/// One raw item line, every key of the meta format present.
fn item(parent_asin: Value, main_category: Value, price: Value, store: Value) -> Value {
    json!({
        "main_category": main_category, "title": "an item", "average_rating": 4.2,
        "rating_number": 10, "features": [], "description": [], "price": price,
        "images": [], "videos": [], "store": store, "categories": ["Electronics"],
        "details": {}, "parent_asin": parent_asin, "bought_together": null
    })
}

fn raw_items() -> Vec<Value> {
    let i =
        |asin: &str, category: Value, price: Value| item(json!(asin), category, price, json!("S"));
    let mut items = vec![
        i("I01", json!("Computers"), json!(29.99)),
        i("I02", json!("Camera & Photo"), json!("$1,299.99")),
        item(
            json!("I03"),
            json!("Home Audio & Theater"),
            json!("19.99"),
            Value::Null,
        ),
        i("I04", json!("All Electronics"), json!("None")),
        i("I05", json!("Cell Phones & Accessories"), json!("—")),
        i("I06", json!("Computers"), json!(150000.0)), // above max_price: NULL
        i("I07", json!("Computers"), json!(0.25)),     // a price, but not above 0.25
        i("I08", json!("Computers"), json!(0)),        // <= 0: NULL
        i("I09", json!(" n/a "), json!(10.0)),         // category placeholder: NULL, dropped
        i("I10", Value::Null, json!(10.0)),            // NULL category: dropped
        i("I11", json!("Amazon Home"), json!(49.0)),   // the four once missing
        i("I12", json!("Tools & Home Improvement"), json!(15.5)),
        i("I13", json!("Software"), json!(99.0)),
        i("I14", json!("Collectibles & Fine Art"), json!(250.0)),
        i("I15", json!("Books"), json!(12.0)),
        i("I16", json!("Movies & TV"), json!(9.99)), // four once wrongly excluded
        i("I17", json!("Kindle Store"), json!(5.49)),
        i("I18", json!("Luxury Beauty"), json!(45.0)),
        i("I25", json!("Fine Art"), json!(75.0)),
        i("I19", json!("Computers"), json!("n/a")),
        item(
            json!("I20"),
            json!("Computers"),
            json!(1234.5),
            json!("NULL"),
        ),
        i("I21", json!("Computers"), json!(100000)), // exactly max_price: kept
        i("I22", json!("Computers"), json!(0.26)),
        i("I23", json!("Computers"), json!("")),
        i("I24", json!("NULL"), json!(20.0)),
        i("I26", json!("Toys & Games"), json!(8.0)),
        item(json!("None"), json!("Computers"), json!(5.0), json!("S")), // no parent_asin
        without(i("I27", json!("Computers"), json!(7.0)), "main_category"), // key missing: NULL
    ];
    // Exact duplicate lines.
    items.push(items[0].clone());
    items.push(items[10].clone());
    items
}

fn raw_reviews() -> Vec<Value> {
    let mut r = vec![
        // U01: the newest review, late on the as-of day, and an exact duplicate of it.
        bought("U01", "I01", 0, 22),
        bought("U01", "I01", 0, 22),
        bought("U01", "I01", 10, 9),
        bought("U01", "I01", 100, 9),
        // U02: the first day of the window (included), and a 'Movies & TV' item.
        bought("U02", "I02", 364, 0),
        bought("U02", "I16", 30, 12),
        // U03: the day before the window (cleaned, not counted); exactly max_price.
        bought("U03", "I03", 365, 23),
        bought("U03", "I21", 200, 8),
        // U04: price "None", price 0.25 (not above the floor), price 0.26.
        bought("U04", "I04", 5, 1),
        bought("U04", "I07", 6, 1),
        bought("U04", "I22", 50, 1),
        // U05: only excluded, NULL-category or overpriced items: not a customer.
        bought("U05", "I11", 1, 1),
        bought("U05", "I12", 2, 1),
        bought("U05", "I13", 3, 1),
        bought("U05", "I14", 4, 1),
        bought("U05", "I06", 5, 1),
        bought("U05", "I09", 6, 1),
        bought("U05", "I10", 7, 1),
        bought("U05", "I24", 8, 1),
        bought("U05", "I26", 9, 1),
        // U06: rating 0 becomes 1 (kept); ratings 6 and -1 are dropped; negative helpful.
        review(json!("U06"), "I01", json!("I01"), json!(0.0), 2, 5, 0, true),
        review(json!("U06"), "I02", json!("I02"), json!(6.0), 2, 6, 0, true),
        review(
            json!("U06"),
            "I17",
            json!("I17"),
            json!(4.0),
            3,
            5,
            -3,
            true,
        ),
        review(
            json!("U06"),
            "I02",
            json!("I02"),
            json!(-1.0),
            4,
            5,
            0,
            true,
        ),
        // U07: an unverified purchase (dropped), then a store "NULL" item.
        review(
            json!("U07"),
            "I02",
            json!("I02"),
            json!(5.0),
            1,
            5,
            0,
            false,
        ),
        bought("U07", "I20", 300, 5),
        // U08: older than 2 years (dropped), 729 days (kept, outside the window), recent.
        bought("U08", "I02", 800, 5),
        bought("U08", "I01", 729, 23),
        bought("U08", "I16", 7, 5),
        // U09: prices 0, "—", "n/a", "": nothing counted, not a customer.
        bought("U09", "I08", 1, 1),
        bought("U09", "I05", 2, 1),
        bought("U09", "I19", 3, 1),
        bought("U09", "I23", 4, 1),
        // U10: asin "None" and " n/a " are both NULL, so these two rows are duplicates;
        // two variants (asins) of one item on one day are two purchases.
        review(
            json!("U10"),
            "I03",
            json!("None"),
            json!(5.0),
            40,
            10,
            0,
            true,
        ),
        review(
            json!("U10"),
            "I03",
            json!(" n/a "),
            json!(5.0),
            40,
            10,
            0,
            true,
        ),
        review(
            json!("U10"),
            "I01",
            json!("A1"),
            json!(5.0),
            20,
            10,
            0,
            true,
        ),
        review(
            json!("U10"),
            "I01",
            json!("A2"),
            json!(5.0),
            20,
            10,
            0,
            true,
        ),
        // U11: 'Books' is excluded; 'Luxury Beauty' and 'Fine Art' are not.
        bought("U11", "I15", 10, 1),
        bought("U11", "I18", 60, 1),
        bought("U11", "I25", 70, 1),
        // U12: an item not in the meta file (no price), and one that is.
        bought("U12", "I99", 5, 1),
        bought("U12", "I01", 150, 1),
        // U13: parent_asin "none" is NULL (dropped).
        bought("U13", "none", 1, 1),
        bought("U13", "I02", 90, 1),
        // U14: the same price as U12 (a tie for M), helpful -5, duplicated.
        review(
            json!("U14"),
            "I01",
            json!("I01"),
            json!(5.0),
            15,
            1,
            -5,
            true,
        ),
        review(
            json!("U14"),
            "I01",
            json!("I01"),
            json!(5.0),
            15,
            1,
            -5,
            true,
        ),
        // U15: rows that differ only in helpful_vote (-1 and 0) are not duplicates, even
        // though -1 becomes 0 afterwards: duplicates go first.
        review(
            json!("U15"),
            "I22",
            json!("I22"),
            json!(0.0),
            12,
            10,
            -1,
            true,
        ),
        review(
            json!("U15"),
            "I22",
            json!("I22"),
            json!(0.0),
            12,
            10,
            0,
            true,
        ),
    ];
    // Keys missing from the object read as NULL: without user_id the review is dropped,
    // without the text fields it counts (U16).
    r.push(without(bought("U99", "I01", 4, 5), "user_id"));
    let mut u16 = bought("U16", "I22", 40, 8);
    for key in ["title", "text", "images", "helpful_vote"] {
        u16 = without(u16, key);
    }
    r.push(u16);
    // Placeholder user ids, in several cases and spacings, and a JSON null: dropped.
    for (n, user) in [
        json!("None"),
        json!(" n/a "),
        json!("NULL"),
        json!(""),
        json!("nUlL"),
        Value::Null,
    ]
    .into_iter()
    .enumerate()
    {
        r.push(review(
            user,
            "I01",
            json!("I01"),
            json!(5.0),
            n as i64 + 1,
            3,
            0,
            true,
        ));
    }
    r
}

/// `v` without `key`, as a line that lacks it.
fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

/// JSON Lines, starting with a UTF-8 byte-order mark as some exporters write it.
fn write_lines(path: &Path, rows: &[Value]) {
    let text: String =
        "\u{feff}".to_string() + &rows.iter().map(|v| format!("{v}\n")).collect::<String>();
    std::fs::write(path, text).unwrap();
}

/// The raw files and their lake, in `dir`.
fn lake(dir: &Path) -> PathBuf {
    let (reviews, items) = (
        dir.join("Electronics.jsonl"),
        dir.join("meta_Electronics.jsonl"),
    );
    write_lines(&reviews, &raw_reviews());
    write_lines(&items, &raw_items());
    let lake = dir.join("lake");
    ingest(&IngestOptions::new(&reviews, &items, &lake)).unwrap();
    lake
}

// ---- DESIGN §3 and §5, literally, over the raw rows ----

/// 'None', 'none', 'N/A', 'n/a', 'null', 'NULL', '' trimmed, any case.
fn text(v: &Value) -> Option<String> {
    v.as_str()
        .filter(|s| {
            !matches!(
                s.trim().to_lowercase().as_str(),
                "none" | "n/a" | "null" | ""
            )
        })
        .map(str::to_string)
}

/// A price's text: a JSON number's own text, or a string's content.
fn price_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        other => text(other),
    }
}

/// "19.99" and "$1,299.99" parse; anything else is NULL, and so is a price <= 0 or above
/// 100,000.
fn price(raw: &Option<String>) -> Option<f64> {
    let p: f64 = raw
        .as_ref()?
        .trim()
        .trim_start_matches('$')
        .replace(',', "")
        .parse()
        .ok()?;
    (p > 0.0 && p <= 100_000.0).then_some(p)
}

#[derive(Debug, Clone, PartialEq)]
struct Expected {
    recency: i64,
    frequency: i64,
    monetary: f64,
    scores: [i64; 3],
    segment: String,
}

fn plain_rfm() -> BTreeMap<String, Expected> {
    // Reviews: placeholders to NULL, exact duplicates dropped, then the fixes and rules.
    type Row = (
        Option<String>,
        Option<String>,
        Option<String>,
        u64,
        i64,
        bool,
        Option<i64>,
    );
    let mut seen = HashSet::new();
    let rows: Vec<Row> = raw_reviews()
        .iter()
        .map(|v| {
            (
                text(&v["user_id"]),
                text(&v["parent_asin"]),
                text(&v["asin"]),
                v["rating"].as_f64().unwrap().to_bits(),
                v["timestamp"].as_i64().unwrap().div_euclid(1000),
                v["verified_purchase"].as_bool().unwrap(),
                v["helpful_vote"].as_i64(),
            )
        })
        .filter(|r| seen.insert(r.clone()))
        .collect();
    let valid: Vec<(String, String, i64, bool)> = rows
        .into_iter()
        .filter_map(|(user, item, _, rating, ts, verified, _)| {
            let rating = f64::from_bits(rating);
            let rating = if rating == 0.0 { 1.0 } else { rating };
            (1.0..=5.0)
                .contains(&rating)
                .then_some((user?, item?, ts, verified))
        })
        .collect();
    let newest = valid.iter().map(|r| r.2).max().unwrap();
    let clean: Vec<&(String, String, i64, bool)> = valid
        .iter()
        .filter(|r| r.3 && r.2 >= newest - 730 * DAY)
        .collect();

    // Items: placeholders to NULL, duplicates dropped, NULL or excluded categories dropped.
    let mut prices: HashMap<String, Option<f64>> = HashMap::new();
    for v in raw_items() {
        let (Some(asin), Some(category)) = (text(&v["parent_asin"]), text(&v["main_category"]))
        else {
            continue;
        };
        if !DESIGN_EXCLUDED.contains(&category.as_str()) {
            prices.insert(asin, price(&price_text(&v["price"])));
        }
    }

    // RFM over the 365 days ending on the newest purchase's day, prices above 0.25.
    let purchases: Vec<(&str, i64, Option<f64>)> = clean
        .iter()
        .map(|(user, item, ts, _)| {
            (
                user.as_str(),
                ts.div_euclid(DAY),
                prices.get(item).copied().flatten(),
            )
        })
        .collect();
    let as_of = purchases.iter().map(|p| p.1).max().unwrap();
    let mut rfm: BTreeMap<String, (i64, i64, i128)> = BTreeMap::new();
    for (user, day, amount) in purchases {
        if let Some(a) = amount.filter(|&a| a > 0.25 && day >= as_of - 364 && day <= as_of) {
            let e = rfm.entry(user.to_string()).or_insert((i64::MAX, 0, 0));
            e.0 = e.0.min(as_of + 1 - day);
            e.1 += 1;
            e.2 += (a * 1e6).round() as i128; // exact: micro-dollars
        }
    }

    // Scores by quintile of the customers strictly worse, then the segment rules.
    let n = rfm.len() as i64;
    let score = |worse: usize| (1 + 5 * worse as i64 / n).min(5);
    let all: Vec<(i64, i64, i128)> = rfm.values().copied().collect();
    rfm.iter()
        .map(|(user, &(r, f, m))| {
            let s = [
                score(all.iter().filter(|o| o.0 > r).count()),
                score(all.iter().filter(|o| o.1 < f).count()),
                score(all.iter().filter(|o| o.2 < m).count()),
            ];
            (
                user.clone(),
                Expected {
                    recency: r,
                    frequency: f,
                    monetary: m as f64 / 1e6,
                    scores: s,
                    segment: segment(s).into(),
                },
            )
        })
        .collect()
}

/// DESIGN §5's segment rules, first match wins.
fn segment([r, f, m]: [i64; 3]) -> &'static str {
    if r >= 4 && f >= 4 && m >= 4 {
        "Champions"
    } else if r >= 3 && f >= 4 && m >= 3 {
        "Loyal Customers"
    } else if r >= 4 && f >= 2 && m >= 2 {
        "Potential Loyalists"
    } else if r == 5 && f <= 2 && m <= 2 {
        "New Customers"
    } else if r >= 4 && f <= 2 && m <= 2 {
        "Promising"
    } else if r <= 2 && f <= 2 && m >= 3 {
        "About to Sleep"
    } else if r <= 2 && f <= 2 && m <= 2 {
        "Hibernating"
    } else if r <= 2 && f >= 4 && m >= 4 {
        "Can't Lose Them"
    } else if r <= 2 && f >= 3 && m >= 3 {
        "At Risk"
    } else if r <= 3 && f <= 3 && m <= 3 {
        "Needs Attention"
    } else {
        "Lost"
    }
}

#[tokio::test]
async fn features_over_every_reference_trap_equal_the_plain_rules() {
    let want = plain_rfm();
    // The plain computation itself, by hand: who is a customer, and with which R, F, M.
    let by_hand: Vec<(&str, i64, i64, f64)> = vec![
        ("U01", 1, 3, 89.97),
        ("U02", 31, 2, 1309.98),
        ("U03", 201, 1, 100_000.0),
        ("U04", 51, 1, 0.26),
        ("U06", 3, 2, 35.48),
        ("U07", 301, 1, 1234.5),
        ("U08", 8, 1, 9.99),
        ("U10", 21, 3, 79.97),
        ("U11", 61, 2, 120.0),
        ("U12", 151, 1, 29.99),
        ("U13", 91, 1, 1299.99),
        ("U14", 16, 1, 29.99),
        ("U15", 13, 2, 0.52),
        ("U16", 41, 1, 0.26),
    ];
    let plain: Vec<(&str, i64, i64, f64)> = want
        .iter()
        .map(|(u, e)| (u.as_str(), e.recency, e.frequency, e.monetary))
        .collect();
    assert_eq!(plain, by_hand);

    assert_eq!(Config::default().clean.excluded_categories, DESIGN_EXCLUDED);
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(dir.path());
    let (ctx, quality, summary) = rfmseg::lake_features(&lake, &Config::default())
        .await
        .unwrap();
    assert_eq!(summary.window.as_of, "2023-09-13");
    assert_eq!(summary.window.first_day, "2022-09-14");
    assert_eq!(summary.customers, want.len() as u64);
    // The traps were met, not skipped: a few of the data-quality counts.
    assert_eq!(quality.rows("reviews", "exact duplicate"), 3);
    assert_eq!(quality.rows("reviews", "missing user_id"), 7);
    assert_eq!(quality.rows("reviews", "rating outside 1..5"), 2);
    assert_eq!(quality.rows("reviews", "rating 0 set to 1"), 3);
    assert_eq!(quality.rows("reviews", "negative helpful_vote set to 0"), 3);
    assert_eq!(quality.rows("reviews", "not a verified purchase"), 1);
    assert_eq!(quality.rows("reviews", "older than clean.history_days"), 1);
    assert_eq!(quality.rows("items", "exact duplicate"), 2);
    assert_eq!(quality.rows("items", "excluded main_category"), 6);
    assert_eq!(quality.rows("items", "missing main_category"), 4);

    let mut got: BTreeMap<String, Expected> = BTreeMap::new();
    for b in ctx
        .table("customers")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap()
    {
        let col = |name: &str, t: &DataType| {
            arrow::compute::cast(b.column_by_name(name).unwrap(), t).unwrap()
        };
        let ids = col("customer_id", &DataType::Utf8);
        let ints: Vec<_> = ["recency", "frequency", "r_score", "f_score", "m_score"]
            .iter()
            .map(|c| col(c, &DataType::Int64))
            .collect();
        let monetary = col("monetary", &DataType::Float64);
        let seg = col("rfm_segment", &DataType::Utf8);
        for i in 0..b.num_rows() {
            let int = |c: usize| ints[c].as_primitive::<Int64Type>().value(i);
            assert!(!monetary.is_null(i));
            got.insert(
                ids.as_string::<i32>().value(i).to_string(),
                Expected {
                    recency: int(0),
                    frequency: int(1),
                    monetary: monetary.as_primitive::<Float64Type>().value(i),
                    scores: [int(2), int(3), int(4)],
                    segment: seg.as_string::<i32>().value(i).to_string(),
                },
            );
        }
    }
    assert_eq!(got, want);
}
