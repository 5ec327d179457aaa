//! The error rates of every printed interval and verdict at the n users run, computed exactly by
//! enumerating every outcome (one rate: n + 1 outcomes; a paired difference: every pair of
//! discordant counts; a paired ratio: every 2×2 table) and weighting it by its probability.
//! Outcomes below 1e-10 of probability are skipped and counted against the method (as not
//! covered, as a false verdict), so the figures are bounds in the strict direction.
//! Floors: coverage of every 95% interval ≥ 93%; type-I error of each verdict at its boundary
//! ≤ 5%.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashMap;

use understudy_stats as stats;

const NS: [usize; 3] = [10, 20, 50];
const RATES: [f64; 5] = [0.5, 0.8, 0.9, 0.95, 1.0];
const DISCORDANCE: [f64; 3] = [0.1, 0.2, 0.4];
const COVERAGE_FLOOR: f64 = 0.93;
const SIZE_CEILING: f64 = 0.05;
const NEGLIGIBLE: f64 = 1e-10;

fn ln_factorial(n: usize) -> f64 {
    (1..=n).map(|i| (i as f64).ln()).sum()
}

/// Probability of counts `k` under cell probabilities `p` (multinomial).
fn multinomial(k: &[usize], p: &[f64]) -> f64 {
    let n: usize = k.iter().sum();
    let mut ln = ln_factorial(n);
    for (ki, pi) in k.iter().zip(p) {
        if *ki > 0 {
            if *pi <= 0.0 {
                return 0.0;
            }
            ln += *ki as f64 * pi.ln() - ln_factorial(*ki);
        }
    }
    ln.exp()
}

/// Paired score lists (A, B) for a table: both, only A, only B, neither.
fn lists(both: usize, only_a: usize, only_b: usize, neither: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = Vec::new();
    let mut b = Vec::new();
    for (count, x, y) in [
        (both, 1.0, 1.0),
        (only_a, 1.0, 0.0),
        (only_b, 0.0, 1.0),
        (neither, 0.0, 0.0),
    ] {
        for _ in 0..count {
            a.push(x);
            b.push(y);
        }
    }
    (a, b)
}

#[test]
fn one_rate_intervals_cover_and_never_collapse() {
    for n in NS {
        for k in 0..=n {
            let scores: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i < k))).collect();
            let e = stats::mean_interval(&scores);
            assert!(
                e.high - e.low > 0.01,
                "zero-width interval at {k}/{n}: {e:?}"
            );
        }
        for p in RATES {
            let coverage: f64 = (0..=n)
                .map(|k| {
                    let scores: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i < k))).collect();
                    let e = stats::mean_interval(&scores);
                    let inside = e.low <= p && p <= e.high;
                    if inside {
                        multinomial(&[k, n - k], &[p, 1.0 - p])
                    } else {
                        0.0
                    }
                })
                .sum();
            println!("one rate n={n} p={p}: coverage {coverage:.4}");
            assert!(coverage >= COVERAGE_FLOOR, "n={n} p={p}: {coverage}");
        }
    }
}

#[test]
fn above_a_fixed_bar_keeps_its_size_at_the_bar() {
    for n in NS {
        for bar in [0.25, 0.5, 0.8] {
            let size: f64 = (0..=n)
                .map(|k| {
                    let scores: Vec<f64> = (0..n).map(|i| f64::from(u8::from(i < k))).collect();
                    let (p, _) = stats::above_bar(&scores, bar);
                    if p < stats::ALPHA {
                        multinomial(&[k, n - k], &[bar, 1.0 - bar])
                    } else {
                        0.0
                    }
                })
                .sum();
            println!("above bar n={n} bar={bar}: size {size:.4}");
            assert!(size <= SIZE_CEILING, "n={n} bar={bar}: {size}");
        }
    }
}

/// Every (only A, only B) outcome with its probability, for discordance ψ and B − A = d.
fn discordant_outcomes(n: usize, psi: f64, d: f64) -> Vec<(usize, usize, f64)> {
    let (p10, p01) = ((psi - d) / 2.0, (psi + d) / 2.0);
    let mut out = Vec::new();
    for b in 0..=n {
        for c in 0..=(n - b) {
            let pr = multinomial(&[b, c, n - b - c], &[p10, p01, 1.0 - psi]);
            if pr > NEGLIGIBLE {
                out.push((b, c, pr));
            }
        }
    }
    out
}

/// Per n, what a question answered on the table with (only A, only B) discordant items
/// (concordant items split evenly: the difference methods see only the discordant counts).
struct Cache<T>(HashMap<(usize, usize, usize), T>);

impl<T: Clone> Cache<T> {
    fn get(&mut self, n: usize, b: usize, c: usize, f: impl Fn(&[f64], &[f64]) -> T) -> T {
        self.0
            .entry((n, b, c))
            .or_insert_with(|| {
                let rest = n - b - c;
                let (a, bb) = lists(rest / 2, b, c, rest - rest / 2);
                f(&a, &bb)
            })
            .clone()
    }
}

