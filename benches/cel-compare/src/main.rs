//! Side-by-side benchmark for issue 3: creditrisk's rule engine versus the `cel` crate evaluating
//! the same condition and score strings, and versus the same rules hand-written in Rust.
//!
//! Everything runs on precomputed feature vectors of a demo population, on one thread.
//! Every variant's tier and score are checked equal to the engine's for every enterprise
//! before anything is timed.
//!
//! Usage: `cargo run --release -- [--rules DIR] [--n N] [--seed S] [--reps R] [--cel-n K]`

use cel::common::value::CowVal;
use cel::context::VariableResolver;
use cel::{Context, Program, Value};
use creditrisk::demo::{demo_as_of, features, generate};
use creditrisk::domain::Date;
use creditrisk::rules::lang::{Features, Type};
use creditrisk::rules::{
    classify_tier, FeatureValue, FeatureVector, RuleEffect, RuleSet, Scope, Tier, SCHEMA,
    SECTORS,
};
use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

// ---------------------------------------------------------------------------------------------
// (b) The default rules hand-written in Rust: the same file `examples/bench_rules.rs` uses.
// ---------------------------------------------------------------------------------------------

#[path = "../../../examples/common/hand_rules.rs"]
mod hand_rules;
use hand_rules::hand;

/// What a rule does when its condition holds.
enum CelEffect {
    /// The score expression, compiled by `cel` from the rule's own text.
    Score(Program),
    /// Cap or override: both only worsen the tier (see `creditrisk::rules` engine docs: the
    /// worst cap, then the worst override, each a `max`), so they combine into one `max`.
    Worsen(Tier),
}

/// One rule for the `cel` path: everything but the expressions is structural and handled in
/// Rust exactly as `classify_tier` does (effective dates, sector scope).
struct CelRule {
    id: String,
    from: Option<Date>,
    until: Option<Date>,
    /// Slot of the sector flag, or `None` for all enterprises.
    scope: Option<usize>,
    when: Program,
    effect: CelEffect,
}

struct CelRules {
    base: i64,
    bands: creditrisk::rules::Bands,
    rules: Vec<CelRule>,
}

fn compile_for_cel(rs: &RuleSet) -> CelRules {
    let rules = rs
        .rules
        .iter()
        .map(|r| {
            let when = Program::compile(&r.when)
                .unwrap_or_else(|e| panic!("cel cannot compile `{}` ({}): {e:?}", r.when, r.id));
            let effect = match &r.effect {
                RuleEffect::Score(text) => {
                    CelEffect::Score(Program::compile(text).unwrap_or_else(|e| {
                        panic!("cel cannot compile `{text}` ({}): {e:?}", r.id)
                    }))
                }
                RuleEffect::Cap(t) | RuleEffect::Override(t) => CelEffect::Worsen(*t),
            };
            let scope = match &r.scope {
                Scope::All => None,
                Scope::Sector(name) => Some(
                    SECTORS
                        .iter()
                        .find(|d| d.scope == name)
                        .unwrap_or_else(|| panic!("unknown sector {name}"))
                        .feature as usize,
                ),
            };
            CelRule {
                id: r.id.clone(),
                from: r.effective_from,
                until: r.effective_until,
                scope,
                when,
                effect,
            }
        })
        .collect();
    CelRules {
        base: rs.manifest.base_score,
        bands: rs.manifest.bands,
        rules,
    }
}

