//! Users and their review lines, one block of users at a time.
//!
//! Block `b` holds users `b * USERS_PER_BLOCK ..` and draws from its own ChaCha8 stream
//! (seed, stream `b`), so blocks can be generated on any thread in any order and still give
//! the same bytes. Malformed lines draw from a second stream, so a malformed rate of 0
//! draws nothing there and the good lines are the same whatever the rate.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::bytes::{push_i64, push_iso_date, push_u64};
use super::catalogue::{Catalogue, ItemCore, VARIANTS_PER_ITEM};
use super::rng::{Draw, derive, mix64};
use super::vocab;

/// Users per block: big enough that a block is a few megabytes of output (cheap to hand
/// between threads), small enough that a few blocks in flight stay well under 100 MB.
pub(crate) const USERS_PER_BLOCK: u64 = 4096;

pub(crate) const DAY_MS: i64 = 86_400_000;
/// 1996-05-01T00:00:00Z, the month of the first review in the real data.
pub(crate) const START_MS: i64 = 830_908_800_000;
/// 2021-09-13T00:00:00Z: background users review only before this, two years before the end.
pub(crate) const BACKGROUND_END_MS: i64 = 1_631_491_200_000;
/// 2023-09-13T00:00:00Z, the first millisecond of the newest day.
pub(crate) const END_DAY_START_MS: i64 = 1_694_563_200_000;
/// 2023-09-13T17:25:03.417Z, the newest review: user 0's first line is pinned here.
pub(crate) const NEWEST_MS: i64 = 1_694_625_903_417;
/// Review volume doubles every three years (density proportional to exp(lambda * t)).
const DOUBLING_MS: f64 = 3.0 * 365.25 * DAY_MS as f64;

/// Share of users that are planted (active in the last two years, written to truth.csv).
const PLANTED_SHARE: f64 = 0.20;
/// Background reviews per user: P(K >= k) = k^-1.7, so 69% of users write one review,
/// the mean is about 2.0 and a few write hundreds.
const BACKGROUND_TAIL: f64 = 1.7;
const MAX_REVIEWS_PER_USER: u64 = 500;
const VERIFIED_BACKGROUND: f64 = 0.895;
/// Planted reviews are not all verified, so the cleaning step has something to remove.
const VERIFIED_PLANTED: f64 = 0.97;
const DUPLICATE_SHARE: f64 = 0.01;
const PARENT_ASIN_SHARE: f64 = 0.8;
const RATING_ZERO_SHARE: f64 = 0.0005;
/// Ratings 1..5 in percent, cumulative (8/5/8/16/63).
const RATING_CUMULATIVE: [f64; 5] = [8.0, 13.0, 21.0, 37.0, 100.0];
const NEGATIVE_HELPFUL_SHARE: f64 = 0.0002;
const HELPFUL_ZERO_SHARE: f64 = 0.72;
const IMAGE_SHARE: f64 = 0.10;
const MAX_TEXT_BYTES: usize = 1000;
/// Rejection-sampling budget for a planted purchase before falling back to the pools.
const PLANTED_TRIES: usize = 512;
/// Items kept per pool by the catalogue scan.
const POOL_CAP: usize = 256;

/// The customer behaviours planted in the last two years, in truth.csv's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Archetype {
    Churned = 1,
    New = 2,
    OneTimeBigSpender = 3,
    Loyal = 4,
    Occasional = 5,
}

impl Archetype {
    pub(crate) const ALL: [Archetype; 5] = [
        Archetype::Churned,
        Archetype::New,
        Archetype::OneTimeBigSpender,
        Archetype::Loyal,
        Archetype::Occasional,
    ];
    /// Shares among planted users, cumulative percent (30/25/15/12/18).
    const CUMULATIVE: [f64; 5] = [30.0, 55.0, 70.0, 82.0, 100.0];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Archetype::Churned => "churned",
            Archetype::New => "new",
            Archetype::OneTimeBigSpender => "one_time_big_spender",
            Archetype::Loyal => "loyal",
            Archetype::Occasional => "occasional",
        }
    }

    #[cfg(test)]
    pub(crate) fn share(self) -> f64 {
        let k = self as usize - 1;
        let prev = if k == 0 { 0.0 } else { Self::CUMULATIVE[k - 1] };
        (Self::CUMULATIVE[k] - prev) / 100.0
    }
}

