#!/usr/bin/env python3
"""Cross-check rfmseg's lifetime-value fit and predictions against the `lifetimes` library
(0.11, the reference implementation of BG/NBD and Gamma-Gamma in Python), on the same
per-customer summary. Not part of CI: it needs `pip install lifetimes pyarrow`.

    rfmseg run --lake LAKE --out OUT
    rfmseg sql --lake LAKE --upto features -f sql/clv_summary.sql --param time_unit=7.0 \
        --out summary.parquet
    python3 benches/lifetimes_clv.py summary.parquet OUT

Prints, side by side: the parameters and log-likelihoods each fit found on the summary,
and the largest differences between rfmseg's predictions (OUT/customers.parquet) and
lifetimes' at rfmseg's own parameters (P(alive), expected purchases over the horizon,
expected value per purchase).
"""
import json
import sys
import time

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from lifetimes import BetaGeoFitter, GammaGammaFitter


def main(summary_path, out_dir):
    s = pq.read_table(summary_path).to_pandas()
    model = json.load(open(f"{out_dir}/model.json"))["clv"]
    fit, horizon = model["fit"], model["horizon"]
    customers = pq.read_table(f"{out_dir}/customers.parquet").to_pandas()
    print(f"{len(s)} customers, {int((s.x > 0).sum())} with a repeat purchase day")

    started = time.time()
    bgf = BetaGeoFitter(penalizer_coef=0.0)
    bgf.fit(s.x, s.t_x, s.t_cal)
    repeat = s[s.x > 0]
    ggf = GammaGammaFitter(penalizer_coef=0.0)
    ggf.fit(repeat.x, repeat.m)
    seconds = time.time() - started

    print("\nparameter     rfmseg          lifetimes       relative difference")
    names = ["r", "alpha", "a", "b"]
    ours = dict(zip(names, fit["bgnbd"]))
    ours.update(zip(["p", "q", "v"], fit["gamma_gamma"]))
    theirs = dict(bgf.params_)
    theirs.update(dict(ggf.params_))
    for k in names + ["p", "q", "v"]:
        print(f"{k:<10} {ours[k]:>14.6g} {theirs[k]:>14.6g} {abs(ours[k] / theirs[k] - 1):>14.2e}")
    n, n_rep = len(s), len(repeat)
    # lifetimes fits BG/NBD on times rescaled to T.max() = 10 and keeps the mean negative
    # log-likelihood per customer: its likelihood function, in weeks, at its parameters.
    theirs_ll = -n * BetaGeoFitter._negative_log_likelihood(
        np.log([theirs[k] for k in names]), s.x.values, s.t_x.values, s.t_cal.values,
        np.ones(n), 0.0,
    )
    print(f"BG/NBD LL   {fit['bgnbd_loglik']:>14.4f} {theirs_ll:>14.4f}")
    print(f"G-G LL      {fit['gamma_gamma_loglik']:>14.4f} {-ggf._negative_log_likelihood_ * n_rep:>14.4f}")
    print(f"lifetimes fit: {seconds:.2f} s (rfmseg: the clv stage in report.json)")

    # Predictions at rfmseg's parameters, by lifetimes' formulas.
    bgf.params_ = pd.Series({k: ours[k] for k in names})
    ggf.params_ = pd.Series({k: ours[k] for k in ["p", "q", "v"]})
    joined = customers.merge(s, on="customer_id")
    alive = bgf.conditional_probability_alive(joined.x, joined.t_x, joined.t_cal)
    expected = bgf.conditional_expected_number_of_purchases_up_to_time(
        horizon, joined.x, joined.t_x, joined.t_cal
    )
    value = ggf.conditional_expected_average_profit(joined.x, joined.m.fillna(0.0))

    def worst(name, ours_col, theirs_col):
        rel = np.abs(ours_col - theirs_col) / np.maximum(np.abs(theirs_col), 1e-12)
        print(f"{name:<20} max relative difference {np.nanmax(rel):.2e} over {len(rel)} customers")

    print()
    worst("P(alive)", joined.p_alive.values, np.asarray(alive))
    worst("expected purchases", joined.expected_purchases.values, np.asarray(expected))
    worst("expected value", joined.expected_value.values, np.asarray(value))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
