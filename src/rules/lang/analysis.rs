//! Static interval analysis: sound over-approximations of the values an
//! expression can take, given each `int` feature's declared range.
//!
//! Every feature is treated as independent (so `x > 5 && x < 3` is `Maybe`,
//! not `AlwaysFalse`); `bool` features may be either value; `string` and
//! `list(string)` features are unknown, and sizes are in `0..=i64::MAX`.
//! Sub-expressions that read no feature are evaluated exactly.

use crate::rules::lang::ast::BinOp;
use crate::rules::lang::check::{Checked, Func, TKind, Typed};
use crate::rules::lang::compile::{compile_bool, compile_int};
use crate::rules::lang::eval::int_div;
use crate::rules::lang::features::NoFeatures;
use crate::rules::lang::types::{Schema, Type};

/// What the analysis knows about a boolean expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Truth {
    /// True for every feature values within the declared ranges.
    AlwaysTrue,
    /// False for every feature values within the declared ranges.
    AlwaysFalse,
    /// Not decided by the analysis (it may still be constant in fact).
    Maybe,
}

impl Truth {
    fn of(v: bool) -> Truth {
        if v {
            Truth::AlwaysTrue
        } else {
            Truth::AlwaysFalse
        }
    }

    fn not(self) -> Truth {
        match self {
            Truth::AlwaysTrue => Truth::AlwaysFalse,
            Truth::AlwaysFalse => Truth::AlwaysTrue,
            Truth::Maybe => Truth::Maybe,
        }
    }
}

/// Decides whether a `bool` expression is constant over all feature values
/// within their declared ranges. A non-`bool` expression gives `Maybe`.
///
/// Sound: `AlwaysTrue`/`AlwaysFalse` are only returned when the compiled
/// program really yields that value for every such input.
pub fn bool_range(checked: &Checked, schema: &Schema) -> Truth {
    if checked.root.ty != Type::Bool {
        return Truth::Maybe;
    }
    truth(&checked.root, schema)
}

/// An inclusive range `(lo, hi)` containing every value an `int` expression
/// can take for feature values within their declared ranges. A non-`int`
/// expression gives the full `i64` range.
pub fn int_range(checked: &Checked, schema: &Schema) -> (i64, i64) {
    if checked.root.ty != Type::Int {
        return (i64::MIN, i64::MAX);
    }
    let (lo, hi) = ival(&checked.root, schema);
    (lo as i64, hi as i64)
}

type Iv = (i128, i128);

const FULL: Iv = (i64::MIN as i128, i64::MAX as i128);

fn clamp(v: i128) -> i128 {
    v.clamp(i64::MIN as i128, i64::MAX as i128)
}

fn hull(a: Iv, b: Iv) -> Iv {
    (a.0.min(b.0), a.1.max(b.1))
}

fn reads_feature(t: &Typed) -> bool {
    match &t.kind {
        TKind::Feature(_) => true,
        TKind::Int(_) | TKind::Bool(_) | TKind::Str(_) | TKind::List(_) => false,
        TKind::Not(a) | TKind::Neg(a) => reads_feature(a),
        TKind::Binary(_, a, b) => reads_feature(a) || reads_feature(b),
        TKind::Cond(c, a, b) => reads_feature(c) || reads_feature(a) || reads_feature(b),
        TKind::Call(_, args) => args.iter().any(reads_feature),
    }
}

fn ival(t: &Typed, sc: &Schema) -> Iv {
    if !reads_feature(t) {
        let v = compile_int(t).eval(&NoFeatures) as i128;
        return (v, v);
    }
    match &t.kind {
        TKind::Int(v) => (*v as i128, *v as i128),
        TKind::Feature(s) => match sc.feature(*s) {
            Some(f) if f.ty == Type::Int => (f.range.0 as i128, f.range.1 as i128),
            _ => FULL,
        },
        TKind::Neg(a) => {
            let a = ival(a, sc);
            (clamp(-a.1), clamp(-a.0))
        }
        TKind::Binary(op, a, b) => {
            let (a, b) = (ival(a, sc), ival(b, sc));
            match op {
                BinOp::Add => (clamp(a.0 + b.0), clamp(a.1 + b.1)),
                BinOp::Sub => (clamp(a.0 - b.1), clamp(a.1 - b.0)),
                BinOp::Mul => {
                    let c = [a.0 * b.0, a.0 * b.1, a.1 * b.0, a.1 * b.1];
                    let lo = c.iter().copied().min().unwrap_or(FULL.0);
                    let hi = c.iter().copied().max().unwrap_or(FULL.1);
                    (clamp(lo), clamp(hi))
                }
                BinOp::Div => div_range(a, b),
                BinOp::Rem => rem_range(a, b),
                _ => FULL,
            }
        }
        TKind::Cond(c, a, b) => match truth(c, sc) {
            Truth::AlwaysTrue => ival(a, sc),
            Truth::AlwaysFalse => ival(b, sc),
            Truth::Maybe => hull(ival(a, sc), ival(b, sc)),
        },
        TKind::Call(f, args) => {
            let ivs: Vec<Iv> = args.iter().map(|a| ival(a, sc)).collect();
            match (f, ivs.as_slice()) {
                (Func::Min, _) => ivs
                    .iter()
                    .copied()
                    .reduce(|x, y| (x.0.min(y.0), x.1.min(y.1)))
                    .unwrap_or(FULL),
                (Func::Max, _) => ivs
                    .iter()
                    .copied()
                    .reduce(|x, y| (x.0.max(y.0), x.1.max(y.1)))
                    .unwrap_or(FULL),
                (Func::Abs, [a]) => {
                    if a.0 >= 0 {
                        *a
                    } else if a.1 <= 0 {
                        (clamp(-a.1), clamp(-a.0))
                    } else {
                        (0, clamp((-a.0).max(a.1)))
                    }
                }
                (Func::Clamp, [x, lo, hi]) => {
                    let m = (x.0.max(lo.0), x.1.max(lo.1));
                    (m.0.min(hi.0), m.1.min(hi.1))
                }
                (Func::SizeStr | Func::SizeList, _) => (0, FULL.1),
                _ => FULL,
            }
        }
        TKind::Bool(_) | TKind::Str(_) | TKind::List(_) | TKind::Not(_) => FULL,
    }
}

