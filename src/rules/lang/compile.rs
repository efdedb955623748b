//! Lowers a [`Checked`] tree into per-type evaluation nodes, constant-folding
//! literal sub-expressions and specialising common shapes
//! (`feature <op> constant`, `x in [literal list]`).

use crate::rules::lang::ast::BinOp;
use crate::rules::lang::check::{Checked, Func, TKind, Typed};
use crate::rules::lang::features::NoFeatures;
use crate::rules::lang::types::Type;

/// Comparison operators after lowering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn from_op(op: BinOp) -> Option<Cmp> {
        Some(match op {
            BinOp::Eq => Cmp::Eq,
            BinOp::Ne => Cmp::Ne,
            BinOp::Lt => Cmp::Lt,
            BinOp::Le => Cmp::Le,
            BinOp::Gt => Cmp::Gt,
            BinOp::Ge => Cmp::Ge,
            _ => return None,
        })
    }

    /// The operator with operands swapped: `a < b` == `b > a`.
    fn flip(self) -> Cmp {
        match self {
            Cmp::Lt => Cmp::Gt,
            Cmp::Le => Cmp::Ge,
            Cmp::Gt => Cmp::Lt,
            Cmp::Ge => Cmp::Le,
            other => other,
        }
    }

    #[inline(always)]
    pub(crate) fn apply<T: Ord + ?Sized>(self, a: &T, b: &T) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

/// Boolean-valued node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BNode {
    Const(bool),
    Feat(usize),
    Not(Box<BNode>),
    And(Box<BNode>, Box<BNode>),
    Or(Box<BNode>, Box<BNode>),
    /// `feature <cmp> constant`
    FeatCmpK(Cmp, usize, i64),
    IntCmp(Cmp, Box<INode>, Box<INode>),
    /// `a == b` on bools; the flag is true for `!=`.
    BoolEq(bool, Box<BNode>, Box<BNode>),
    StrCmp(Cmp, Box<SNode>, Box<SNode>),
    /// `string feature == constant`; the flag is true for `!=`.
    FeatStrEqK(bool, usize, Box<str>),
    /// List equality; the flag is true for `!=`.
    ListEq(bool, Box<LNode>, Box<LNode>),
    /// `s in list`
    In(Box<SNode>, Box<LNode>),
    /// `s in [literal, ...]`
    InSet(Box<SNode>, Box<[Box<str>]>),
    StartsWith(Box<SNode>, Box<SNode>),
    EndsWith(Box<SNode>, Box<SNode>),
    Contains(Box<SNode>, Box<SNode>),
    Cond(Box<BNode>, Box<BNode>, Box<BNode>),
}

/// Integer-valued node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum INode {
    Const(i64),
    Feat(usize),
    Neg(Box<INode>),
    Add(Box<INode>, Box<INode>),
    Sub(Box<INode>, Box<INode>),
    Mul(Box<INode>, Box<INode>),
    /// `constant * x`
    MulK(i64, Box<INode>),
    Div(Box<INode>, Box<INode>),
    Rem(Box<INode>, Box<INode>),
    Min(Box<[INode]>),
    Max(Box<[INode]>),
    Abs(Box<INode>),
    Clamp(Box<[INode; 3]>),
    SizeStr(Box<SNode>),
    SizeList(Box<LNode>),
    Cond(Box<BNode>, Box<INode>, Box<INode>),
}

/// String-valued node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SNode {
    Const(Box<str>),
    Feat(usize),
    Cond(Box<BNode>, Box<SNode>, Box<SNode>),
}

/// List-valued node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LNode {
    Const(Vec<String>),
    Feat(usize),
    Cond(Box<BNode>, Box<LNode>, Box<LNode>),
}

/// Root of a compiled program, by result type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Root {
    Bool(BNode),
    Int(INode),
    Str(SNode),
    List(LNode),
}

/// A compiled expression, ready for repeated evaluation (see `eval.rs`).
///
/// Evaluation never allocates, never panics and needs no lookups by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub(crate) root: Root,
    pub(crate) features: Vec<usize>,
    pub(crate) ty: Type,
}

/// Compiles a checked expression. Never fails: all errors are reported by
/// [`crate::rules::lang::check`].
pub fn compile(checked: &Checked) -> Program {
    let t = &checked.root;
    let root = match t.ty {
        Type::Bool => Root::Bool(compile_bool(t)),
        Type::Int => Root::Int(compile_int(t)),
        Type::Str => Root::Str(compile_str(t)),
        Type::StrList => Root::List(compile_list(t)),
    };
    Program {
        root,
        features: checked.features.clone(),
        ty: t.ty,
    }
}

