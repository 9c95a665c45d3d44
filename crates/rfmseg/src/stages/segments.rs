//! Naming clusters from their centroids, and what to do with each group of customers.
//!
//! Labels never come from a cluster's index (which depends on initialisation) but from
//! where its centre lies. For k = 4, the reference analysis's rule; for any other k, a
//! one-to-one assignment of clusters to archetype prototypes in the scaled R/F/M space
//! that minimises the total squared distance (the assignment the Hungarian method
//! computes; found here exactly by dynamic programming over subsets of prototypes, which
//! is instant for the at most 16 prototypes).

/// An archetype: a name and where its customers sit in scaled (recency_z, frequency_z,
/// monetary_z) space. A positive recency_z means long since the last purchase.
pub struct Prototype {
    pub name: &'static str,
    pub z: [f64; 3],
}

/// The archetypes for k != 4: the reference's four first, then finer ones for larger k.
pub const PROTOTYPES: [Prototype; 10] = [
    Prototype {
        name: "Loyal Customer",
        z: [-0.5, 1.5, 1.0],
    },
    Prototype {
        name: "New Customer",
        z: [-1.0, -0.5, -0.3],
    },
    Prototype {
        name: "Churned",
        z: [1.2, -0.5, -0.3],
    },
    Prototype {
        name: "One Time Big Spender",
        z: [0.0, -0.5, 1.2],
    },
    Prototype {
        name: "Occasional Bargain Hunter",
        z: [0.0, -0.5, -1.2],
    },
    Prototype {
        name: "Champion",
        z: [-1.0, 2.5, 2.0],
    },
    Prototype {
        name: "At Risk Regular",
        z: [1.0, 1.0, 0.5],
    },
    Prototype {
        name: "Recent Big Spender",
        z: [-1.0, -0.3, 1.5],
    },
    Prototype {
        name: "Lapsed Big Spender",
        z: [1.2, -0.3, 1.2],
    },
    Prototype {
        name: "Dormant Bargain Hunter",
        z: [1.2, -0.5, -1.2],
    },
];

/// Labels for clusters with these centres (scaled units) and mean recency and frequency
/// (original units, from the data).
///
/// k = 4, the reference's rule: the highest mean frequency is "Loyal Customer"; of the
/// rest, the least recent (largest mean recency) is "Churned", the most recent "New
/// Customer", and the remaining one "One Time Big Spender". Other k: the prototype
/// assignment; clusters beyond the prototypes are "Segment <n>".
pub fn cluster_labels(
    centroids_z: &[[f64; 3]],
    mean_recency: &[f64],
    mean_frequency: &[f64],
) -> Vec<String> {
    let k = centroids_z.len();
    if k == 4 {
        let mut rest: Vec<usize> = (0..4).collect();
        let loyal = *rest
            .iter()
            .max_by(|&&a, &&b| {
                mean_frequency[a]
                    .total_cmp(&mean_frequency[b])
                    .then(b.cmp(&a))
            })
            .unwrap_or(&0);
        rest.retain(|&c| c != loyal);
        let churned = *rest
            .iter()
            .max_by(|&&a, &&b| mean_recency[a].total_cmp(&mean_recency[b]).then(b.cmp(&a)))
            .unwrap_or(&0);
        rest.retain(|&c| c != churned);
        let new = *rest
            .iter()
            .min_by(|&&a, &&b| mean_recency[a].total_cmp(&mean_recency[b]).then(a.cmp(&b)))
            .unwrap_or(&0);
        rest.retain(|&c| c != new);
        let mut labels = vec![String::new(); 4];
        labels[loyal] = "Loyal Customer".into();
        labels[churned] = "Churned".into();
        labels[new] = "New Customer".into();
        for c in rest {
            labels[c] = "One Time Big Spender".into();
        }
        return labels;
    }
    let assigned = assign_prototypes(centroids_z);
    assigned
        .iter()
        .enumerate()
        .map(|(c, p)| match p {
            Some(p) => PROTOTYPES[*p].name.to_string(),
            None => format!("Segment {}", c + 1),
        })
        .collect()
}