/// Which items a planted purchase may use (prices in cents).
#[derive(Debug, Clone, Copy)]
enum PriceRule {
    Any,
    AtLeast(u64),
    Below(u64),
}

impl PriceRule {
    fn accepts(self, core: &ItemCore) -> bool {
        match (core.plantable_cents(), self) {
            (None, _) => false,
            (Some(_), PriceRule::Any) => true,
            (Some(c), PriceRule::AtLeast(min)) => c >= min,
            (Some(c), PriceRule::Below(max)) => c < max,
        }
    }
}

const LOYAL_MIN_CENTS: u64 = 2_000;
const BIG_SPENDER_MIN_CENTS: u64 = 50_000;
const OCCASIONAL_MAX_CENTS: u64 = 2_500;

/// Fallback items for planted purchases, found by one bounded scan of the catalogue, for
/// when rejection sampling runs out of tries (small catalogues, rare price bands).
#[derive(Debug, Clone, Default)]
pub(crate) struct Pools {
    any: Vec<u64>,
    loyal: Vec<u64>,
    big: Vec<u64>,
    cheap: Vec<u64>,
}

impl Pools {
    /// Scans item indices in order until every pool is full or the catalogue ends. A pool
    /// with no qualifying item falls back to the nearest price (the priciest item for the
    /// high bands, the cheapest for the low one); if no item is plantable at all, pools stay
    /// empty and planted purchases use any popular item.
    pub(crate) fn scan(cat: &Catalogue) -> Pools {
        let mut p = Pools::default();
        let mut priciest: Option<(u64, u64)> = None;
        let mut cheapest: Option<(u64, u64)> = None;
        for i in 0..cat.len() {
            let core = cat.core(i);
            let Some(c) = core.plantable_cents() else {
                continue;
            };
            if priciest.is_none_or(|(pc, _)| c > pc) {
                priciest = Some((c, i));
            }
            if cheapest.is_none_or(|(cc, _)| c < cc) {
                cheapest = Some((c, i));
            }
            for (pool, rule) in [
                (&mut p.any, PriceRule::Any),
                (&mut p.loyal, PriceRule::AtLeast(LOYAL_MIN_CENTS)),
                (&mut p.big, PriceRule::AtLeast(BIG_SPENDER_MIN_CENTS)),
                (&mut p.cheap, PriceRule::Below(OCCASIONAL_MAX_CENTS)),
            ] {
                if pool.len() < POOL_CAP && rule.accepts(&core) {
                    pool.push(i);
                }
            }
            if [&p.any, &p.loyal, &p.big, &p.cheap]
                .iter()
                .all(|pool| pool.len() >= POOL_CAP)
            {
                break;
            }
        }
        if let Some((_, i)) = priciest {
            if p.loyal.is_empty() {
                p.loyal.push(i);
            }
            if p.big.is_empty() {
                p.big.push(i);
            }
        }
        if let Some((_, i)) = cheapest
            && p.cheap.is_empty()
        {
            p.cheap.push(i);
        }
        p
    }

    fn for_rule(&self, rule: PriceRule) -> &[u64] {
        match rule {
            PriceRule::Any => &self.any,
            PriceRule::AtLeast(c) if c >= BIG_SPENDER_MIN_CENTS => &self.big,
            PriceRule::AtLeast(_) => &self.loyal,
            PriceRule::Below(_) => &self.cheap,
        }
    }
}

/// Line flags: what the writer tallies without re-reading the bytes.
pub(crate) const FIRST_OF_USER: u8 = 1;
pub(crate) const LAST_OF_USER: u8 = 2;
pub(crate) const DUPLICATE: u8 = 4;
pub(crate) const VERIFIED: u8 = 8;
pub(crate) const RATING_ZERO: u8 = 16;
pub(crate) const NEGATIVE_HELPFUL: u8 = 32;