#[test]
fn paired_difference_intervals_cover() {
    let mut cache = Cache(HashMap::new());
    for n in NS {
        for psi in DISCORDANCE {
            for d in [0.0, -0.05, -0.1, 0.1] {
                let coverage: f64 = discordant_outcomes(n, psi, d)
                    .into_iter()
                    .filter(|(b, c, _)| {
                        let e = cache.get(n, *b, *c, |a, bb| stats::compare(bb, a).difference);
                        assert!(e.high > e.low, "zero width at n={n} b={b} c={c}: {e:?}");
                        e.low <= d + 1e-9 && d - 1e-9 <= e.high
                    })
                    .map(|(_, _, pr)| pr)
                    .sum::<f64>()
                    .max(0.0); // an empty sum is −0.0
                println!("B − A n={n} ψ={psi} d={d}: coverage {coverage:.4}");
                assert!(
                    coverage >= COVERAGE_FLOOR,
                    "n={n} ψ={psi} d={d}: {coverage}"
                );
            }
        }
    }
}

#[test]
fn the_regression_gate_keeps_its_size_at_the_margin() {
    let mut cache = Cache(HashMap::new());
    for margin in [0.0, 0.05, 0.1] {
        cache.0.clear();
        for n in NS {
            for psi in DISCORDANCE.into_iter().filter(|psi| *psi >= margin) {
                let size: f64 = discordant_outcomes(n, psi, -margin)
                    .into_iter()
                    .filter(|(b, c, _)| {
                        cache.get(n, *b, *c, |a, bb| {
                            stats::regression(a, bb, margin).unwrap().shown()
                        })
                    })
                    .map(|(_, _, pr)| pr)
                    .sum::<f64>()
                    .max(0.0); // an empty sum is −0.0
                println!("regression n={n} ψ={psi} margin={margin}: size {size:.4}");
                assert!(
                    size <= SIZE_CEILING,
                    "n={n} ψ={psi} margin={margin}: {size}"
                );
            }
        }
    }
}

#[test]
fn equivalence_keeps_its_size_at_either_margin() {
    let mut cache = Cache(HashMap::new());
    for margin in [0.05, 0.2] {
        cache.0.clear();
        for n in NS {
            for psi in DISCORDANCE.into_iter().filter(|psi| *psi >= margin) {
                for d in [-margin, margin] {
                    let size: f64 = discordant_outcomes(n, psi, d)
                        .into_iter()
                        .filter(|(b, c, _)| {
                            cache.get(n, *b, *c, |a, bb| {
                                stats::equivalence(a, bb, margin).unwrap().shown()
                            })
                        })
                        .map(|(_, _, pr)| pr)
                        .sum::<f64>()
                        .max(0.0); // an empty sum is −0.0
                    println!("equivalence n={n} ψ={psi} margin=±{margin} at {d}: size {size:.4}");
                    assert!(
                        size <= SIZE_CEILING,
                        "n={n} ψ={psi} margin={margin} d={d}: {size}"
                    );
                }
            }
        }
    }
}

/// Every 2×2 table (both, only ref, only model, neither) with its probability when the
/// reference scores `r`, the model keeps `share` of it, and the discordance is ψ.
fn tables(n: usize, r: f64, share: f64, psi: f64) -> Option<Vec<([usize; 4], f64)>> {
    let gap = (1.0 - share) * r; // P(only ref) − P(only model)
    let (only_ref, only_model) = ((psi + gap) / 2.0, (psi - gap) / 2.0);
    let both = r - only_ref;
    let neither = 1.0 - both - only_ref - only_model;
    if only_model < 0.0 || both < 0.0 || neither < -1e-12 {
        return None;
    }
    let p = [both, only_ref, only_model, neither.max(0.0)];
    let mut out = Vec::new();
    for a in 0..=n {
        for b in 0..=(n - a) {
            for c in 0..=(n - a - b) {
                let k = [a, b, c, n - a - b - c];
                let pr = multinomial(&k, &p);
                if pr > NEGLIGIBLE {
                    out.push((k, pr));
                }
            }
        }
    }
    Some(out)
}

#[test]
fn share_of_reference_intervals_cover_and_the_share_gate_keeps_its_size() {
    let mut failures = Vec::new();
    for n in NS {
        let mut intervals = HashMap::new();
        let mut verdicts = HashMap::new();
        for r in RATES {
            for psi in DISCORDANCE {
                for share in [0.9, 0.95] {
                    let Some(outcomes) = tables(n, r, share, psi) else {
                        continue;
                    };
                    let (mut coverage, mut size) = (0.0, 0.0);
                    for (k, pr) in outcomes {
                        let (reference, model) = lists(k[0], k[1], k[2], k[3]);
                        let e = *intervals
                            .entry(k)
                            .or_insert_with(|| stats::share_of_reference(&model, &reference));
                        if !e.value.is_finite() || (e.low <= share && share <= e.high) {
                            // A reference at 0 leaves no ratio to cover; counted as covered only
                            // because the pages print no share for it.
                            coverage += pr;
                        }
                        let shown =
                            *verdicts
                                .entry((k, (share * 100.0) as u32))
                                .or_insert_with(|| {
                                    stats::share_at_least(&reference, &model, share)
                                        .is_some_and(|s| s.shown())
                                });
                        if shown {
                            size += pr;
                        }
                    }
                    println!("share n={n} ref={r} ψ={psi} share={share}: coverage {coverage:.4}, size of ≥ share {size:.4}");
                    if coverage < COVERAGE_FLOOR || size > SIZE_CEILING {
                        failures.push(format!(
                            "n={n} r={r} ψ={psi} s={share}: coverage {coverage:.4} size {size:.4}"
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