fn b(n: BNode) -> Box<BNode> {
    Box::new(n)
}
fn i(n: INode) -> Box<INode> {
    Box::new(n)
}
fn s(n: SNode) -> Box<SNode> {
    Box::new(n)
}
fn l(n: LNode) -> Box<LNode> {
    Box::new(n)
}

impl BNode {
    fn konst(&self) -> Option<bool> {
        match self {
            BNode::Const(v) => Some(*v),
            _ => None,
        }
    }
}

/// Whether every direct child of a bool node is a constant (children are
/// folded first, so this means the whole subtree is constant).
fn bool_children_const(n: &BNode) -> bool {
    use BNode::*;
    match n {
        Const(_) => false,
        Feat(_) | FeatCmpK(..) | FeatStrEqK(..) => false,
        Not(a) => a.konst().is_some(),
        And(a, c) | Or(a, c) | BoolEq(_, a, c) => a.konst().is_some() && c.konst().is_some(),
        IntCmp(_, a, c) => int_const(a) && int_const(c),
        StrCmp(_, a, c) | StartsWith(a, c) | EndsWith(a, c) | Contains(a, c) => {
            str_const(a) && str_const(c)
        }
        ListEq(_, a, c) => list_const(a) && list_const(c),
        In(a, c) => str_const(a) && list_const(c),
        InSet(a, _) => str_const(a),
        Cond(c, a, d) => c.konst().is_some() && a.konst().is_some() && d.konst().is_some(),
    }
}

fn int_const(n: &INode) -> bool {
    matches!(n, INode::Const(_))
}
fn str_const(n: &SNode) -> bool {
    matches!(n, SNode::Const(_))
}
fn list_const(n: &LNode) -> bool {
    matches!(n, LNode::Const(_))
}

fn fold_bool(n: BNode) -> BNode {
    // Evaluation is pure and total, so dropping an operand never hides an
    // effect or an error.
    let n = match n {
        BNode::And(a, c) => match (a.konst(), c.konst()) {
            (Some(false), _) | (_, Some(false)) => BNode::Const(false),
            (Some(true), _) => *c,
            (_, Some(true)) => *a,
            _ => BNode::And(a, c),
        },
        BNode::Or(a, c) => match (a.konst(), c.konst()) {
            (Some(true), _) | (_, Some(true)) => BNode::Const(true),
            (Some(false), _) => *c,
            (_, Some(false)) => *a,
            _ => BNode::Or(a, c),
        },
        BNode::Cond(c, a, d) => match c.konst() {
            Some(true) => *a,
            Some(false) => *d,
            None => BNode::Cond(c, a, d),
        },
        BNode::Not(a) => match *a {
            BNode::Not(inner) => *inner,
            other => BNode::Not(b(other)),
        },
        other => other,
    };
    if bool_children_const(&n) {
        BNode::Const(n.eval(&NoFeatures))
    } else {
        n
    }
}

fn fold_int(n: INode) -> INode {
    use INode::*;
    let n = match n {
        Cond(c, a, d) => match c.konst() {
            Some(true) => *a,
            Some(false) => *d,
            None => Cond(c, a, d),
        },
        Mul(a, c) => match (*a, *c) {
            (Const(k), x) | (x, Const(k)) if !int_const(&x) => MulK(k, i(x)),
            (a, c) => Mul(i(a), i(c)),
        },
        other => other,
    };
    let all = match &n {
        Const(_) | Feat(_) => false,
        Neg(a) | Abs(a) | MulK(_, a) => int_const(a),
        Add(a, c) | Sub(a, c) | Mul(a, c) | Div(a, c) | Rem(a, c) => int_const(a) && int_const(c),
        Min(v) | Max(v) => v.iter().all(int_const),
        Clamp(v) => v.iter().all(int_const),
        SizeStr(a) => str_const(a),
        SizeList(a) => list_const(a),
        Cond(..) => false,
    };
    if all {
        Const(n.eval(&NoFeatures))
    } else {
        n
    }
}