/// Runs every applicable rule through `cel` in `ctx` and combines as creditrisk does:
/// `base + Σ adjustments` (saturating), band tier, then the worst cap/override.
fn cel_classify(rules: &CelRules, ctx: &Context, fv: &FeatureVector, as_of: Date) -> (Tier, i64) {
    let mut score = rules.base;
    let mut worst = Tier::A;
    for r in &rules.rules {
        let in_force = r.from.is_none_or(|d| as_of >= d) && r.until.is_none_or(|d| as_of <= d);
        let in_scope = r.scope.is_none_or(|s| fv.int(s) != 0);
        if !(in_force && in_scope) {
            continue;
        }
        match r.when.execute(ctx) {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => continue,
            other => panic!("rule {}: condition gave {other:?}", r.id),
        }
        match &r.effect {
            CelEffect::Score(p) => match p.execute(ctx) {
                Ok(Value::Int(k)) => score = score.saturating_add(k),
                other => panic!("rule {}: score gave {other:?}", r.id),
            },
            CelEffect::Worsen(t) => worst = worst.max(*t),
        }
    }
    (rules.bands.tier(score).max(worst), score)
}

/// A feature value as a `cel` value: ints as `i64`, bools, strings, lists of strings.
fn to_cel(v: FeatureValue) -> Value {
    match v {
        FeatureValue::Bool(b) => Value::Bool(b),
        FeatureValue::Int(i) => Value::Int(i),
        FeatureValue::Str(s) => Value::String(Arc::new(s)),
        FeatureValue::List(l) => Value::List(Arc::new(
            l.into_iter().map(|s| Value::String(Arc::new(s))).collect(),
        )),
    }
}

/// (c1) The plain way: a child scope of the shared root context with every feature bound as a
/// variable (`Context::add_variable_from_value`).
fn cel_bound(rules: &CelRules, root: &Context, fv: &FeatureVector, as_of: Date) -> (Tier, i64) {
    let mut ctx = root.new_inner_scope();
    for (slot, def) in SCHEMA.iter().enumerate() {
        if let Some(v) = fv.value(slot) {
            ctx.add_variable_from_value(def.name, to_cel(v));
        }
    }
    cel_classify(rules, &ctx, fv, as_of)
}

/// (c2) The lean way: a child scope whose `VariableResolver` reads the feature vector on
/// demand (no map of variables is built; only the features a rule reads are converted).
struct FvResolver<'a> {
    fv: &'a FeatureVector,
    slots: &'a HashMap<&'static str, (usize, Type)>,
}

impl VariableResolver for FvResolver<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        let &(slot, ty) = self.slots.get(variable)?;
        let v = match ty {
            Type::Int => Value::Int(self.fv.int(slot)),
            Type::Bool => Value::Bool(self.fv.bool(slot)),
            _ => to_cel(self.fv.value(slot)?),
        };
        Some(CowVal::Owned(v.try_into().ok()?))
    }
}

fn cel_resolved(
    rules: &CelRules,
    root: &Context,
    slots: &HashMap<&'static str, (usize, Type)>,
    fv: &FeatureVector,
    as_of: Date,
) -> (Tier, i64) {
    let resolver = FvResolver { fv, slots };
    let mut ctx = root.new_inner_scope();
    ctx.set_variable_resolver(&resolver);
    cel_classify(rules, &ctx, fv, as_of)
}

/// The root context, created once: `cel`'s standard library plus any of the subset's global
/// functions it lacks (`min`, `max`, `abs`, `clamp` on ints), registered as a user would.
/// Returns the names registered.
fn root_context() -> (Context<'static, 'static>, Vec<&'static str>) {
    let mut root = Context::default();
    let mut added = Vec::new();
    let probes: [(&str, &str); 4] = [
        ("min", "min(3, 2) == 2"),
        ("max", "max(3, 2) == 3"),
        ("abs", "abs(-2) == 2"),
        ("clamp", "clamp(5, 0, 3) == 3"),
    ];
    for (name, probe) in probes {
        let works = Program::compile(probe)
            .ok()
            .and_then(|p| p.execute(&root).ok())
            == Some(Value::Bool(true));
        if works {
            continue;
        }
        let r = match name {
            "min" => root.add_function("min", |a: i64, b: i64| a.min(b)),
            "max" => root.add_function("max", |a: i64, b: i64| a.max(b)),
            "abs" => root.add_function("abs", |a: i64| a.saturating_abs()),
            _ => root.add_function("clamp", |x: i64, lo: i64, hi: i64| x.max(lo).min(hi)),
        };
        r.unwrap_or_else(|e| panic!("cannot add `{name}` to cel: {e:?}"));
        added.push(name);
    }
    for (_, probe) in probes {
        let ok = Program::compile(probe).ok().and_then(|p| p.execute(&root).ok());
        assert_eq!(ok, Some(Value::Bool(true)), "cel probe `{probe}`");
    }
    (root, added)
}