fn div_range(a: Iv, b: Iv) -> Iv {
    let mut out: Option<Iv> = None;
    let mut add = |v: Iv| out = Some(out.map_or(v, |o| hull(o, v)));
    if b.0 <= 0 && b.1 >= 0 {
        add((0, 0));
    }
    let segments = [
        (b.0 <= -1).then(|| (b.0, b.1.min(-1))),
        (b.1 >= 1).then(|| (b.0.max(1), b.1)),
    ];
    for (lo, hi) in segments.into_iter().flatten() {
        let mut qs = [0i128; 4];
        let mut k = 0;
        for x in [a.0, a.1] {
            for y in [lo, hi] {
                qs[k] = int_div(x as i64, y as i64) as i128;
                k += 1;
            }
        }
        let lo = qs.iter().copied().min().unwrap_or(FULL.0);
        let hi = qs.iter().copied().max().unwrap_or(FULL.1);
        add((lo, hi));
    }
    out.unwrap_or(FULL)
}

fn rem_range(a: Iv, b: Iv) -> Iv {
    // |a % b| < |b| and the result has the sign of `a` (or is 0).
    let m = b.0.abs().max(b.1.abs()) - 1;
    let m = m.max(0);
    let lo = if a.0 >= 0 { 0 } else { a.0.max(-m) };
    let hi = if a.1 <= 0 { 0 } else { a.1.min(m) };
    (lo, hi)
}

fn truth(t: &Typed, sc: &Schema) -> Truth {
    if !reads_feature(t) {
        return Truth::of(compile_bool(t).eval(&NoFeatures));
    }
    match &t.kind {
        TKind::Not(a) => truth(a, sc).not(),
        TKind::Cond(c, a, b) => match truth(c, sc) {
            Truth::AlwaysTrue => truth(a, sc),
            Truth::AlwaysFalse => truth(b, sc),
            Truth::Maybe => {
                let (x, y) = (truth(a, sc), truth(b, sc));
                if x == y {
                    x
                } else {
                    Truth::Maybe
                }
            }
        },
        TKind::Binary(op, a, b) => match op {
            BinOp::And => match (truth(a, sc), truth(b, sc)) {
                (Truth::AlwaysFalse, _) | (_, Truth::AlwaysFalse) => Truth::AlwaysFalse,
                (Truth::AlwaysTrue, Truth::AlwaysTrue) => Truth::AlwaysTrue,
                _ => Truth::Maybe,
            },
            BinOp::Or => match (truth(a, sc), truth(b, sc)) {
                (Truth::AlwaysTrue, _) | (_, Truth::AlwaysTrue) => Truth::AlwaysTrue,
                (Truth::AlwaysFalse, Truth::AlwaysFalse) => Truth::AlwaysFalse,
                _ => Truth::Maybe,
            },
            BinOp::Eq | BinOp::Ne if a.ty == Type::Bool => {
                let eq = match (truth(a, sc), truth(b, sc)) {
                    (Truth::Maybe, _) | (_, Truth::Maybe) => Truth::Maybe,
                    (x, y) => Truth::of(x == y),
                };
                if *op == BinOp::Ne {
                    eq.not()
                } else {
                    eq
                }
            }
            BinOp::In => match &b.kind {
                TKind::List(items) if items.is_empty() => Truth::AlwaysFalse,
                _ => Truth::Maybe,
            },
            _ if a.ty == Type::Int => int_cmp(*op, ival(a, sc), ival(b, sc)),
            _ => Truth::Maybe,
        },
        _ => Truth::Maybe,
    }
}