/// Compiles a `bool`-typed node.
pub(crate) fn compile_bool(t: &Typed) -> BNode {
    let n = match &t.kind {
        TKind::Bool(v) => BNode::Const(*v),
        TKind::Feature(slot) => BNode::Feat(*slot),
        TKind::Not(a) => BNode::Not(b(compile_bool(a))),
        TKind::Cond(c, a, d) => {
            BNode::Cond(b(compile_bool(c)), b(compile_bool(a)), b(compile_bool(d)))
        }
        TKind::Binary(op, x, y) => compile_bool_binary(*op, x, y),
        TKind::Call(f, args) => match (f, args.as_slice()) {
            (Func::StartsWith, [x, y]) => BNode::StartsWith(s(compile_str(x)), s(compile_str(y))),
            (Func::EndsWith, [x, y]) => BNode::EndsWith(s(compile_str(x)), s(compile_str(y))),
            (Func::Contains, [x, y]) => BNode::Contains(s(compile_str(x)), s(compile_str(y))),
            // The checker only gives `bool` type to the three calls above.
            _ => BNode::Const(false),
        },
        // Other kinds are never `bool`-typed after checking.
        TKind::Int(_) | TKind::Str(_) | TKind::List(_) | TKind::Neg(_) => BNode::Const(false),
    };
    fold_bool(n)
}

fn compile_bool_binary(op: BinOp, x: &Typed, y: &Typed) -> BNode {
    match op {
        BinOp::And => return BNode::And(b(compile_bool(x)), b(compile_bool(y))),
        BinOp::Or => return BNode::Or(b(compile_bool(x)), b(compile_bool(y))),
        BinOp::In => {
            let needle = compile_str(x);
            return match compile_list(y) {
                LNode::Const(items) => {
                    let mut set: Vec<Box<str>> =
                        items.into_iter().map(String::into_boxed_str).collect();
                    set.sort_unstable();
                    set.dedup();
                    BNode::InSet(s(needle), set.into_boxed_slice())
                }
                other => BNode::In(s(needle), l(other)),
            };
        }
        _ => {}
    }
    let Some(cmp) = Cmp::from_op(op) else {
        // Arithmetic operators are never `bool`-typed after checking.
        return BNode::Const(false);
    };
    let ne = cmp == Cmp::Ne;
    match x.ty {
        Type::Int => match (compile_int(x), compile_int(y)) {
            (INode::Feat(f), INode::Const(k)) => BNode::FeatCmpK(cmp, f, k),
            (INode::Const(k), INode::Feat(f)) => BNode::FeatCmpK(cmp.flip(), f, k),
            (a, c) => BNode::IntCmp(cmp, i(a), i(c)),
        },
        Type::Str => match (compile_str(x), compile_str(y)) {
            (SNode::Feat(f), SNode::Const(k)) | (SNode::Const(k), SNode::Feat(f))
                if matches!(cmp, Cmp::Eq | Cmp::Ne) =>
            {
                BNode::FeatStrEqK(ne, f, k)
            }
            (a, c) => BNode::StrCmp(cmp, s(a), s(c)),
        },
        // Only `==`/`!=` are allowed on bools and lists by the checker.
        Type::Bool => BNode::BoolEq(ne, b(compile_bool(x)), b(compile_bool(y))),
        Type::StrList => BNode::ListEq(ne, l(compile_list(x)), l(compile_list(y))),
    }
}

/// Compiles an `int`-typed node.
pub(crate) fn compile_int(t: &Typed) -> INode {
    let n = match &t.kind {
        TKind::Int(v) => INode::Const(*v),
        TKind::Feature(slot) => INode::Feat(*slot),
        TKind::Neg(a) => INode::Neg(i(compile_int(a))),
        TKind::Cond(c, a, d) => {
            INode::Cond(b(compile_bool(c)), i(compile_int(a)), i(compile_int(d)))
        }
        TKind::Binary(op, x, y) => {
            let (a, c) = (i(compile_int(x)), i(compile_int(y)));
            match op {
                BinOp::Add => INode::Add(a, c),
                BinOp::Sub => INode::Sub(a, c),
                BinOp::Mul => INode::Mul(a, c),
                BinOp::Div => INode::Div(a, c),
                BinOp::Rem => INode::Rem(a, c),
                // Other operators are never `int`-typed after checking.
                _ => INode::Const(0),
            }
        }
        TKind::Call(f, args) => match (f, args.as_slice()) {
            (Func::Min, _) => INode::Min(args.iter().map(compile_int).collect()),
            (Func::Max, _) => INode::Max(args.iter().map(compile_int).collect()),
            (Func::Abs, [x]) => INode::Abs(i(compile_int(x))),
            (Func::Clamp, [x, lo, hi]) => {
                INode::Clamp(Box::new([compile_int(x), compile_int(lo), compile_int(hi)]))
            }
            (Func::SizeStr, [x]) => INode::SizeStr(s(compile_str(x))),
            (Func::SizeList, [x]) => INode::SizeList(l(compile_list(x))),
            // Arity is enforced by the checker.
            _ => INode::Const(0),
        },
        TKind::Bool(_) | TKind::Str(_) | TKind::List(_) | TKind::Not(_) => INode::Const(0),
    };
    fold_int(n)
}