// ---------------------------------------------------------------------------------------------

struct Args {
    rules: PathBuf,
    n: usize,
    seed: u64,
    reps: usize,
    cel_n: Option<usize>,
}

fn args() -> Args {
    let mut a = Args {
        rules: PathBuf::from("../../rules/default"),
        n: 100_000,
        seed: 1,
        reps: 5,
        cel_n: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--rules" => a.rules = PathBuf::from(val()),
            "--n" => a.n = val().parse().expect("--n N"),
            "--seed" => a.seed = val().parse().expect("--seed S"),
            "--reps" => a.reps = val().parse().expect("--reps R"),
            "--cel-n" => a.cel_n = Some(val().parse().expect("--cel-n K")),
            "-h" | "--help" => {
                println!(
                    "cel-compare [--rules DIR] [--n N] [--seed S] [--reps R] [--cel-n K]\n\
                     defaults: --rules ../../rules/default --n 100000 --seed 1 --reps 5 --cel-n N"
                );
                std::process::exit(0);
            }
            other => a.rules = PathBuf::from(other), // a bare path is the rule set
        }
    }
    a
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// ns per enterprise of one pass of `f` over `fv`.
fn pass(fv: &[FeatureVector], mut f: impl FnMut(&FeatureVector) -> (Tier, i64)) -> f64 {
    let t = Instant::now();
    let mut acc = 0i64;
    for v in fv {
        let (tier, s) = f(black_box(v));
        acc = acc.wrapping_add(s + tier as i64);
    }
    black_box(acc);
    t.elapsed().as_nanos() as f64 / fv.len() as f64
}