fn int_cmp(op: BinOp, a: Iv, b: Iv) -> Truth {
    let lt = |a: Iv, b: Iv| {
        if a.1 < b.0 {
            Truth::AlwaysTrue
        } else if a.0 >= b.1 {
            Truth::AlwaysFalse
        } else {
            Truth::Maybe
        }
    };
    let eq = if a.0 == a.1 && b.0 == b.1 && a.0 == b.0 {
        Truth::AlwaysTrue
    } else if a.1 < b.0 || b.1 < a.0 {
        Truth::AlwaysFalse
    } else {
        Truth::Maybe
    };
    match op {
        BinOp::Lt => lt(a, b),
        BinOp::Gt => lt(b, a),
        BinOp::Ge => lt(a, b).not(),
        BinOp::Le => lt(b, a).not(),
        BinOp::Eq => eq,
        BinOp::Ne => eq.not(),
        _ => Truth::Maybe,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::lang::check::check;
    use crate::rules::lang::parser::parse;

    fn schema() -> Schema {
        let mut s = Schema::new();
        s.add("x", Type::Int, Some((0, 100)));
        s.add("amount", Type::Int, Some((0, 1000)));
        s.add("n", Type::Int, Some((-5, 5)));
        s.add("b", Type::Bool, None);
        s.add("s", Type::Str, None);
        s.add("any", Type::Int, None);
        s
    }

    fn checked(src: &str, ty: Type) -> Checked {
        let ast = match parse(src) {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        };
        match check(&ast, &schema(), ty) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    fn t(src: &str) -> Truth {
        bool_range(&checked(src, Type::Bool), &schema())
    }

    fn r(src: &str) -> (i64, i64) {
        int_range(&checked(src, Type::Int), &schema())
    }

    #[test]
    fn truths() {
        assert_eq!(t("amount >= 0"), Truth::AlwaysTrue);
        assert_eq!(t("amount > 5000"), Truth::AlwaysFalse);
        assert_eq!(t("amount > 500"), Truth::Maybe);
        assert_eq!(t("amount <= 1000 && x < 101"), Truth::AlwaysTrue);
        assert_eq!(t("amount < 0 || x > 100"), Truth::AlwaysFalse);
        assert_eq!(t("b || amount >= 0"), Truth::AlwaysTrue);
        assert_eq!(t("b && amount > 1000"), Truth::AlwaysFalse);
        assert_eq!(t("b"), Truth::Maybe);
        assert_eq!(t("!(x == 200)"), Truth::AlwaysTrue);
        assert_eq!(t("x != -1"), Truth::AlwaysTrue);
        assert_eq!(t("x * 0 == 0"), Truth::AlwaysTrue);
        assert_eq!(t("s in []"), Truth::AlwaysFalse);
        assert_eq!(t("s == 'a'"), Truth::Maybe);
        assert_eq!(t("'ab'.startsWith('a') && x >= 0"), Truth::AlwaysTrue);
        assert_eq!(t("b ? x >= 0 : amount >= 0"), Truth::AlwaysTrue);
        assert_eq!(t("(b == true) == b"), Truth::Maybe);
        assert_eq!(t("size(s) >= 0"), Truth::AlwaysTrue);
        assert_eq!(t("any > 0"), Truth::Maybe);
        // Independence over-approximation: documented as Maybe.
        assert_eq!(t("x > 50 && x < 10"), Truth::Maybe);
    }

    #[test]
    fn ranges() {
        assert_eq!(r("-10 * min(x, 3)"), (-30, 0));
        assert_eq!(r("x + amount"), (0, 1100));
        assert_eq!(r("x - amount"), (-1000, 100));
        assert_eq!(r("n * n"), (-25, 25));
        assert_eq!(r("-n"), (-5, 5));
        assert_eq!(r("abs(n)"), (0, 5));
        assert_eq!(r("abs(x - 200)"), (100, 200));
        assert_eq!(r("max(x, 50)"), (50, 100));
        assert_eq!(r("clamp(amount, 10, 20)"), (10, 20));
        assert_eq!(r("amount / 10"), (0, 100));
        assert_eq!(r("amount / n"), (-1000, 1000));
        assert_eq!(r("amount / (n + 6)"), (0, 1000));
        assert_eq!(r("amount % 7"), (0, 6));
        assert_eq!(r("n % 3"), (-2, 2));
        assert_eq!(r("x % n"), (0, 4));
        assert_eq!(r("b ? 1 : 5"), (1, 5));
        assert_eq!(r("x >= 0 ? 1 : 5"), (1, 1));
        assert_eq!(r("size(s)"), (0, i64::MAX));
        assert_eq!(r("any * 2"), (i64::MIN, i64::MAX));
        assert_eq!(r("any + 1"), (i64::MIN + 1, i64::MAX));
        assert_eq!(r("7 * 6"), (42, 42));
        assert_eq!(
            int_range(&checked("x > 1", Type::Bool), &schema()),
            (i64::MIN, i64::MAX)
        );
        assert_eq!(
            bool_range(&checked("x", Type::Int), &schema()),
            Truth::Maybe
        );
    }
}
