//! Evaluation of compiled programs, and the integer semantics shared with
//! the interval analysis.
//!
//! Integer semantics (total, deterministic, never panics):
//! * `+ - *`, unary `-` and `abs` saturate at `i64::MIN`/`i64::MAX`;
//! * `/` truncates toward zero; `x / 0 == 0`; `i64::MIN / -1 == i64::MAX`;
//! * `%` has the sign of the dividend; `x % 0 == 0`; `i64::MIN % -1 == 0`.

use crate::rules::lang::compile::{BNode, Cmp, INode, LNode, Program, Root, SNode};
use crate::rules::lang::features::{Features, Value};
use crate::rules::lang::types::Type;

/// `a / b` with the subset's semantics (see module docs).
#[inline(always)]
pub fn int_div(a: i64, b: i64) -> i64 {
    if b == 0 {
        0
    } else {
        a.saturating_div(b)
    }
}

/// `a % b` with the subset's semantics (see module docs).
#[inline(always)]
pub fn int_rem(a: i64, b: i64) -> i64 {
    if b == 0 {
        0
    } else {
        a.wrapping_rem(b)
    }
}

impl BNode {
    #[inline]
    pub(crate) fn eval<F: Features + ?Sized>(&self, f: &F) -> bool {
        match self {
            BNode::Const(v) => *v,
            BNode::Feat(s) => f.bool(*s),
            BNode::Not(a) => !a.eval(f),
            BNode::And(a, b) => a.eval(f) && b.eval(f),
            BNode::Or(a, b) => a.eval(f) || b.eval(f),
            BNode::FeatCmpK(c, s, k) => c.apply(&f.int(*s), k),
            BNode::IntCmp(c, a, b) => c.apply(&a.eval(f), &b.eval(f)),
            BNode::BoolEq(ne, a, b) => (a.eval(f) == b.eval(f)) != *ne,
            BNode::StrCmp(c, a, b) => c.apply(a.eval(f), b.eval(f)),
            BNode::FeatStrEqK(ne, s, k) => (f.str(*s) == &**k) != *ne,
            BNode::ListEq(ne, a, b) => (a.eval(f) == b.eval(f)) != *ne,
            BNode::In(a, b) => {
                let needle = a.eval(f);
                b.eval(f).iter().any(|x| x == needle)
            }
            BNode::InSet(a, set) => {
                let needle = a.eval(f);
                if set.len() <= 8 {
                    set.iter().any(|x| &**x == needle)
                } else {
                    set.binary_search_by(|x| (**x).cmp(needle)).is_ok()
                }
            }
            BNode::StartsWith(a, b) => a.eval(f).starts_with(b.eval(f)),
            BNode::EndsWith(a, b) => a.eval(f).ends_with(b.eval(f)),
            BNode::Contains(a, b) => a.eval(f).contains(b.eval(f)),
            BNode::Cond(c, a, b) => {
                if c.eval(f) {
                    a.eval(f)
                } else {
                    b.eval(f)
                }
            }
        }
    }
}

impl INode {
    #[inline]
    pub(crate) fn eval<F: Features + ?Sized>(&self, f: &F) -> i64 {
        match self {
            INode::Const(v) => *v,
            INode::Feat(s) => f.int(*s),
            INode::Neg(a) => a.eval(f).saturating_neg(),
            INode::Add(a, b) => a.eval(f).saturating_add(b.eval(f)),
            INode::Sub(a, b) => a.eval(f).saturating_sub(b.eval(f)),
            INode::Mul(a, b) => a.eval(f).saturating_mul(b.eval(f)),
            INode::MulK(k, a) => k.saturating_mul(a.eval(f)),
            INode::Div(a, b) => int_div(a.eval(f), b.eval(f)),
            INode::Rem(a, b) => int_rem(a.eval(f), b.eval(f)),
            INode::Min(v) => v.iter().map(|x| x.eval(f)).min().unwrap_or(0),
            INode::Max(v) => v.iter().map(|x| x.eval(f)).max().unwrap_or(0),
            INode::Abs(a) => a.eval(f).saturating_abs(),
            INode::Clamp(v) => {
                let [x, lo, hi] = &**v;
                x.eval(f).max(lo.eval(f)).min(hi.eval(f))
            }
            INode::SizeStr(a) => a.eval(f).chars().count() as i64,
            INode::SizeList(a) => a.eval(f).len() as i64,
            INode::Cond(c, a, b) => {
                if c.eval(f) {
                    a.eval(f)
                } else {
                    b.eval(f)
                }
            }
        }
    }
}

