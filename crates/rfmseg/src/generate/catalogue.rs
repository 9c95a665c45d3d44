//! The item catalogue: every attribute of item `i` is a pure function of (seed, i).
//!
//! Reviews look items up (price, category, whether the item has a meta line) without a
//! table in memory, and the meta file is written by walking the indices, so neither grows
//! memory with the catalogue. Item popularity is Zipf-like over a seeded permutation of the
//! indices, so the most reviewed items are scattered through the meta file as in the real one.

use super::bytes::{push_cents_dollars, push_cents_float, push_cents_plain, push_tenths, push_u64};
use super::rng::{Draw, SplitMix64, derive, mix64};
use super::vocab;

/// Share of catalogue items that have a line in the meta file (the rest are reviewed but
/// unknown to the catalogue, as in the real data).
const IN_META_SHARE: f64 = 0.97;
/// Share of items with no price at all (`null` or `"None"`).
const PRICE_MISSING_SHARE: f64 = 2.0 / 3.0;
/// Share of priced items whose price is corrupt (0 or above 100,000).
const PRICE_CORRUPT_SHARE: f64 = 0.001;
/// Lognormal price: median $30, log-sd 1.25 (86% between $5 and $200, tail into thousands).
const PRICE_LOG_MEDIAN: f64 = 3.401_197_381_662_155; // ln 30
const PRICE_LOG_SD: f64 = 1.25;
/// Zipf-like popularity `(rank + q)^-1`: the offset q flattens the head so the top item
/// gets well under 1% of the reviews (0.2% at a million reviews), not the 8% a pure Zipf
/// would give.
const ZIPF_OFFSET: f64 = 50.0;

/// Whether the cleaning step keeps an item's category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CategoryClass {
    Electronics,
    Excluded,
    Null,
}

/// `main_category` values with their share in percent. Electronics categories first, then
/// categories on the pipeline's exclusion list, then JSON null.
const MAIN_CATEGORIES: &[(Option<&str>, f64, CategoryClass)] = &[
    (Some("All Electronics"), 30.0, CategoryClass::Electronics),
    (Some("Computers"), 16.0, CategoryClass::Electronics),
    (
        Some("Cell Phones & Accessories"),
        12.0,
        CategoryClass::Electronics,
    ),
    (Some("Camera & Photo"), 7.0, CategoryClass::Electronics),
    (
        Some("Home Audio & Theater"),
        8.0,
        CategoryClass::Electronics,
    ),
    (
        Some("Industrial & Scientific"),
        4.0,
        CategoryClass::Electronics,
    ),
    (Some("Amazon Devices"), 6.0, CategoryClass::Electronics),
    (Some("Car Electronics"), 6.0, CategoryClass::Electronics),
    (Some("Books"), 1.5, CategoryClass::Excluded),
    (Some("Toys & Games"), 1.5, CategoryClass::Excluded),
    (Some("Grocery"), 0.5, CategoryClass::Excluded),
    (Some("Automotive"), 1.5, CategoryClass::Excluded),
    (Some("AMAZON FASHION"), 1.0, CategoryClass::Excluded),
    (Some("Sports & Outdoors"), 1.0, CategoryClass::Excluded),
    (Some("Health & Personal Care"), 1.0, CategoryClass::Excluded),
    (None, 3.0, CategoryClass::Null),
];

/// How an item's price is written in the meta file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Price {
    /// JSON `null`.
    Null,
    /// The string `"None"`.
    NoneString,
    /// A JSON number, e.g. `29.99`.
    Number(u64),
    /// A string holding a plain number, e.g. `"19.99"`.
    PlainString(u64),
    /// A string as a shop shows it, e.g. `"$1,299.99"`.
    DollarString(u64),
    /// The string `"—"`.
    Dash,
    /// The string `"n/a"`.
    NotAvailable,
    /// A corrupt JSON number: 0 or above 100,000 (cents).
    Corrupt(u64),
}