/// How a review line departs from a good one, if it does (drawn at `--malformed-rate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Malformed {
    None,
    /// Cut in the middle: no closing brace. A bad line.
    Truncated,
    /// `"timestamp": "2023-01-05"` or `"rating": "five"`. A bad line.
    WrongType,
    /// The `"user_id"` key and value removed. Not a bad line: a missing key reads as NULL
    /// (DESIGN §3), so this is a review with a NULL user_id, which cleaning drops and
    /// counts as "missing user_id".
    MissingUser,
}

/// One line of a block: where it ends in the block's bytes and what it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineMeta {
    pub(crate) end: usize,
    pub(crate) flags: u8,
    pub(crate) malformed: Malformed,
    /// 0 for background users, else `Archetype as u8`.
    pub(crate) archetype: u8,
}

/// Counts over a run of lines; `verified`, `rating_zero` and `negative_helpful` count only
/// the lines a reader keeps (good ones and those without user_id, not bad lines), so a
/// re-read of the file finds the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) lines: u64,
    pub(crate) duplicate_lines: u64,
    pub(crate) truncated: u64,
    pub(crate) wrong_type: u64,
    pub(crate) missing_user: u64,
    pub(crate) users: u64,
    /// Planted users whose every line was written, by `Archetype as usize - 1`.
    pub(crate) planted: [u64; 5],
    pub(crate) verified: u64,
    pub(crate) rating_zero: u64,
    pub(crate) negative_helpful: u64,
}

impl Tally {
    pub(crate) fn of(lines: &[LineMeta]) -> Tally {
        let mut t = Tally {
            lines: lines.len() as u64,
            ..Tally::default()
        };
        for l in lines {
            let f = l.flags;
            t.duplicate_lines += u64::from(f & DUPLICATE != 0);
            t.users += u64::from(f & FIRST_OF_USER != 0);
            if f & LAST_OF_USER != 0 && l.archetype != 0 {
                t.planted[usize::from(l.archetype - 1)] += 1;
            }
            match l.malformed {
                Malformed::None | Malformed::MissingUser => {
                    t.missing_user += u64::from(l.malformed == Malformed::MissingUser);
                    t.verified += u64::from(f & VERIFIED != 0);
                    t.rating_zero += u64::from(f & RATING_ZERO != 0);
                    t.negative_helpful += u64::from(f & NEGATIVE_HELPFUL != 0);
                }
                Malformed::Truncated => t.truncated += 1,
                Malformed::WrongType => t.wrong_type += 1,
            }
        }
        t
    }

    pub(crate) fn add(&mut self, o: &Tally) {
        self.lines += o.lines;
        self.duplicate_lines += o.duplicate_lines;
        self.truncated += o.truncated;
        self.wrong_type += o.wrong_type;
        self.missing_user += o.missing_user;
        self.users += o.users;
        for (a, b) in self.planted.iter_mut().zip(o.planted) {
            *a += b;
        }
        self.verified += o.verified;
        self.rating_zero += o.rating_zero;
        self.negative_helpful += o.negative_helpful;
    }

    pub(crate) fn planted_users(&self) -> u64 {
        self.planted.iter().sum()
    }
}

/// One block's output: the review bytes, one `LineMeta` per line, and the truth.csv rows
/// of its planted users (in user order, `truth_ends[k]` is where row k ends).
pub(crate) struct ReviewBlock {
    pub(crate) raw: Vec<u8>,
    pub(crate) lines: Vec<LineMeta>,
    pub(crate) truth: Vec<u8>,
    pub(crate) truth_ends: Vec<usize>,
}

/// Everything a worker needs to generate any block; shared read-only between threads.
pub(crate) struct ReviewSource<'a> {
    pub(crate) cat: &'a Catalogue,
    pub(crate) pools: &'a Pools,
    main_key: u64,
    malformed_key: u64,
    user_keys: [u64; 3],
    malformed_rate: f64,
}