impl SNode {
    #[inline]
    pub(crate) fn eval<'a, F: Features + ?Sized>(&'a self, f: &'a F) -> &'a str {
        match self {
            SNode::Const(v) => v,
            SNode::Feat(s) => f.str(*s),
            SNode::Cond(c, a, b) => {
                if c.eval(f) {
                    a.eval(f)
                } else {
                    b.eval(f)
                }
            }
        }
    }
}

impl LNode {
    #[inline]
    pub(crate) fn eval<'a, F: Features + ?Sized>(&'a self, f: &'a F) -> &'a [String] {
        match self {
            LNode::Const(v) => v,
            LNode::Feat(s) => f.list(*s),
            LNode::Cond(c, a, b) => {
                if c.eval(f) {
                    a.eval(f)
                } else {
                    b.eval(f)
                }
            }
        }
    }
}

impl Program {
    /// Evaluates a `bool` program. Returns `false` if the program is not of
    /// type `bool` (check [`Program::ty`]). Does not allocate.
    #[inline]
    pub fn eval_bool<F: Features + ?Sized>(&self, f: &F) -> bool {
        match &self.root {
            Root::Bool(n) => n.eval(f),
            _ => false,
        }
    }

    /// Evaluates an `int` program. Returns `0` if the program is not of type
    /// `int` (check [`Program::ty`]). Does not allocate.
    #[inline]
    pub fn eval_int<F: Features + ?Sized>(&self, f: &F) -> i64 {
        match &self.root {
            Root::Int(n) => n.eval(f),
            _ => 0,
        }
    }

    /// Evaluates a program of any type. Does not allocate.
    pub fn eval<'a, F: Features + ?Sized>(&'a self, f: &'a F) -> Value<'a> {
        match &self.root {
            Root::Bool(n) => Value::Bool(n.eval(f)),
            Root::Int(n) => Value::Int(n.eval(f)),
            Root::Str(n) => Value::Str(n.eval(f)),
            Root::List(n) => Value::StrList(n.eval(f)),
        }
    }

    /// Result type of the program.
    pub fn ty(&self) -> Type {
        self.ty
    }

    /// Sorted, de-duplicated slots of the features the program may read.
    pub fn features_read(&self) -> &[usize] {
        &self.features
    }

    /// When the program is a single range test on one `int` or `bool` feature
    /// (`x > k`, `x <= k`, `x == k`, or a bare bool feature), the feature's slot and the
    /// inclusive range `(lo, hi)` of values for which it yields `true` (bools read as 0/1).
    /// Lets a caller evaluate the commonest conditions without a tree walk.
    pub fn as_range_test(&self) -> Option<(usize, i64, i64)> {
        match &self.root {
            Root::Bool(BNode::Feat(s)) => Some((*s, 1, 1)),
            Root::Bool(BNode::FeatCmpK(c, s, k)) => {
                let (lo, hi) = match c {
                    Cmp::Eq => (*k, *k),
                    Cmp::Lt => (i64::MIN, k.checked_sub(1)?),
                    Cmp::Le => (i64::MIN, *k),
                    Cmp::Gt => (k.checked_add(1)?, i64::MAX),
                    Cmp::Ge => (*k, i64::MAX),
                    Cmp::Ne => return None,
                };
                Some((*s, lo, hi))
            }
            _ => None,
        }
    }

