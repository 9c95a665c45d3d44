#!/usr/bin/env python3
"""The comparison for `cargo bench --bench rfm`: the same lake -> RFM per customer in DuckDB.

Usage: python3 benches/duckdb_rfm.py <lake> [repeats]   (pip install duckdb)

Mirrors sql/clean_reviews.sql, sql/clean_items.sql, sql/purchases.sql and sql/rfm.sql
(default config: 730-day history, verified only, 365-day window, price > 0.25, UTC days)
and prints the median wall time of `repeats` runs and the customers found, so the two
engines can be checked to agree on the count.
"""
import statistics
import sys
import time

import duckdb

EXCLUDED = [
    "AMAZON FASHION", "All Beauty", "Arts, Crafts & Sewing", "Audible Audiobooks",
    "Automotive", "Baby", "Books", "Buy a Kindle", "Collectible Coins", "Digital Music",
    "Fine Art", "Gift Cards", "Grocery", "Handmade", "Health & Personal Care",
    "Kindle Store", "Luxury Beauty", "Magazine Subscriptions", "Movies & TV",
    "Pet Supplies", "Premium Beauty", "Sports & Outdoors", "Toys & Games", "Unique Finds",
]


def query(lake: str) -> str:
    excluded = ", ".join("'" + c.replace("'", "''") + "'" for c in EXCLUDED)
    missing = "('none', 'n/a', 'null', '')"
    nul = lambda c: f"CASE WHEN lower(trim({c})) IN {missing} THEN NULL ELSE {c} END AS {c}"
    return f"""
    WITH r AS (
        -- The lake's ts (Arrow timestamp[s]) reaches DuckDB as BIGINT seconds.
        SELECT DISTINCT {nul('user_id')}, {nul('parent_asin')}, {nul('asin')},
               rating, CAST(ts AS BIGINT) AS ts, verified_purchase, helpful_vote
        FROM read_parquet('{lake}/reviews/*.parquet')
    ),
    rv AS (
        SELECT *, CASE WHEN rating = 0 THEN 1.0 ELSE rating END AS rating1 FROM r
        WHERE user_id IS NOT NULL AND parent_asin IS NOT NULL AND ts IS NOT NULL
          AND rating IS NOT NULL
    ),
    valid AS (SELECT * FROM rv WHERE rating1 BETWEEN 1 AND 5),
    newest AS (SELECT max(ts) AS newest_ts FROM valid),
    clean_reviews AS (
        SELECT v.* FROM valid v, newest
        WHERE verified_purchase AND ts >= newest_ts - 730 * 86400
    ),
    i AS (
        SELECT DISTINCT {nul('parent_asin')}, {nul('title')}, {nul('main_category')},
               {nul('store')}, categories, {nul('price_raw')}
        FROM read_parquet('{lake}/items/*.parquet')
    ),
    clean_items AS (
        SELECT parent_asin,
               CASE WHEN p > 0 AND p <= 100000 THEN p END AS price
        FROM (SELECT *, TRY_CAST(replace(replace(trim(price_raw), '$', ''), ',', '') AS DOUBLE) AS p FROM i)
        WHERE parent_asin IS NOT NULL AND main_category IS NOT NULL
          AND main_category NOT IN ({excluded})
    ),
    items AS (SELECT parent_asin, max(price) AS price FROM clean_items GROUP BY parent_asin),
    purchases AS (
        SELECT r.user_id AS customer_id, CAST(floor(r.ts / 86400) AS BIGINT) AS day,
               i.price AS amount
        FROM clean_reviews r LEFT JOIN items i ON r.parent_asin = i.parent_asin
    ),
    bounds AS (SELECT max(day) AS as_of FROM purchases)
    SELECT customer_id, (max(as_of) + 1) - max(day) AS recency, count(*) AS frequency,
           CAST(sum(CAST(amount AS DECIMAL(18, 6))) AS DOUBLE) AS monetary
    FROM purchases, bounds
    WHERE day BETWEEN as_of - 364 AND as_of AND amount > 0.25
    GROUP BY customer_id
    """


def main() -> None:
    lake = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    con = duckdb.connect()
    con.execute("SET threads = 2")
    sql = query(lake)
    times = []
    customers = 0
    for _ in range(repeats):
        t = time.perf_counter()
        customers = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]
        times.append(time.perf_counter() - t)
    reviews = con.execute(f"SELECT count(*) FROM read_parquet('{lake}/reviews/*.parquet')").fetchone()[0]
    med = statistics.median(times)
    print(f"duckdb {duckdb.__version__}: lake -> RFM, {reviews} reviews, {customers} customers: "
          f"median {med:.3f} s (min {min(times):.3f}, max {max(times):.3f}) = {reviews / med:,.0f} reviews/s")


if __name__ == "__main__":
    main()
