//! The statistics of group signals, computed bit-identically everywhere.
//!
//! # `poisson-change`: the exact conditional test for two Poisson rates
//! Let `X` be a group's adverse count in the current period (length `w` days) and `Y` its count
//! in the `b` periods before it (length `b * w`). Under "no change" both are Poisson with the
//! same daily rate, and given the total `n = X + Y`, `X ~ Binomial(n, q)` with `q = 1 / (b + 1)`
//! whatever the (unknown) rate. The one-sided p-value of an increase is
//! `p = P(X' >= X | n) = sum_{j >= X} C(n, j) q^j (1 - q)^(n - j)`.
//! Because the binomial is discrete, `P(p <= alpha) <= alpha` under no change, for every `n`:
//! a rule that fires only when `p <= alpha` has a false-alarm rate of at most `alpha` per group
//! and evaluation (conservative: often well below it for small counts).
//!
//! # Arithmetic
//! Only f64 `+ - * /` (IEEE 754 correctly rounded, so identical on every platform) and
//! comparisons: no `ln`, `exp` or `powf`, whose last bits depend on the libm. The terms are
//! computed relative to the term at the mode `m = floor((n + 1) q)` (the largest term), by the
//! ratio `t(j+1) / t(j) = (n - j) / (j + 1) * q / (1 - q)` walking up and down from the mode:
//! every relative term is at most 1 and the sum of all of them is between 1 and `n + 1`, so
//! nothing overflows, and very large counts do not underflow as `q^n` alone would (this is the
//! exponent scaling: the common factor `t(m)` cancels in `p = tail / total`). Walks stop once a
//! term is below `2^-60` of the running sum: the terms left out are smaller still, so `p` moves
//! by less than `n * 2^-60` (under 10^-6 for any `n` below 10^12), a tail that lies entirely
//! beyond that point is reported as 0, and a walk never takes more than about 11 standard
//! deviations' worth of steps (about `11 * sqrt(n q)`), so even `n` in the billions costs
//! milliseconds. The result is rounded *up* to whole ppm, so `p_ppm <= alpha_ppm` implies
//! `p <= alpha` and the bound above holds for the integer comparison too.

/// The one-sided p-value `P(X >= k)` for `X ~ Binomial(n, 1 / (periods + 1))`, as a float in
/// `[0, 1]`. `k == 0` gives 1; `k > n` gives 0.
pub fn binomial_upper_tail(k: u64, n: u64, periods: u32) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    let q = 1.0 / (periods as f64 + 1.0);
    let r = q / (1.0 - q);
    // The mode, floor((n + 1) q), in integers (exact).
    let mode = (n + 1) / (periods as u64 + 1);
    let stop = 1.0 / (1u64 << 60) as f64;
    // Upward from the mode: terms t(mode) = 1, t(mode+1), ...
    let mut total = 1.0f64;
    let mut tail = if k <= mode { 1.0 } else { 0.0 };
    let mut t = 1.0f64;
    let mut j = mode;
    while j < n {
        t = t * ((n - j) as f64) / ((j + 1) as f64) * r;
        j += 1;
        total += t;
        if j >= k {
            tail += t;
        }
        if t < stop * total {
            // Every later term is smaller still (the terms fall away from the mode), so what
            // is left changes `total`, and `tail` when k is not reached yet, by less than
            // n * 2^-60 relative: such a tail is reported as 0.
            break;
        }
    }
    // Downward from the mode: t(mode-1), ... Terms below k add to the total only.
    let mut t = 1.0f64;
    let mut j = mode;
    while j > 0 {
        // t(j-1) = t(j) * j / (n - j + 1) / r
        t = t * (j as f64) / ((n - j + 1) as f64) / r;
        j -= 1;
        total += t;
        if j >= k {
            tail += t;
        }
        if t == 0.0 || t < stop * total {
            // Below k the remaining terms only change `total` by less than 2^-60 relative;
            // above k (k <= j) they all belong to the tail as well, so `tail / total` is
            // unaffected to the same precision.
            break;
        }
    }
    let p = tail / total;
    p.clamp(0.0, 1.0)
}

/// `p` in parts per million, rounded up (so `p_ppm <= a` implies `p <= a / 10^6`); 1000000 at
/// most.
pub fn ppm_up(p: f64) -> i64 {
    let x = p * 1_000_000.0;
    let whole = x as i64; // truncation toward zero; x is in [0, 1e6]
    let up = if (whole as f64) < x { whole + 1 } else { whole };
    up.clamp(0, 1_000_000)
}

/// The `poisson-change` p-value in ppm (rounded up): current count `k`, baseline count over
/// `periods` earlier periods.
pub fn poisson_change_p_ppm(k: u64, baseline: u64, periods: u32) -> i64 {
    ppm_up(binomial_upper_tail(k, k.saturating_add(baseline), periods))
}

#[cfg(test)]
mod tests;