    /// The constant result if the whole program folded to a constant.
    pub fn constant(&self) -> Option<Value<'_>> {
        match &self.root {
            Root::Bool(BNode::Const(v)) => Some(Value::Bool(*v)),
            Root::Int(INode::Const(v)) => Some(Value::Int(*v)),
            Root::Str(SNode::Const(v)) => Some(Value::Str(v)),
            Root::List(LNode::Const(v)) => Some(Value::StrList(v)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::lang::check::check;
    use crate::rules::lang::compile::compile;
    use crate::rules::lang::features::{OwnedValue, Record};
    use crate::rules::lang::parser::parse;
    use crate::rules::lang::types::Schema;

    /// Slots: x=0 int, y=1 int, b=2 bool, c=3 bool, s=4 str, t=5 str, l=6 list.
    fn setup() -> (Schema, Record) {
        let mut sc = Schema::new();
        sc.add("x", Type::Int, None);
        sc.add("y", Type::Int, None);
        sc.add("b", Type::Bool, None);
        sc.add("c", Type::Bool, None);
        sc.add("s", Type::Str, None);
        sc.add("t", Type::Str, None);
        sc.add("l", Type::StrList, None);
        let rec = Record(vec![
            OwnedValue::Int(7),
            OwnedValue::Int(-2),
            OwnedValue::Bool(true),
            OwnedValue::Bool(false),
            OwnedValue::Str("C1310".into()),
            OwnedValue::Str("héllo".into()),
            OwnedValue::StrList(vec!["food".into(), "drug".into()]),
        ]);
        (sc, rec)
    }

    fn prog(src: &str, ty: Type) -> Program {
        let (sc, _) = setup();
        let ast = match parse(src) {
            Ok(a) => a,
            Err(e) => panic!("{src}: {e}"),
        };
        match check(&ast, &sc, ty) {
            Ok(c) => compile(&c),
            Err(e) => panic!("{src}: {e}"),
        }
    }

    fn int(src: &str) -> i64 {
        let (_, r) = setup();
        prog(src, Type::Int).eval_int(&r)
    }

    fn boolean(src: &str) -> bool {
        let (_, r) = setup();
        prog(src, Type::Bool).eval_bool(&r)
    }

    #[test]
    fn arithmetic() {
        assert_eq!(int("x + y"), 5);
        assert_eq!(int("x - y"), 9);
        assert_eq!(int("x * y"), -14);
        assert_eq!(int("x / y"), -3);
        assert_eq!(int("-x / 2"), -3);
        assert_eq!(int("x % 3"), 1);
        assert_eq!(int("-x % 3"), -1);
        assert_eq!(int("x % y"), 1);
        assert_eq!(int("-x"), -7);
        assert_eq!(int("- -x"), 7);
        assert_eq!(int("1 + 2 * 3 - 4 / 2"), 5);
        assert_eq!(int("(1 + 2) * 3"), 9);
        assert_eq!(int("10 - 4 - 3"), 3);
        assert_eq!(int("100 / 10 / 5"), 2);
    }

    #[test]
    fn division_by_zero_is_zero() {
        assert_eq!(int("x / 0"), 0);
        assert_eq!(int("x % 0"), 0);
        assert_eq!(int("x / (y + 2)"), 0);
        assert_eq!(int("x % (y + 2)"), 0);
    }

    #[test]
    fn overflow_saturates() {
        assert_eq!(int("9223372036854775807 + x"), i64::MAX);
        assert_eq!(int("-9223372036854775808 - x"), i64::MIN);
        assert_eq!(int("9223372036854775807 * x"), i64::MAX);
        assert_eq!(int("9223372036854775807 * y"), i64::MIN);
        assert_eq!(int("-(-9223372036854775808 + x - x)"), i64::MAX);
        // Saturation happens per operation, so it is not associative.
        assert_eq!(int("9223372036854775807 + x - x"), i64::MAX - 7);
        assert_eq!(int("abs(-9223372036854775808)"), i64::MAX);
        assert_eq!(int("-9223372036854775808 / -1"), i64::MAX);
        assert_eq!(int("-9223372036854775808 % -1"), 0);
        assert_eq!(int("-(-9223372036854775808)"), i64::MAX);
        assert_eq!(int("(x - 8) * -9223372036854775808"), i64::MAX);
    }

    #[test]
    fn functions() {
        assert_eq!(int("min(x, y)"), -2);
        assert_eq!(int("max(x, y, 100)"), 100);
        assert_eq!(int("min(x, 3, 5)"), 3);
        assert_eq!(int("-10 * min(x, 3)"), -30);
        assert_eq!(int("abs(y)"), 2);
        assert_eq!(int("abs(x)"), 7);
        assert_eq!(int("clamp(x, 0, 5)"), 5);
        assert_eq!(int("clamp(y, 0, 5)"), 0);
        assert_eq!(int("clamp(x, 0, 10)"), 7);
        assert_eq!(int("size(t)"), 5);
        assert_eq!(int("t.size()"), 5);
        assert_eq!(int("size(l)"), 2);
        assert_eq!(int("l.size()"), 2);
        assert_eq!(int("size([])"), 0);
        assert!(boolean("s.startsWith('C13')"));
        assert!(!boolean("s.startsWith('C14')"));
        assert!(boolean("s.endsWith('10')"));
        assert!(boolean("s.contains('31')"));
        assert!(!boolean("s.contains('x')"));
        assert!(boolean("s.startsWith('')"));
    }

    #[test]
    fn comparisons() {
        assert!(boolean(
            "x > y && x >= 7 && y < 0 && y <= -2 && x == 7 && x != 8"
        ));
        assert!(!boolean("x < y || x <= 6 || x == y || 7 != x"));
        assert!(boolean(
            "1 < x && 7 <= x && 8 > x && 7 >= x && 7 == x && 6 != x"
        ));
        assert!(boolean(
            "s == 'C1310' && 'C1310' == s && s != 'x' && s < 'D' && s > 'C' && s >= s && s <= s"
        ));
        assert!(boolean("'abc' < 'abd' && 'ab' < 'abc' && 'B' < 'a'"));
        assert!(boolean(
            "b == true && c == false && b != c && (b == c) == false"
        ));
        assert!(boolean(
            "l == ['food', 'drug'] && l != ['drug', 'food'] && [] == []"
        ));
        assert!(boolean("x + 1 == 8 && x * 2 > y * 2"));
    }

    #[test]
    fn logic_and_in() {
        assert!(boolean("b || c"));
        assert!(!boolean("b && c"));
        assert!(boolean("!c"));
        assert!(boolean("!!b"));
        assert!(boolean("'food' in l"));
        assert!(!boolean("'toy' in l"));
        assert!(boolean("s in ['A', 'C1310']"));
        assert!(!boolean("s in []"));
        assert!(boolean(
            "t in ['a','b','c','d','e','f','g','h','i','j','héllo']"
        ));
        assert!(!boolean(
            "t in ['a','b','c','d','e','f','g','h','i','j','hello']"
        ));
        assert!(boolean("'drug' in (b ? l : [])"));
        assert!(boolean("(c ? s : t) == 'héllo'"));
    }

    #[test]
    fn short_circuit_semantics() {
        // Evaluation is total, so short-circuit is observable only through
        // which features get read. A counting record checks it.
        use std::cell::Cell;
        struct Counting {
            reads: Cell<u32>,
        }
        impl Features for Counting {
            fn int(&self, _: usize) -> i64 {
                self.reads.set(self.reads.get() + 1);
                1
            }
            fn bool(&self, slot: usize) -> bool {
                self.reads.set(self.reads.get() + 1);
                slot == 2
            }
            fn str(&self, _: usize) -> &str {
                ""
            }
            fn list(&self, _: usize) -> &[String] {
                &[]
            }
        }
        let r = Counting {
            reads: Cell::new(0),
        };
        assert!(prog("b || x > 0", Type::Bool).eval_bool(&r));
        assert_eq!(r.reads.get(), 1);
        r.reads.set(0);
        assert!(!prog("c && x > 0", Type::Bool).eval_bool(&r));
        assert_eq!(r.reads.get(), 1);
        r.reads.set(0);
        assert!(prog("c || x > 0", Type::Bool).eval_bool(&r));
        assert_eq!(r.reads.get(), 2);
        r.reads.set(0);
        assert_eq!(prog("b ? x : y + y", Type::Int).eval_int(&r), 1);
        assert_eq!(r.reads.get(), 2);
    }

    #[test]
    fn conditional_and_generic_eval() {
        assert_eq!(int("b ? 1 : 2"), 1);
        assert_eq!(int("c ? 1 : b ? 2 : 3"), 2);
        let (_, r) = setup();
        let want = ["food".to_string(), "drug".to_string()];
        assert_eq!(prog("l", Type::StrList).eval(&r), Value::StrList(&want));
        assert_eq!(prog("c ? 'a' : s", Type::Str).eval(&r), Value::Str("C1310"));
        let p = prog("x > 1", Type::Bool);
        assert_eq!(p.eval_int(&r), 0);
        assert_eq!(p.features_read(), &[0]);
        assert_eq!(p.ty(), Type::Bool);
        assert_eq!(prog("1 + 1", Type::Int).constant(), Some(Value::Int(2)));
        assert_eq!(p.constant(), None);
    }
}