/// The one-to-one cluster -> prototype assignment with the least total squared
/// distance; `None` for clusters beyond the number of prototypes (the farthest ones).
/// Up to k = 5 only the five main archetypes compete (the reference's four and the
/// occasional buyer), so a few clusters get the familiar names; each further cluster
/// brings in the next, finer prototype.
pub fn assign_prototypes(centroids_z: &[[f64; 3]]) -> Vec<Option<usize>> {
    let k = centroids_z.len();
    let p = k.clamp(5, PROTOTYPES.len());
    let cost = |c: usize, j: usize| -> f64 {
        (0..3)
            .map(|t| (centroids_z[c][t] - PROTOTYPES[j].z[t]).powi(2))
            .sum()
    };
    // Which clusters get a prototype: all if k <= p, else the p closest to any prototype.
    let mut order: Vec<usize> = (0..k).collect();
    if k > p {
        order.sort_by(|&a, &b| {
            let da = (0..p).map(|j| cost(a, j)).fold(f64::INFINITY, f64::min);
            let db = (0..p).map(|j| cost(b, j)).fold(f64::INFINITY, f64::min);
            da.total_cmp(&db).then(a.cmp(&b))
        });
        order.truncate(p);
        order.sort();
    }
    // dp[mask] = least cost of giving the first popcount(mask) clusters of `order` the
    // prototypes in mask.
    let m = order.len();
    let size = 1usize << p;
    let mut dp = vec![f64::INFINITY; size];
    let mut choice = vec![usize::MAX; size];
    dp[0] = 0.0;
    for mask in 0..size {
        let i = mask.count_ones() as usize;
        if i >= m || dp[mask].is_infinite() {
            continue;
        }
        for j in 0..p {
            if mask & (1 << j) == 0 {
                let next = mask | (1 << j);
                let v = dp[mask] + cost(order[i], j);
                if v < dp[next] {
                    dp[next] = v;
                    choice[next] = j;
                }
            }
        }
    }
    let best = (0..size)
        .filter(|mask| mask.count_ones() as usize == m)
        .min_by(|&a, &b| dp[a].total_cmp(&dp[b]).then(a.cmp(&b)))
        .unwrap_or(0);
    let mut out = vec![None; k];
    let mut mask = best;
    for i in (0..m).rev() {
        let j = choice[mask];
        if j == usize::MAX {
            break;
        }
        out[order[i]] = Some(j);
        mask &= !(1 << j);
    }
    out
}