/// Compiles a `string`-typed node.
pub(crate) fn compile_str(t: &Typed) -> SNode {
    match &t.kind {
        TKind::Str(v) => SNode::Const(v.clone().into_boxed_str()),
        TKind::Feature(slot) => SNode::Feat(*slot),
        TKind::Cond(c, a, d) => {
            let c = compile_bool(c);
            match c.konst() {
                Some(true) => compile_str(a),
                Some(false) => compile_str(d),
                None => SNode::Cond(b(c), s(compile_str(a)), s(compile_str(d))),
            }
        }
        // Nothing else is `string`-typed after checking.
        _ => SNode::Const("".into()),
    }
}

/// Compiles a `list(string)`-typed node.
pub(crate) fn compile_list(t: &Typed) -> LNode {
    match &t.kind {
        TKind::List(v) => LNode::Const(v.clone()),
        TKind::Feature(slot) => LNode::Feat(*slot),
        TKind::Cond(c, a, d) => {
            let c = compile_bool(c);
            match c.konst() {
                Some(true) => compile_list(a),
                Some(false) => compile_list(d),
                None => LNode::Cond(b(c), l(compile_list(a)), l(compile_list(d))),
            }
        }
        // Nothing else is `list(string)`-typed after checking.
        _ => LNode::Const(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::lang::check::check;
    use crate::rules::lang::parser::parse;
    use crate::rules::lang::types::Schema;

    fn prog(src: &str, ty: Type) -> Program {
        let mut sc = Schema::new();
        sc.add("x", Type::Int, None);
        sc.add("b", Type::Bool, None);
        sc.add("s", Type::Str, None);
        let ast = match parse(src) {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        };
        match check(&ast, &sc, ty) {
            Ok(c) => compile(&c),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn folds_constants() {
        assert_eq!(
            prog("1 + 2 * 3 > 6", Type::Bool).root,
            Root::Bool(BNode::Const(true))
        );
        assert_eq!(
            prog("min(4, 2) - abs(-3)", Type::Int).root,
            Root::Int(INode::Const(-1))
        );
        assert_eq!(
            prog("size('héllo')", Type::Int).root,
            Root::Int(INode::Const(5))
        );
        assert_eq!(
            prog("'ab'.startsWith('a')", Type::Bool).root,
            Root::Bool(BNode::Const(true))
        );
        assert_eq!(
            prog("true ? 1 : x", Type::Int).root,
            Root::Int(INode::Const(1))
        );
        assert_eq!(
            prog("b && false", Type::Bool).root,
            Root::Bool(BNode::Const(false))
        );
        assert_eq!(
            prog("b || (1 < 2)", Type::Bool).root,
            Root::Bool(BNode::Const(true))
        );
        assert_eq!(
            prog("b && (1 < 2)", Type::Bool).root,
            Root::Bool(BNode::Feat(1))
        );
    }

    #[test]
    fn specialises() {
        assert_eq!(
            prog("3 < x", Type::Bool).root,
            Root::Bool(BNode::FeatCmpK(Cmp::Gt, 0, 3))
        );
        assert_eq!(
            prog("x >= 1 + 1", Type::Bool).root,
            Root::Bool(BNode::FeatCmpK(Cmp::Ge, 0, 2))
        );
        assert_eq!(
            prog("-10 * x", Type::Int).root,
            Root::Int(INode::MulK(-10, Box::new(INode::Feat(0))))
        );
        assert_eq!(
            prog("'a' != s", Type::Bool).root,
            Root::Bool(BNode::FeatStrEqK(true, 2, "a".into()))
        );
        assert!(matches!(
            prog("s in ['b', 'a', 'b']", Type::Bool).root,
            Root::Bool(BNode::InSet(_, ref set)) if set.len() == 2
        ));
    }
}
