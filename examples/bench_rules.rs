//! Rule evaluation benchmark: the default rule set through the engine versus the same rules
//! hand-written in Rust, on features precomputed for 100,000 demo enterprises; plus feature
//! computation per enterprise. Run with `cargo run --release --example bench_rules [N]`.

use creditrisk::demo::{demo_as_of, features, generate};
use creditrisk::rules::{classify, classify_tier, RuleSet};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

#[path = "common/hand_rules.rs"]
mod hand_rules;
use hand_rules::hand;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let rules = RuleSet::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules/default"))
        .unwrap_or_else(|e| panic!("{e:?}"));
    let c = rules.compiled();
    let as_of = demo_as_of();

    let t = Instant::now();
    let data = generate(n, 1);
    let gen = t.elapsed();
    let t = Instant::now();
    let fv = features(&data, as_of);
    let feat = t.elapsed();
    println!(
        "{n} enterprises, {} events, {} rules",
        data.events.len(),
        c.len()
    );
    println!(
        "generate: {:.1} ms; features (incl. grouping, relations): {:.0} ns/enterprise",
        gen.as_secs_f64() * 1e3,
        feat.as_nanos() as f64 / n as f64
    );

    // Same results first.
    for v in &fv {
        assert_eq!(classify_tier(c, v, as_of), hand(v));
    }
    let rounds = 10;
    let mut best_engine = f64::MAX;
    let mut best_hand = f64::MAX;
    let mut best_full = f64::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        let mut acc = 0i64;
        for v in &fv {
            let (tier, s) = classify_tier(c, black_box(v), as_of);
            acc += s + tier as i64;
        }
        black_box(acc);
        best_engine = best_engine.min(t.elapsed().as_nanos() as f64 / n as f64);
        let t = Instant::now();
        let mut acc = 0i64;
        for v in &fv {
            let (tier, s) = hand(black_box(v));
            acc += s + tier as i64;
        }
        black_box(acc);
        best_hand = best_hand.min(t.elapsed().as_nanos() as f64 / n as f64);
        let t = Instant::now();
        let mut acc = 0usize;
        for v in &fv {
            acc += classify(c, black_box(v), as_of).fired.len();
        }
        black_box(acc);
        best_full = best_full.min(t.elapsed().as_nanos() as f64 / n as f64);
    }
    println!("engine classify_tier: {best_engine:.1} ns/enterprise");
    println!("hand-written rules:   {best_hand:.1} ns/enterprise");
    println!("ratio engine/hand:    {:.2}x", best_engine / best_hand);
    println!("engine classify (with reasons): {best_full:.1} ns/enterprise");
}