/// The recommended action for a cluster label or RFM segment (the reference analysis's,
/// extended to every name rfmseg can produce).
pub fn action(name: &str) -> &'static str {
    match name {
        "Loyal Customer" | "Loyal Customers" | "Champion" | "Champions" => {
            "Reward them: tiered cash-back and a points programme, early access to new \
             products; ask for reviews and referrals."
        }
        "New Customer" | "New Customers" => {
            "Turn the first purchase into a habit: a trial membership, onboarding offers on \
             accessories for what they bought, a second-purchase coupon."
        }
        "Churned" | "Lost" | "Hibernating" | "Dormant Bargain Hunter" => {
            "Win them back, or spend the budget on acquisition: a win-back campaign with a \
             strong time-limited offer; if it fails, stop spending on them."
        }
        "One Time Big Spender" | "Recent Big Spender" | "Lapsed Big Spender" => {
            "Follow up the big purchase: warranty, premium accessories and service plans \
             for it, personalised recommendations in the same category."
        }
        "Potential Loyalists" | "Promising" => {
            "Grow the relationship: membership and loyalty-programme invitations, bundles \
             and recommendations based on past purchases."
        }
        "About to Sleep" | "At Risk" | "At Risk Regular" | "Needs Attention" => {
            "Re-engage before they lapse: targeted discounts on their categories, reminders, \
             and a reason to come back (new arrivals, limited offers)."
        }
        "Can't Lose Them" => {
            "Win back valuable customers personally: exclusive offers, a survey on what went \
             wrong, priority service."
        }
        "Occasional Bargain Hunter" => {
            "Serve them cheaply: price alerts, deals and bundles on low-cost items; no costly \
             retention spend."
        }
        _ => "Study this group before acting: see its evidence below.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k4_follows_the_reference_rule_whatever_the_cluster_order() {
        // Clusters: 0 churned (old), 1 loyal (frequent), 2 big spender, 3 new (recent).
        let z = [
            [1.5, -0.5, 0.0],
            [-0.5, 2.0, 1.0],
            [0.0, -0.5, 1.5],
            [-1.2, -0.4, -0.2],
        ];
        let recency = [300.0, 60.0, 150.0, 20.0];
        let frequency = [1.2, 8.0, 1.0, 1.3];
        let labels = cluster_labels(&z, &recency, &frequency);
        assert_eq!(
            labels,
            [
                "Churned",
                "Loyal Customer",
                "One Time Big Spender",
                "New Customer"
            ]
        );
        // The same clusters in another order get the same names.
        let perm = [2, 3, 0, 1];
        let z2: Vec<[f64; 3]> = perm.iter().map(|&i| z[i]).collect();
        let r2: Vec<f64> = perm.iter().map(|&i| recency[i]).collect();
        let f2: Vec<f64> = perm.iter().map(|&i| frequency[i]).collect();
        let labels2 = cluster_labels(&z2, &r2, &f2);
        let want: Vec<&str> = perm.iter().map(|&i| labels[i].as_str()).collect();
        assert_eq!(labels2, want);
    }

    #[test]
    fn other_k_match_prototypes_one_to_one() {
        // Each centre sits on a prototype, in shuffled order: each gets that prototype.
        let picks = [4usize, 0, 2];
        let z: Vec<[f64; 3]> = picks.iter().map(|&j| PROTOTYPES[j].z).collect();
        let labels = cluster_labels(&z, &[0.0; 3], &[0.0; 3]);
        let want: Vec<&str> = picks.iter().map(|&j| PROTOTYPES[j].name).collect();
        assert_eq!(labels, want);
        // Two centres near the same prototype still get different labels.
        let z = [[-0.5, 1.5, 1.0], [-0.5, 1.4, 1.0], [1.2, -0.5, -0.3]];
        let labels = cluster_labels(&z, &[0.0; 3], &[0.0; 3]);
        assert_eq!(labels[2], "Churned");
        assert_ne!(labels[0], labels[1]);
        // Beyond the prototypes: numbered segments, still distinct.
        let z: Vec<[f64; 3]> = (0..12).map(|i| [i as f64, 0.0, 0.0]).collect();
        let labels = cluster_labels(&z, &[0.0; 12], &[0.0; 12]);
        let mut unique = labels.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 12);
        assert_eq!(
            labels.iter().filter(|l| l.starts_with("Segment ")).count(),
            2
        );
    }

    /// The string literal that follows `keyword` on a line of SQL ('' unescaped).
    fn literal_after(line: &str, keyword: &str) -> Option<String> {
        let rest = &line[line.find(keyword)? + keyword.len()..];
        let rest = rest.trim_start().strip_prefix('\'')?;
        let mut name = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                } else {
                    return Some(name);
                }
            }
            name.push(c);
        }
        None
    }

    /// Every name sql/rfm_segments.sql can give, read from the SQL itself (the literal of
    /// each THEN and of the ELSE), and the number of WHEN branches, comments skipped.
    fn segment_names_in_sql(sql: &str) -> (Vec<String>, usize) {
        let code = sql.lines().filter(|l| !l.trim_start().starts_with("--"));
        let (mut names, mut whens) = (Vec::new(), 0);
        for line in code {
            if line.contains("WHEN ") {
                whens += 1;
            }
            if let Some(n) = literal_after(line, " THEN ").or_else(|| literal_after(line, "ELSE "))
            {
                names.push(n);
            }
        }
        (names, whens)
    }

    /// The names come from the SQL that assigns them, not from a copy: a segment added
    /// or renamed there without an action here fails this test.
    #[test]
    fn every_segment_name_has_an_action() {
        let sql = crate::stages::scores::RFM_SEGMENTS_SQL;
        let (names, whens) = segment_names_in_sql(sql);
        assert_eq!(
            names.len(),
            whens + 1,
            "one name per WHEN and one for the ELSE: {names:?}"
        );
        // The SQL's header states the count ("one of 11 names"), and DESIGN §5 has 11.
        let stated: usize = sql
            .split("one of ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .expect("the header of sql/rfm_segments.sql says \"one of N names\"");
        assert_eq!((names.len(), stated), (11, 11), "{names:?}");
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "names are distinct: {names:?}");
        assert!(names.iter().any(|n| n == "Can't Lose Them"), "{names:?}");
        for name in &names {
            assert!(!action(name).starts_with("Study"), "{name} has no action");
        }
        for p in &PROTOTYPES {
            assert!(!action(p.name).starts_with("Study"), "{}", p.name);
        }
    }
}