fn main() {
    let a = args();
    let rs = RuleSet::load(&a.rules).unwrap_or_else(|e| panic!("{}: {e:?}", a.rules.display()));
    let c = rs.compiled();
    let as_of = demo_as_of();
    let default_set = a.rules.ends_with("rules/default");

    let t = Instant::now();
    let data = generate(a.n, a.seed);
    let fv = features(&data, as_of);
    println!(
        "rule set {} {} ({} rules, hash {}), {} demo enterprises (seed {}), as of {}; \
         generate + features: {:.1} s",
        rs.manifest.name,
        rs.manifest.version,
        rs.rules.len(),
        &rs.hash()[..12.min(rs.hash().len())],
        fv.len(),
        a.seed,
        as_of,
        t.elapsed().as_secs_f64()
    );
    println!(
        "machine: {} logical cores available, shared with other jobs (load average {}); \
         all timings single-threaded",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );

    let (root, added) = root_context();
    if added.is_empty() {
        println!("cel: every subset function is built in");
    } else {
        println!(
            "cel {}: not in its standard library, registered once on the root context as \
             custom int functions: {}",
            "0.15",
            added.join(", ")
        );
    }
    let cel_rules = compile_for_cel(&rs);
    let slots: HashMap<&'static str, (usize, Type)> = SCHEMA
        .iter()
        .enumerate()
        .map(|(i, d)| (d.name, (i, d.ty)))
        .collect();
    let cel_fv = &fv[..a.cel_n.unwrap_or(fv.len()).min(fv.len())];

    // Same results first (this is also the warm-up of every path).
    let t = Instant::now();
    let mut tiers = [0usize; 4];
    for (i, v) in fv.iter().enumerate() {
        let e = classify_tier(c, v, as_of);
        tiers[e.0 as usize] += 1;
        if default_set {
            assert_eq!(hand(v), e, "hand-written vs engine, enterprise #{i}");
        }
        if i < cel_fv.len() {
            assert_eq!(cel_bound(&cel_rules, &root, v, as_of), e, "cel (bound) vs engine, #{i}");
            assert_eq!(
                cel_resolved(&cel_rules, &root, &slots, v, as_of),
                e,
                "cel (resolver) vs engine, #{i}"
            );
        }
    }
    println!(
        "checked equal tier and score: engine = hand-written on {} enterprises{}, \
         engine = cel (both variants) on {} ({:.1} s); tier mix A {:.1}% B {:.1}% C {:.1}% D {:.1}%",
        fv.len(),
        if default_set { "" } else { " (skipped: not the default rule set)" },
        cel_fv.len(),
        t.elapsed().as_secs_f64(),
        100.0 * tiers[0] as f64 / fv.len() as f64,
        100.0 * tiers[1] as f64 / fv.len() as f64,
        100.0 * tiers[2] as f64 / fv.len() as f64,
        100.0 * tiers[3] as f64 / fv.len() as f64,
    );

    // Warm-up: one untimed pass of each variant (caches, branch predictors, CPU clock).
    pass(&fv, |v| classify_tier(c, v, as_of));
    if default_set {
        pass(&fv, hand);
    }
    pass(cel_fv, |v| cel_bound(&cel_rules, &root, v, as_of));
    pass(cel_fv, |v| cel_resolved(&cel_rules, &root, &slots, v, as_of));

    // Timed: the variants side by side, interleaved in every repetition; median of `reps`.
    let (mut ta, mut tb, mut tc1, mut tc2) = (vec![], vec![], vec![], vec![]);
    for _ in 0..a.reps {
        ta.push(pass(&fv, |v| classify_tier(c, v, as_of)));
        if default_set {
            tb.push(pass(&fv, hand));
        }
        tc1.push(pass(cel_fv, |v| cel_bound(&cel_rules, &root, v, as_of)));
        tc2.push(pass(cel_fv, |v| cel_resolved(&cel_rules, &root, &slots, v, as_of)));
    }
    let (a_ns, c1_ns, c2_ns) = (median(ta.clone()), median(tc1.clone()), median(tc2.clone()));
    let fmt = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(" ");
    println!();
    println!("ns per enterprise, median of {} repetitions (all repetitions in brackets):", a.reps);
    println!("  (a)  creditrisk engine, classify_tier        {a_ns:>10.1}   [{}]", fmt(&ta));
    if default_set {
        println!(
            "  (b)  hand-written Rust                       {:>10.1}   [{}]",
            median(tb.clone()),
            fmt(&tb)
        );
    }
    println!("  (c1) cel, child scope, all features bound    {c1_ns:>10.1}   [{}]", fmt(&tc1));
    println!("  (c2) cel, child scope, variable resolver     {c2_ns:>10.1}   [{}]", fmt(&tc2));
    println!();
    // Ratios of the medians, and (more robust on a shared machine) the median of the ratios
    // taken within each repetition, where the variants ran back to back.
    let per_rep = |x: &[f64], y: &[f64]| median(x.iter().zip(y).map(|(x, y)| x / y).collect());
    println!(
        "  (c1)/(a) = {:.1}x (per-repetition median {:.1}x)   \
         (c2)/(a) = {:.1}x (per-repetition median {:.1}x)   target: at least 10x",
        c1_ns / a_ns,
        per_rep(&tc1, &ta),
        c2_ns / a_ns,
        per_rep(&tc2, &ta)
    );
    if default_set {
        println!(
            "  (a)/(b)  = {:.2}x (per-repetition median {:.2}x)   target: at most 3x",
            a_ns / median(tb.clone()),
            per_rep(&ta, &tb)
        );
    }
    println!("load average at the end: {}", loadavg());
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}