impl<'a> ReviewSource<'a> {
    pub(crate) fn new(
        seed: u64,
        cat: &'a Catalogue,
        pools: &'a Pools,
        malformed_rate: f64,
    ) -> Self {
        ReviewSource {
            cat,
            pools,
            main_key: derive(seed, 21),
            malformed_key: derive(seed, 22),
            user_keys: [derive(seed, 23), derive(seed, 24), derive(seed, 25)],
            malformed_rate,
        }
    }

    /// Generates block `b`. A pure function of the seed, the options and `b`.
    pub(crate) fn block(&self, b: u64) -> ReviewBlock {
        let mut rng = ChaCha8Rng::seed_from_u64(self.main_key);
        rng.set_stream(b);
        let malformed_rng = (self.malformed_rate > 0.0).then(|| {
            let mut m = ChaCha8Rng::seed_from_u64(self.malformed_key);
            m.set_stream(b);
            m
        });
        let mut w = BlockWriter {
            src: self,
            rng,
            malformed_rng,
            raw: Vec::with_capacity(USERS_PER_BLOCK as usize * 1600),
            lines: Vec::with_capacity(USERS_PER_BLOCK as usize * 3),
            truth: Vec::new(),
            truth_ends: Vec::new(),
            purchases: Vec::new(),
        };
        let first = b.saturating_mul(USERS_PER_BLOCK);
        for u in first..first.saturating_add(USERS_PER_BLOCK) {
            w.user(u);
        }
        ReviewBlock {
            raw: w.raw,
            lines: w.lines,
            truth: w.truth,
            truth_ends: w.truth_ends,
        }
    }

    /// `"A"` and 27 base-32 characters (the alphabet of the real ids). Characters 3..15
    /// encode a bijective mix of the user index, so ids are unique by construction; the rest
    /// is hash padding.
    pub(crate) fn user_id(&self, u: u64) -> [u8; 28] {
        const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let [k0, k1, k2] = self.user_keys;
        let x = mix64(u.wrapping_add(k0));
        let mut id = [b'A'; 28];
        let mut h = mix64(u ^ k1);
        id[1] = b"EFGH"[(h & 3) as usize];
        h >>= 2;
        for (k, c) in id[2..15].iter_mut().enumerate() {
            *c = B32[((x >> (5 * k)) & 31) as usize];
        }
        for (k, c) in id[15..28].iter_mut().enumerate() {
            if k == 12 {
                h = mix64(u ^ k2);
            }
            *c = B32[(h & 31) as usize];
            h >>= 5;
        }
        id
    }
}

/// What every line of one user shares.
struct Author {
    id: [u8; 28],
    /// Probability that a review is a verified purchase.
    verified_share: f64,
    /// 0 for background users, else `Archetype as u8`.
    archetype: u8,
}

struct BlockWriter<'s, 'a> {
    src: &'s ReviewSource<'a>,
    rng: ChaCha8Rng,
    malformed_rng: Option<ChaCha8Rng>,
    raw: Vec<u8>,
    lines: Vec<LineMeta>,
    truth: Vec<u8>,
    truth_ends: Vec<usize>,
    purchases: Vec<(u64, i64)>,
}

/// A timestamp on day `days_back` before the newest day, never after `NEWEST_MS`.
fn day_ts(r: &mut impl Draw, lo: u64, hi: u64) -> i64 {
    let d = r.between(lo, hi) as i64;
    let ms = if d == 0 {
        r.below((NEWEST_MS - END_DAY_START_MS + 1) as u64)
    } else {
        r.below(DAY_MS as u64)
    } as i64;
    END_DAY_START_MS - d * DAY_MS + ms
}

/// A background timestamp in [START_MS, BACKGROUND_END_MS), density growing as
/// exp(lambda * t), by the inverse CDF of the time back from the end.
fn background_ts(r: &mut impl Draw) -> i64 {
    let span = (BACKGROUND_END_MS - START_MS) as f64;
    let lambda = std::f64::consts::LN_2 / DOUBLING_MS;
    let back = -(1.0 - r.unit() * (1.0 - (-lambda * span).exp())).ln() / lambda;
    (BACKGROUND_END_MS - 1 - back as i64).max(START_MS)
}

