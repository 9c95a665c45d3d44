#!/usr/bin/env python3
"""The comparison for `cargo bench --bench rfm`: the same lake -> RFM per customer in DuckDB.

Usage: python3 benches/duckdb_rfm.py <lake> [repeats]   (pip install duckdb)

Mirrors sql/clean_reviews.sql, sql/clean_items.sql, sql/purchases.sql and sql/rfm.sql
(default config: 730-day history, verified only, 365-day window, price > 0.25, UTC days)
and prints the median wall time of `repeats` runs and the customers found, so the two
engines can be checked to agree on the count.

The excluded categories and missing-value strings are read from `rfmseg show-config`
(the binary named by $RFMSEG, else `rfmseg` on PATH, else target/{release,debug}/rfmseg
under $CARGO_TARGET_DIR or the repository), so they are rfmseg's own defaults. Only when
no binary is found does it fall back to the copy below, and says so.
"""
import os
import shutil
import statistics
import subprocess
import sys
import time
import tomllib
from pathlib import Path

# A COPY of rfmseg's defaults (crates/rfmseg/src/config.rs, CleanConfig::default, the
# reference notebook's list of DESIGN section 3), used only when `rfmseg show-config`
# cannot be run. Keep it equal to the Rust defaults.
EXCLUDED_COPY = [
    "Pet Supplies", "Toys & Games", "Baby", "Grocery", "Collectible Coins", "Automotive",
    "Handmade", "Health & Personal Care", "Arts, Crafts & Sewing", "All Beauty",
    "AMAZON FASHION", "Premium Beauty", "Collectibles & Fine Art", "Magazine Subscriptions",
    "Digital Music", "Tools & Home Improvement", "Software", "Unique Finds",
    "Audible Audiobooks", "Gift Cards", "Sports & Outdoors", "Amazon Home", "Books",
    "Buy a Kindle",
]
MISSING_COPY = ["None", "none", "N/A", "n/a", "null", "NULL", ""]


def rfmseg_binary() -> str | None:
    """The rfmseg binary to ask for its defaults, or None."""
    if os.environ.get("RFMSEG"):
        return os.environ["RFMSEG"]
    if shutil.which("rfmseg"):
        return "rfmseg"
    repo = Path(__file__).resolve().parent.parent
    targets = [Path(os.environ["CARGO_TARGET_DIR"])] if os.environ.get("CARGO_TARGET_DIR") else []
    targets += [repo / "target", Path.home() / ".cache/rfmseg/target"]
    for target in targets:
        for profile in ("release", "debug"):
            if (target / profile / "rfmseg").is_file():
                return str(target / profile / "rfmseg")
    return None


def clean_defaults() -> tuple[list[str], list[str]]:
    """(excluded_categories, missing_values) of rfmseg's [clean] section."""
    binary = rfmseg_binary()
    if binary is not None:
        out = subprocess.run([binary, "show-config"], check=True, capture_output=True, text=True)
        clean = tomllib.loads(out.stdout)["clean"]
        return clean["excluded_categories"], clean["missing_values"]
    print("note: no rfmseg binary found (set RFMSEG=path); using the copy of the default "
          "[clean] lists in benches/duckdb_rfm.py", file=sys.stderr)
    return EXCLUDED_COPY, MISSING_COPY


def sql_list(values) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def query(lake: str, excluded_categories: list[str], missing_values: list[str]) -> str:
    excluded = sql_list(excluded_categories)
    # Compared trimmed and in any case, as sql/clean_*.sql do.
    missing = "(" + sql_list(sorted({v.strip().lower() for v in missing_values})) + ")"
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
    import duckdb

    lake = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    con = duckdb.connect()
    con.execute("SET threads = 2")
    sql = query(lake, *clean_defaults())
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
