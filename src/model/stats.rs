//! Statistics for baseline gates: the two-sample Mann–Whitney U test
//! (Kayenta's choice), one-sided, with midranks and the tie-corrected
//! normal approximation, exact for small samples without ties.

/// The median of finite samples (`NaN` for none).
pub(crate) fn median(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Midranks (from 1) of `values` and the tie term Σ(t³ − t) over groups of
/// equal values.
fn ranks(values: &[f64]) -> (Vec<f64>, f64) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let mut rank = vec![0.0; values.len()];
    let mut ties = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        // Positions i..=j share the mean of ranks i+1..=j+1.
        let mid = (i + j) as f64 / 2.0 + 1.0;
        for k in &order[i..=j] {
            rank[*k] = mid;
        }
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    (rank, ties)
}

/// The Mann–Whitney U of `x`: the pairs (x, y) with x > y, ties counting half.
pub(crate) fn mann_whitney_u(x: &[f64], y: &[f64]) -> f64 {
    let combined: Vec<f64> = x.iter().chain(y).copied().collect();
    let (rank, _) = ranks(&combined);
    let n1 = x.len() as f64;
    rank[..x.len()].iter().sum::<f64>() - n1 * (n1 + 1.0) / 2.0
}

/// Both samples together at most this many for the exact distribution.
const EXACT_MAX: usize = 40;

/// The one-sided p-value that `x` is stochastically greater than `y`: exact
/// when there are no ties and at most 40 samples in all, else the normal
/// approximation with tie and continuity correction (as
/// `scipy.stats.mannwhitneyu(x, y, alternative="greater")`). 1 when either
/// sample is empty or every value is equal.
pub(crate) fn p_greater(x: &[f64], y: &[f64]) -> f64 {
    if x.is_empty() || y.is_empty() {
        return 1.0;
    }
    let combined: Vec<f64> = x.iter().chain(y).copied().collect();
    let (_, ties) = ranks(&combined);
    let u = mann_whitney_u(x, y);
    if ties == 0.0 && combined.len() <= EXACT_MAX {
        return p_greater_exact(u, x.len(), y.len());
    }
    p_greater_normal(u, x.len(), y.len(), ties)
}

/// P(U ≥ u) under the null hypothesis, without ties: the count of
/// arrangements over all C(n1 + n2, n1) of them.
fn p_greater_exact(u: f64, n1: usize, n2: usize) -> f64 {
    // counts[m][n][k]: orderings of m x's and n y's with U = k. The largest
    // value is an x (it beats all n y's) or a y (it beats nothing).
    let mut counts: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); n2 + 1]; n1 + 1];
    for m in 0..=n1 {
        for n in 0..=n2 {
            counts[m][n] = if m == 0 || n == 0 {
                vec![1.0]
            } else {
                let mut c = vec![0.0; m * n + 1];
                for (k, v) in counts[m - 1][n].iter().enumerate() {
                    c[k + n] += v;
                }
                for (k, v) in counts[m][n - 1].iter().enumerate() {
                    c[k] += v;
                }
                c
            };
        }
    }
    let dist = &counts[n1][n2];
    let total: f64 = dist.iter().sum();
    let from = u.ceil().max(0.0) as usize;
    dist.iter().skip(from).sum::<f64>() / total
}

/// P(U ≥ u) by the normal approximation, with the tie-corrected variance
/// and a continuity correction of ½.
pub(crate) fn p_greater_normal(u: f64, n1: usize, n2: usize, ties: f64) -> f64 {
    let (a, b) = (n1 as f64, n2 as f64);
    let n = a + b;
    let mean = a * b / 2.0;
    let var = a * b / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if var <= 0.0 || !var.is_finite() {
        return 1.0;
    }
    let z = (u - mean - 0.5) / var.sqrt();
    normal_sf(z)
}

/// P(Z > z) for a standard normal Z.
pub(crate) fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// The complementary error function (Numerical Recipes' `erfcc`: relative
/// error below 1.2e-7 everywhere, plenty for a p-value).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}