impl BlockWriter<'_, '_> {
    fn planted_item(&mut self, rule: PriceRule) -> u64 {
        let cat = self.src.cat;
        for _ in 0..PLANTED_TRIES {
            let i = cat.popular(&mut self.rng);
            if rule.accepts(&cat.core(i)) {
                return i;
            }
        }
        let pool = self.src.pools.for_rule(rule);
        if pool.is_empty() {
            cat.popular(&mut self.rng)
        } else {
            *self.rng.pick(pool)
        }
    }

    fn plant(&mut self, count: u64, rule: PriceRule, days: (u64, u64)) {
        for _ in 0..count {
            let item = self.planted_item(rule);
            let ts = day_ts(&mut self.rng, days.0, days.1);
            self.purchases.push((item, ts));
        }
    }

    fn user(&mut self, u: u64) {
        // User 0 is always a new customer whose first review is the newest of the data set,
        // so the data end is 2023-09-13 whatever the seed and size.
        let archetype = if u == 0 {
            Some(Archetype::New)
        } else if self.rng.chance(PLANTED_SHARE) {
            Some(Archetype::ALL[self.rng.pick_cumulative(&Archetype::CUMULATIVE)])
        } else {
            None
        };
        self.purchases.clear();
        match archetype {
            None => {
                let k = (self.rng.unit_open().powf(-1.0 / BACKGROUND_TAIL) as u64)
                    .clamp(1, MAX_REVIEWS_PER_USER);
                for _ in 0..k {
                    let item = self.src.cat.popular(&mut self.rng);
                    let ts = background_ts(&mut self.rng);
                    self.purchases.push((item, ts));
                }
            }
            Some(Archetype::Loyal) => {
                let k = self.rng.between(6, 25);
                self.plant(k, PriceRule::AtLeast(LOYAL_MIN_CENTS), (0, 364));
            }
            Some(Archetype::New) => {
                let k = self.rng.between(1, 3);
                self.plant(k, PriceRule::Any, (0, 89));
                if u == 0 {
                    self.purchases[0].1 = NEWEST_MS;
                }
            }
            Some(Archetype::Churned) => {
                let k = self.rng.between(1, 4);
                self.plant(k, PriceRule::Any, (240, 364));
                let older = self.rng.between(0, 2);
                self.plant(older, PriceRule::Any, (365, 699));
            }
            Some(Archetype::OneTimeBigSpender) => {
                self.plant(1, PriceRule::AtLeast(BIG_SPENDER_MIN_CENTS), (0, 364));
            }
            Some(Archetype::Occasional) => {
                let k = self.rng.between(1, 3);
                self.plant(k, PriceRule::Below(OCCASIONAL_MAX_CENTS), (0, 364));
            }
        }
        let id = self.src.user_id(u);
        let author = Author {
            id,
            verified_share: if archetype.is_some() {
                VERIFIED_PLANTED
            } else {
                VERIFIED_BACKGROUND
            },
            archetype: archetype.map_or(0, |a| a as u8),
        };
        for k in 0..self.purchases.len() {
            let (item, ts) = self.purchases[k];
            let pinned = u == 0 && k == 0;
            self.review(&author, item, ts, k == 0, pinned);
        }
        if let Some(last) = self.lines.last_mut() {
            last.flags |= LAST_OF_USER;
        }
        if let Some(a) = archetype {
            self.truth.extend_from_slice(&id);
            self.truth.push(b',');
            self.truth.extend_from_slice(a.name().as_bytes());
            self.truth.push(b'\n');
            self.truth_ends.push(self.truth.len());
        }
    }