/// Prices the pipeline's `parse_price` accepts: above 0 and at most 100,000 dollars.
const MAX_USABLE_CENTS: u64 = 100_000 * 100;

impl Price {
    /// The price in cents if the pipeline can parse it and accepts it.
    pub(crate) fn usable_cents(self) -> Option<u64> {
        match self {
            Price::Number(c) | Price::PlainString(c) | Price::DollarString(c)
                if c > 0 && c <= MAX_USABLE_CENTS =>
            {
                Some(c)
            }
            _ => None,
        }
    }

    /// `null` or `"None"`: the item has no price at all.
    pub(crate) fn is_missing(self) -> bool {
        matches!(self, Price::Null | Price::NoneString)
    }
}

/// What a review needs to know about an item, and what planted customers select on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ItemCore {
    pub(crate) in_meta: bool,
    /// Index into `MAIN_CATEGORIES`.
    pub(crate) category: usize,
    pub(crate) price: Price,
}

impl ItemCore {
    pub(crate) fn class(&self) -> CategoryClass {
        MAIN_CATEGORIES[self.category].2
    }

    /// A usable price, an electronics category and a meta line: what the pipeline keeps
    /// after cleaning and joining, so planted purchases survive it.
    pub(crate) fn plantable_cents(&self) -> Option<u64> {
        if self.in_meta && self.class() == CategoryClass::Electronics {
            self.price.usable_cents()
        } else {
            None
        }
    }
}

/// Per-block counts of what was written to the meta file.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MetaTally {
    pub(crate) lines: u64,
    pub(crate) price_missing: u64,
    pub(crate) price_unparseable: u64,
    pub(crate) price_corrupt: u64,
    pub(crate) excluded_category: u64,
    pub(crate) null_category: u64,
}

impl MetaTally {
    pub(crate) fn add(&mut self, o: &MetaTally) {
        self.lines += o.lines;
        self.price_missing += o.price_missing;
        self.price_unparseable += o.price_unparseable;
        self.price_corrupt += o.price_corrupt;
        self.excluded_category += o.excluded_category;
        self.null_category += o.null_category;
    }
}

/// The catalogue: its size and the keys every item attribute is derived from.
#[derive(Debug, Clone)]
pub(crate) struct Catalogue {
    n: u64,
    item_key: u64,
    asin_keys: [u64; 3],
    image_key: u64,
    perm_mul: u64,
    perm_add: u64,
    zipf_span: f64,
    category_cumulative: Vec<f64>,
}

