-- clv_loglik: one evaluation of a CLV log-likelihood and its gradient, for the driver's
-- maximum-likelihood fit (crates/rfmseg/src/stages/clv.rs): one query per evaluation.
--
-- Input:      clv_triples (for BG/NBD) or clv_pairs (for Gamma-Gamma)
-- Parameters: aggregate   one of
--
--   bgnbd_ll('r,alpha,a,b', x, t_x, t_cal, n)
--       [Σ n·LL, Σ n·dLL/dr, Σ n·dLL/dalpha, Σ n·dLL/da, Σ n·dLL/db, Σ n]
--   gamma_gamma_ll('p,q,gamma', x, m, n)
--       [Σ n·LL, Σ n·dLL/dp, Σ n·dLL/dq, Σ n·dLL/dgamma, Σ n], over the customers with
--       x >= 1 (the function skips x = 0; a NULL m is skipped too)
--
--             input       the table
--
-- Both sums are exact (fixed point), so any partitioning gives the same bits and an
-- embedded and a cluster fit take the same steps.
SELECT {{aggregate}} AS ll
FROM {{input}}