    fn draw_malformed(&mut self, pinned: bool) -> (Malformed, bool, f64) {
        let rate = self.src.malformed_rate;
        let Some(m) = self.malformed_rng.as_mut().filter(|_| !pinned) else {
            return (Malformed::None, false, 0.0);
        };
        if !m.chance(rate) {
            return (Malformed::None, false, 0.0);
        }
        match m.below(3) {
            0 => (Malformed::Truncated, false, m.unit()),
            1 => (Malformed::WrongType, m.chance(0.5), 0.0),
            _ => (Malformed::MissingUser, false, 0.0),
        }
    }

    /// Writes one review line (twice, 1% of the time); `first` is the user's first line.
    /// The `pinned` line (the newest review) is never malformed.
    fn review(&mut self, author: &Author, item: u64, ts: i64, first: bool, pinned: bool) {
        let (malformed, wrong_timestamp, cut) = self.draw_malformed(pinned);
        let cat = self.src.cat;
        let r = &mut self.rng;
        let out = &mut self.raw;
        let start = out.len();
        let mut flags = if first { FIRST_OF_USER } else { 0 };

        let variant = if r.chance(PARENT_ASIN_SHARE) {
            0
        } else {
            r.between(1, VARIANTS_PER_ITEM)
        };
        let rating = if r.chance(RATING_ZERO_SHARE) {
            0
        } else {
            r.pick_cumulative(&RATING_CUMULATIVE) + 1
        };
        if rating == 0 {
            flags |= RATING_ZERO;
        }

        out.extend_from_slice(b"{\"rating\": ");
        if malformed == Malformed::WrongType && !wrong_timestamp {
            out.push(b'"');
            out.extend_from_slice(vocab::RATING_WORDS[rating].as_bytes());
            out.push(b'"');
        } else {
            push_u64(out, rating as u64);
            out.extend_from_slice(b".0");
        }

        let (titles, sentences) = match rating {
            1 | 2 => (vocab::TITLES_NEGATIVE, vocab::NEGATIVE),
            3 => (vocab::TITLES_NEUTRAL, vocab::NEUTRAL),
            _ => (vocab::TITLES_POSITIVE, vocab::POSITIVE),
        };
        out.extend_from_slice(b", \"title\": \"");
        out.extend_from_slice(r.pick(titles).as_bytes());

        // Text: sentences until a target length (20 + exponential, mean ~300 bytes in all),
        // never past 1000 bytes, sometimes with paragraph breaks.
        out.extend_from_slice(b"\", \"text\": \"");
        let target = (20.0 - 240.0 * r.unit_open().ln()).min(MAX_TEXT_BYTES as f64) as usize;
        let mut len = 0;
        while len < target {
            let s = if r.chance(0.2) {
                r.pick(vocab::GENERIC)
            } else {
                r.pick(sentences)
            };
            if len > 0 && len + 1 + s.len() > MAX_TEXT_BYTES {
                break;
            }
            if len > 0 {
                let sep = if r.chance(0.06) {
                    r.pick(vocab::BREAKS)
                } else {
                    " "
                };
                out.extend_from_slice(sep.as_bytes());
                len += sep.len();
            }
            out.extend_from_slice(s.as_bytes());
            len += s.len();
        }

        out.extend_from_slice(b"\", \"images\": [");
        if r.chance(IMAGE_SHARE) {
            let salt = r.next();
            let urls: [(&[u8], &[u8]); 3] = [
                (b"{\"small_image_url\": \"", b"._SL256_.jpg\""),
                (b", \"medium_image_url\": \"", b"._SL800_.jpg\""),
                (b", \"large_image_url\": \"", b".jpg\""),
            ];
            for (key, suffix) in urls {
                out.extend_from_slice(key);
                out.extend_from_slice(b"https://m.media-amazon.com/images/I/");
                cat.push_image_id(out, salt);
                out.extend_from_slice(suffix);
            }
            out.extend_from_slice(b", \"attachment_type\": \"IMAGE\"}");
        }

        out.extend_from_slice(b"], \"asin\": \"");
        cat.push_asin(out, item, variant);
        out.extend_from_slice(b"\", \"parent_asin\": \"");
        cat.push_asin(out, item, 0);
        if malformed != Malformed::MissingUser {
            out.extend_from_slice(b"\", \"user_id\": \"");
            out.extend_from_slice(&author.id);
        }
        out.extend_from_slice(b"\", \"timestamp\": ");
        if malformed == Malformed::WrongType && wrong_timestamp {
            out.push(b'"');
            push_iso_date(out, ts);
            out.push(b'"');
        } else {
            push_i64(out, ts);
        }

        // Helpful votes: mostly 0, a geometric tail (mean 3.3 when positive), a rare -1.
        let h = r.unit();
        let helpful: i64 = if h < NEGATIVE_HELPFUL_SHARE {
            flags |= NEGATIVE_HELPFUL;
            -1
        } else if h < HELPFUL_ZERO_SHARE {
            0
        } else {
            1 + ((r.unit_open().ln() / 0.7f64.ln()) as i64).min(5000)
        };
        out.extend_from_slice(b", \"helpful_vote\": ");
        push_i64(out, helpful);

        let verified = r.chance(author.verified_share);
        if verified {
            flags |= VERIFIED;
            out.extend_from_slice(b", \"verified_purchase\": true}\n");
        } else {
            out.extend_from_slice(b", \"verified_purchase\": false}\n");
        }

        if malformed == Malformed::Truncated {
            // Cut between a quarter and three quarters of the line, on a character boundary
            // so the file stays valid UTF-8.
            let body = out.len() - 1 - start;
            let mut at = start + body / 4 + ((body / 2) as f64 * cut) as usize;
            while at > start + 1 && (out[at] & 0xC0) == 0x80 {
                at -= 1;
            }
            out.truncate(at);
            out.push(b'\n');
        }
        let end = out.len();
        let meta = LineMeta {
            end,
            flags,
            malformed,
            archetype: author.archetype,
        };
        self.lines.push(meta);
        if self.rng.chance(DUPLICATE_SHARE) {
            self.raw.extend_from_within(start..end);
            self.lines.push(LineMeta {
                end: self.raw.len(),
                flags: (flags & !FIRST_OF_USER) | DUPLICATE,
                ..meta
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn user_ids_are_unique_and_shaped_like_amazon() {
        let cat = Catalogue::new(1, 10);
        let pools = Pools::default();
        let src = ReviewSource::new(1, &cat, &pools, 0.0);
        let mut seen = HashSet::new();
        for u in 0..100_000 {
            let id = src.user_id(u);
            assert_eq!(id[0], b'A');
            assert!(
                id.iter()
                    .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(c))
            );
            assert!(seen.insert(id), "duplicate id for user {u}");
        }
    }

    #[test]
    fn background_timestamps_stay_before_the_last_two_years_and_grow() {
        let mut r = ChaCha8Rng::seed_from_u64(9);
        let mut recent = 0;
        for _ in 0..100_000 {
            let ts = background_ts(&mut r);
            assert!((START_MS..BACKGROUND_END_MS).contains(&ts));
            recent += usize::from(ts >= BACKGROUND_END_MS - 3 * 365 * DAY_MS);
        }
        // Doubling every three years: the last three years hold about half of everything.
        assert!((45_000..55_000).contains(&recent), "{recent}");
    }

    #[test]
    fn planted_days_never_pass_the_newest_review() {
        let mut r = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..10_000 {
            let ts = day_ts(&mut r, 0, 1);
            assert!((END_DAY_START_MS - DAY_MS..=NEWEST_MS).contains(&ts));
        }
    }

    #[test]
    fn pools_fall_back_when_no_item_fits_the_band() {
        // Ten items: most likely none priced at $500 or more, but the pool is never empty
        // as long as one item is plantable.
        for seed in 0..20 {
            let cat = Catalogue::new(seed, 10);
            let pools = Pools::scan(&cat);
            let plantable = (0..10).any(|i| cat.core(i).plantable_cents().is_some());
            assert_eq!(!pools.big.is_empty(), plantable);
            assert_eq!(!pools.cheap.is_empty(), plantable);
        }
    }
}