const ASIN_BITS: u32 = 41;
const ASIN_MASK: u64 = (1 << ASIN_BITS) - 1;
/// Variant ASINs per item besides the parent (at most 7: key = index * 8 + variant).
pub(crate) const VARIANTS_PER_ITEM: u64 = 3;
/// Items must fit `index * 8 + 7 < 2^41`, so the ASIN code stays a bijection.
pub(crate) const MAX_ITEMS: u64 = 1 << (ASIN_BITS - 3);

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Catalogue {
    /// `n` must be in 1..=MAX_ITEMS (checked by the caller's option validation).
    pub(crate) fn new(seed: u64, n: u64) -> Self {
        let n = n.clamp(1, MAX_ITEMS);
        // A multiplier coprime with n makes `rank * mul + add (mod n)` a permutation.
        let mut perm_mul = derive(seed, 11) % n;
        let mut tries = 0;
        while gcd(perm_mul, n) != 1 && tries < 1000 {
            perm_mul = (perm_mul + 1) % n;
            tries += 1;
        }
        if gcd(perm_mul, n) != 1 {
            perm_mul = 1;
        }
        let mut acc = 0.0;
        let category_cumulative = MAIN_CATEGORIES
            .iter()
            .map(|c| {
                acc += c.1;
                acc
            })
            .collect();
        Catalogue {
            n,
            item_key: derive(seed, 12),
            asin_keys: [derive(seed, 13), derive(seed, 14) | 1, derive(seed, 15) | 1],
            image_key: derive(seed, 16),
            perm_mul,
            perm_add: derive(seed, 17) % n,
            zipf_span: ((n as f64 + ZIPF_OFFSET) / ZIPF_OFFSET).ln(),
            category_cumulative,
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.n
    }

    /// An item index drawn by popularity: density proportional to `1 / (rank + q)` over
    /// ranks in [0, n), sampled by the inverse CDF, then mapped to an index by the
    /// seeded permutation.
    pub(crate) fn popular(&self, rng: &mut impl Draw) -> u64 {
        let x = ZIPF_OFFSET * (rng.unit() * self.zipf_span).exp() - ZIPF_OFFSET;
        let rank = (x.max(0.0) as u64).min(self.n - 1);
        ((u128::from(rank) * u128::from(self.perm_mul) + u128::from(self.perm_add))
            % u128::from(self.n)) as u64
    }

    /// The attribute stream of item `i`, positioned after its core attributes.
    fn stream(&self, i: u64) -> (ItemCore, SplitMix64) {
        let mut r = SplitMix64::new(mix64(self.item_key ^ mix64(i)));
        let in_meta = r.chance(IN_META_SHARE);
        let category = r.pick_cumulative(&self.category_cumulative);
        let price = draw_price(&mut r);
        (
            ItemCore {
                in_meta,
                category,
                price,
            },
            r,
        )
    }

    pub(crate) fn core(&self, i: u64) -> ItemCore {
        self.stream(i).0
    }

    /// Appends the 10-character ASIN of item `i` (`variant` 0) or of one of its variants
    /// (1..=VARIANTS_PER_ITEM): "B0" and 8 base-36 digits of a seeded bijection of
    /// `i * 8 + variant` on 41 bits, so ASINs are unique by construction.
    pub(crate) fn push_asin(&self, out: &mut Vec<u8>, i: u64, variant: u64) {
        const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let [k0, m1, m2] = self.asin_keys;
        let mut x = ((i << 3) | (variant & 7)) ^ (k0 & ASIN_MASK);
        x = x.wrapping_mul(m1) & ASIN_MASK;
        x ^= x >> 19;
        x = x.wrapping_mul(m2) & ASIN_MASK;
        x ^= x >> 23;
        let mut code = [0u8; 8];
        for c in code.iter_mut().rev() {
            *c = DIGITS[(x % 36) as usize];
            x /= 36;
        }
        out.extend_from_slice(b"B0");
        out.extend_from_slice(&code);
    }

    /// Appends an 11-character image id such as `71a2bC3dEfL`.
    pub(crate) fn push_image_id(&self, out: &mut Vec<u8>, salt: u64) {
        const ALNUM: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut h = mix64(self.image_key ^ salt);
        out.push(b'1' + (h % 8) as u8);
        h /= 8;
        for _ in 0..9 {
            out.push(ALNUM[(h % 62) as usize]);
            h /= 62;
        }
        out.push(b'L');
    }

    /// Writes item `i`'s meta line if it has one; returns what was written for the tally.
    pub(crate) fn write_meta_line(&self, out: &mut Vec<u8>, i: u64, tally: &mut MetaTally) {
        let (core, mut r) = self.stream(i);
        if !core.in_meta {
            return;
        }
        tally.lines += 1;
        let (category, _, class) = MAIN_CATEGORIES[core.category];
        match class {
            CategoryClass::Excluded => tally.excluded_category += 1,
            CategoryClass::Null => tally.null_category += 1,
            CategoryClass::Electronics => {}
        }
        match core.price {
            p if p.is_missing() => tally.price_missing += 1,
            Price::Dash | Price::NotAvailable => tally.price_unparseable += 1,
            Price::Corrupt(_) => tally.price_corrupt += 1,
            _ => {}
        }
        let brand = *r.pick(vocab::BRANDS);

        out.extend_from_slice(b"{\"main_category\": ");
        push_opt_str(out, category);

        out.extend_from_slice(b", \"title\": \"");
        if r.chance(0.85) {
            out.extend_from_slice(brand.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(r.pick(vocab::PRODUCTS).as_bytes());
        if r.chance(0.4) {
            out.extend_from_slice(r.pick(vocab::TITLE_SUFFIXES).as_bytes());
        }

        // Average ratings cluster around 4.3; counts are log-uniform from 1 to ~50,000.
        let avg = (43.0 + 5.0 * r.normal()).round().clamp(10.0, 50.0) as u64;
        out.extend_from_slice(b"\", \"average_rating\": ");
        push_tenths(out, avg);
        out.extend_from_slice(b", \"rating_number\": ");
        push_u64(out, (r.unit() * 50_000f64.ln()).exp() as u64);

        out.extend_from_slice(b", \"features\": ");
        let n_features = if r.chance(0.45) { 0 } else { r.between(1, 5) };
        push_str_list(out, &mut r, vocab::FEATURES, n_features);
        out.extend_from_slice(b", \"description\": ");
        let n_desc = if r.chance(0.5) { 0 } else { r.between(1, 2) };
        push_str_list(out, &mut r, vocab::DESCRIPTIONS, n_desc);

        out.extend_from_slice(b", \"price\": ");
        push_price(out, core.price);

        out.extend_from_slice(b", \"images\": [");
        let n_images = if r.chance(0.3) { 0 } else { r.between(1, 3) };
        for k in 0..n_images {
            if k > 0 {
                out.extend_from_slice(b", ");
            }
            let salt = (i << 8) | k;
            out.extend_from_slice(b"{\"thumb\": \"https://m.media-amazon.com/images/I/");
            self.push_image_id(out, salt);
            out.extend_from_slice(
                b"._SS40_.jpg\", \"large\": \"https://m.media-amazon.com/images/I/",
            );
            self.push_image_id(out, salt);
            out.extend_from_slice(b".jpg\", \"variant\": \"");
            if k == 0 {
                out.extend_from_slice(b"MAIN");
            } else {
                out.extend_from_slice(b"PT0");
                push_u64(out, k);
            }
            out.extend_from_slice(b"\", \"hi_res\": ");
            if r.chance(0.6) {
                out.extend_from_slice(b"\"https://m.media-amazon.com/images/I/");
                self.push_image_id(out, salt ^ 0x5555);
                out.extend_from_slice(b"._SL1500_.jpg\"}");
            } else {
                out.extend_from_slice(b"null}");
            }
        }

        out.extend_from_slice(b"], \"videos\": [");
        if r.chance(0.12) {
            out.extend_from_slice(b"{\"title\": \"");
            out.extend_from_slice(r.pick(vocab::VIDEO_TITLES).as_bytes());
            out.extend_from_slice(b"\", \"url\": \"https://www.amazon.com/vdp/");
            let h = r.next();
            for k in 0..16 {
                out.push(b"0123456789abcdef"[((h >> (4 * k)) & 15) as usize]);
            }
            out.extend_from_slice(b"\", \"user_id\": \"\"}");
        }

        out.extend_from_slice(b"], \"store\": ");
        push_opt_str(out, if r.chance(0.07) { None } else { Some(brand) });

        out.extend_from_slice(b", \"categories\": ");
        match class {
            _ if r.chance(0.15) => out.extend_from_slice(b"[]"),
            CategoryClass::Electronics => {
                out.extend_from_slice(r.pick(vocab::CATEGORY_PATHS).as_bytes())
            }
            CategoryClass::Excluded | CategoryClass::Null => {
                out.extend_from_slice(b"[\"");
                out.extend_from_slice(category.unwrap_or("Electronics").as_bytes());
                out.extend_from_slice(b"\"]");
            }
        }

        out.extend_from_slice(b", \"details\": ");
        push_details(out, &mut r, brand);

        out.extend_from_slice(b", \"parent_asin\": \"");
        self.push_asin(out, i, 0);
        out.extend_from_slice(b"\", \"bought_together\": null}\n");
    }
}

/// Draws a price: two thirds missing, the rest lognormal in cents (60% ending in .99),
/// mostly JSON numbers, some strings, a few corrupt values.
fn draw_price(r: &mut SplitMix64) -> Price {
    if r.chance(PRICE_MISSING_SHARE) {
        return if r.chance(0.5) {
            Price::Null
        } else {
            Price::NoneString
        };
    }
    let dollars = (PRICE_LOG_MEDIAN + PRICE_LOG_SD * r.normal())
        .exp()
        .clamp(0.5, 30_000.0);
    let mut cents = (dollars * 100.0).round() as u64;
    if r.chance(0.6) {
        cents = cents / 100 * 100 + 99;
    }
    let form = r.unit();
    if r.chance(PRICE_CORRUPT_SHARE) {
        return Price::Corrupt(if form < 0.5 { 0 } else { 99_999_900 });
    }
    match form {
        f if f < 0.85 => Price::Number(cents),
        f if f < 0.91 => Price::PlainString(cents),
        f if f < 0.97 => Price::DollarString(cents),
        f if f < 0.985 => Price::Dash,
        _ => Price::NotAvailable,
    }
}

fn push_price(out: &mut Vec<u8>, price: Price) {
    match price {
        Price::Null => out.extend_from_slice(b"null"),
        Price::NoneString => out.extend_from_slice(b"\"None\""),
        Price::Number(c) | Price::Corrupt(c) => push_cents_float(out, c),
        Price::PlainString(c) => {
            out.push(b'"');
            push_cents_plain(out, c);
            out.push(b'"');
        }
        Price::DollarString(c) => {
            out.push(b'"');
            push_cents_dollars(out, c);
            out.push(b'"');
        }
        Price::Dash => out.extend_from_slice("\"—\"".as_bytes()),
        Price::NotAvailable => out.extend_from_slice(b"\"n/a\""),
    }
}

fn push_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
}

fn push_str_list(out: &mut Vec<u8>, r: &mut SplitMix64, from: &[&str], n: u64) {
    out.push(b'[');
    for k in 0..n {
        if k > 0 {
            out.extend_from_slice(b", ");
        }
        out.push(b'"');
        out.extend_from_slice(r.pick(from).as_bytes());
        out.push(b'"');
    }
    out.push(b']');
}

/// `details` is the most irregular field of the real meta file: string values, lists,
/// a nested object of integers ("Best Sellers Rank"), or nothing at all.
fn push_details(out: &mut Vec<u8>, r: &mut SplitMix64, brand: &str) {
    if r.chance(0.08) {
        out.extend_from_slice(b"{}");
        return;
    }
    out.push(b'{');
    let mut first = true;
    let mut key = |out: &mut Vec<u8>, k: &str| {
        if !first {
            out.extend_from_slice(b", ");
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b"\": ");
    };
    if r.chance(0.5) {
        key(out, "Date First Available");
        out.push(b'"');
        out.extend_from_slice(r.pick(vocab::MONTHS).as_bytes());
        out.push(b' ');
        push_u64(out, r.between(1, 28));
        out.extend_from_slice(b", ");
        push_u64(out, r.between(2004, 2023));
        out.push(b'"');
    }
    if r.chance(0.5) {
        key(out, "Manufacturer");
        push_opt_str(out, Some(brand));
    }
    if r.chance(0.4) {
        key(out, "Item Weight");
        out.push(b'"');
        push_tenths(out, r.between(5, 400));
        out.extend_from_slice(if r.chance(0.7) {
            b" ounces\""
        } else {
            b" pounds\""
        });
    }
    if r.chance(0.3) {
        key(out, "Product Dimensions");
        out.push(b'"');
        for k in 0..3 {
            if k > 0 {
                out.extend_from_slice(b" x ");
            }
            push_tenths(out, r.between(5, 200));
        }
        out.extend_from_slice(b" inches\"");
    }
    if r.chance(0.3) {
        key(out, "Item model number");
        out.push(b'"');
        out.push(b'A' + r.below(26) as u8);
        out.push(b'A' + r.below(26) as u8);
        out.push(b'-');
        push_u64(out, r.between(100, 9999));
        out.push(b'"');
    }
    if r.chance(0.15) {
        key(out, "Ports");
        let n = r.between(1, 3);
        push_str_list(out, r, vocab::PORTS, n);
    }
    if r.chance(0.25) {
        key(out, "Best Sellers Rank");
        out.extend_from_slice(b"{\"Electronics\": ");
        push_u64(out, r.between(1, 900_000));
        if r.chance(0.7) {
            out.extend_from_slice(b", \"");
            out.extend_from_slice(r.pick(vocab::PRODUCTS).as_bytes());
            out.extend_from_slice(b"\": ");
            push_u64(out, r.between(1, 5000));
        }
        out.push(b'}');
    }
    if r.chance(0.2) {
        key(out, "Color");
        push_opt_str(out, Some(*r.pick(vocab::COLORS)));
    }
    if r.chance(0.2) {
        key(out, "Connectivity Technology");
        push_opt_str(out, Some(*r.pick(vocab::CONNECTIVITY)));
    }
    if r.chance(0.1) {
        key(out, "Is Discontinued By Manufacturer");
        push_opt_str(out, Some(if r.chance(0.8) { "No" } else { "Yes" }));
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// The generator's truth (which purchases count) must agree with the cleaning
    /// defaults: it once planted 'Amazon Home' as electronics, a category the reference
    /// excludes.
    #[test]
    fn category_classes_agree_with_the_default_exclusion_list() {
        let excluded = crate::config::Config::default().clean.excluded_categories;
        for (name, _, class) in MAIN_CATEGORIES {
            if let Some(name) = name {
                let listed = excluded.iter().any(|e| e == name);
                assert_eq!(listed, *class == CategoryClass::Excluded, "{name}");
            }
        }
    }

    #[test]
    fn asins_are_unique_and_shaped_like_amazon() {
        let cat = Catalogue::new(42, 20_000);
        let mut seen = HashSet::new();
        for i in 0..20_000 {
            for v in 0..=VARIANTS_PER_ITEM {
                let mut a = Vec::new();
                cat.push_asin(&mut a, i, v);
                assert_eq!(a.len(), 10);
                assert!(a.starts_with(b"B0"));
                assert!(
                    a.iter()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                );
                assert!(seen.insert(a), "duplicate ASIN for item {i} variant {v}");
            }
        }
    }

    #[test]
    fn popularity_is_a_skewed_draw_over_every_index() {
        let cat = Catalogue::new(7, 1000);
        let mut counts = vec![0u32; 1000];
        let mut r = SplitMix64::new(3);
        for _ in 0..200_000 {
            counts[cat.popular(&mut r) as usize] += 1;
        }
        let max = *counts.iter().max().unwrap_or(&0);
        let reviewed = counts.iter().filter(|&&c| c > 0).count();
        // Density 1/(rank+50) over 1000 ranks: the top item gets ln(51/50)/ln(21) ~ 0.65%.
        assert!((1_000..1_700).contains(&max), "top item count {max}");
        assert!(reviewed > 990, "only {reviewed} items reviewed");
    }

    #[test]
    fn item_attributes_are_a_function_of_seed_and_index() {
        let a = Catalogue::new(5, 500);
        let b = Catalogue::new(5, 500);
        let (mut la, mut lb) = (Vec::new(), Vec::new());
        let mut t = MetaTally::default();
        for i in (0..500).rev() {
            a.write_meta_line(&mut la, i, &mut t);
        }
        for i in (0..500).rev() {
            b.write_meta_line(&mut lb, i, &mut t);
        }
        assert_eq!(la, lb);
    }
}
