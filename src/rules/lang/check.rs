//! Type checker: resolves features to slots and functions to [`Func`], and
//! produces a typed tree ([`Checked`]).

use crate::rules::lang::ast::{Ast, BinOp, Expr, ExprKind, UnOp};
use crate::rules::lang::error::{Error, ErrorKind, Span};
use crate::rules::lang::types::{Schema, Type};

/// A supported built-in function, resolved by name and argument types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    /// `min(int, int, ...)`, 2 or more arguments.
    Min,
    /// `max(int, int, ...)`, 2 or more arguments.
    Max,
    /// `abs(int)`, saturating (`abs(i64::MIN) == i64::MAX`).
    Abs,
    /// `clamp(x, lo, hi)` = `min(max(x, lo), hi)`.
    Clamp,
    /// `size(string)` / `s.size()`: number of Unicode scalar values.
    SizeStr,
    /// `size(list)` / `l.size()`: number of elements.
    SizeList,
    /// `s.startsWith(prefix)`.
    StartsWith,
    /// `s.endsWith(suffix)`.
    EndsWith,
    /// `s.contains(sub)`.
    Contains,
}

/// The shape of a typed node. Method receivers become the first argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TKind {
    /// Integer constant.
    Int(i64),
    /// Boolean constant.
    Bool(bool),
    /// String constant.
    Str(String),
    /// List-of-string constant.
    List(Vec<String>),
    /// Feature read from a slot (its type is the node type).
    Feature(usize),
    /// Logical not.
    Not(Box<Typed>),
    /// Integer negation (saturating).
    Neg(Box<Typed>),
    /// Binary operator; operand types are as the checker verified.
    Binary(BinOp, Box<Typed>, Box<Typed>),
    /// Conditional.
    Cond(Box<Typed>, Box<Typed>, Box<Typed>),
    /// Built-in call.
    Call(Func, Vec<Typed>),
}

/// A node of the typed tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typed {
    /// What it is.
    pub kind: TKind,
    /// Its static type.
    pub ty: Type,
    /// Source region.
    pub span: Span,
}

/// A type-checked expression: the typed tree, its type and the feature
/// slots it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Root of the typed tree.
    pub root: Typed,
    /// Sorted, de-duplicated slots of the features read.
    pub features: Vec<usize>,
}

impl Checked {
    /// Type of the whole expression.
    pub fn ty(&self) -> Type {
        self.root.ty
    }
}

/// Type-checks `ast` against `schema`, requiring the result type `want`.
///
/// Errors (kinds `UnknownFeature`, `UnknownFunction`, `Arity`, `Type`) point
/// at the offending sub-expression and quote its source text.
pub fn check(ast: &Ast, schema: &Schema, want: Type) -> Result<Checked, Error> {
    let cx = Cx {
        src: &ast.source,
        schema,
    };
    let root = cx.expr(&ast.root)?;
    if root.ty != want {
        let msg = format!(
            "expected `{want}` expression, found `{}` in `{}`",
            root.ty,
            root.span.text(cx.src)
        );
        return Err(cx.err(ErrorKind::Type, msg, root.span));
    }
    let mut features = Vec::new();
    collect(&root, &mut features);
    features.sort_unstable();
    features.dedup();
    Ok(Checked { root, features })
}

fn collect(t: &Typed, out: &mut Vec<usize>) {
    match &t.kind {
        TKind::Feature(s) => out.push(*s),
        TKind::Int(_) | TKind::Bool(_) | TKind::Str(_) | TKind::List(_) => {}
        TKind::Not(a) | TKind::Neg(a) => collect(a, out),
        TKind::Binary(_, a, b) => {
            collect(a, out);
            collect(b, out);
        }
        TKind::Cond(c, a, b) => {
            collect(c, out);
            collect(a, out);
            collect(b, out);
        }
        TKind::Call(_, args) => args.iter().for_each(|a| collect(a, out)),
    }
}

const GLOBAL_FUNCS: &[&str] = &["min", "max", "abs", "clamp", "size"];
const METHODS: &[&str] = &["startsWith", "endsWith", "contains", "size"];
const MACROS: &[&str] = &["has", "all", "exists", "exists_one", "map", "filter"];

struct Cx<'a> {
    src: &'a str,
    schema: &'a Schema,
}

/// Levenshtein distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// ` (did you mean `c`?)` for the closest candidate within edit distance 2, else empty; also
/// used for the warning rules' keys and values.
pub(crate) fn suggest<'n>(name: &str, candidates: impl Iterator<Item = &'n str>) -> String {
    let best = candidates
        .map(|c| (distance(name, c), c))
        .filter(|(d, c)| *d <= 2 && *d < c.len())
        .min();
    match best {
        Some((_, c)) => format!(" (did you mean `{c}`?)"),
        None => String::new(),
    }
}

impl<'a> Cx<'a> {
    fn err(&self, kind: ErrorKind, msg: String, span: Span) -> Error {
        Error::new(kind, msg, span, self.src)
    }

    fn text(&self, span: Span) -> &'a str {
        span.text(self.src)
    }

    /// Checks `e` and requires type `want`; `ctx` is the enclosing expression
    /// quoted in the message.
    fn expect(&self, e: &Expr, want: Type, ctx: Span) -> Result<Typed, Error> {
        let t = self.expr(e)?;
        if t.ty != want {
            let msg = format!(
                "expected `{want}`, found `{}` in `{}`",
                t.ty,
                self.text(ctx)
            );
            return Err(self.err(ErrorKind::Type, msg, t.span));
        }
        Ok(t)
    }

    fn expr(&self, e: &Expr) -> Result<Typed, Error> {
        let span = e.span;
        let (kind, ty) = match &e.kind {
            ExprKind::Int(v) => (TKind::Int(*v), Type::Int),
            ExprKind::Bool(b) => (TKind::Bool(*b), Type::Bool),
            ExprKind::Str(s) => (TKind::Str(s.clone()), Type::Str),
            ExprKind::List(l) => (TKind::List(l.clone()), Type::StrList),
            ExprKind::Ident(name) => match self.schema.slot(name) {
                Some((slot, ty)) => (TKind::Feature(slot), ty),
                None => {
                    let hint =
                        suggest(name, self.schema.features().iter().map(|f| f.name.as_str()));
                    let msg = format!("unknown feature `{name}`{hint}");
                    return Err(self.err(ErrorKind::UnknownFeature, msg, span));
                }
            },
            ExprKind::Unary(UnOp::Not, a) => (
                TKind::Not(Box::new(self.expect(a, Type::Bool, span)?)),
                Type::Bool,
            ),
            ExprKind::Unary(UnOp::Neg, a) => (
                TKind::Neg(Box::new(self.expect(a, Type::Int, span)?)),
                Type::Int,
            ),
            ExprKind::Binary(op, a, b) => return self.binary(*op, a, b, span),
            ExprKind::Cond(c, a, b) => {
                let c = self.expect(c, Type::Bool, span)?;
                let a = self.expr(a)?;
                let b = self.expr(b)?;
                if a.ty != b.ty {
                    let msg = format!(
                        "branches of `?:` have different types `{}` and `{}` in `{}`",
                        a.ty,
                        b.ty,
                        self.text(span)
                    );
                    return Err(self.err(ErrorKind::Type, msg, span));
                }
                let ty = a.ty;
                (TKind::Cond(Box::new(c), Box::new(a), Box::new(b)), ty)
            }
            ExprKind::Call {
                name,
                name_span,
                receiver,
                args,
            } => return self.call(name, *name_span, receiver.as_deref(), args, span),
        };
        Ok(Typed { kind, ty, span })
    }

    fn binary(&self, op: BinOp, a: &Expr, b: &Expr, span: Span) -> Result<Typed, Error> {
        let (ta, tb, ty) = match op {
            BinOp::And | BinOp::Or => (
                self.expect(a, Type::Bool, span)?,
                self.expect(b, Type::Bool, span)?,
                Type::Bool,
            ),
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => (
                self.expect(a, Type::Int, span)?,
                self.expect(b, Type::Int, span)?,
                Type::Int,
            ),
            BinOp::Eq | BinOp::Ne => {
                let ta = self.expr(a)?;
                let tb = self.expect(b, ta.ty, span)?;
                (ta, tb, Type::Bool)
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ta = self.expr(a)?;
                if !matches!(ta.ty, Type::Int | Type::Str) {
                    let msg = format!(
                        "operator `{}` cannot be applied to `{}` in `{}`",
                        op.symbol(),
                        ta.ty,
                        self.text(span)
                    );
                    return Err(self.err(ErrorKind::Type, msg, ta.span));
                }
                let tb = self.expect(b, ta.ty, span)?;
                (ta, tb, Type::Bool)
            }
            BinOp::In => (
                self.expect(a, Type::Str, span)?,
                self.expect(b, Type::StrList, span)?,
                Type::Bool,
            ),
        };
        Ok(Typed {
            kind: TKind::Binary(op, Box::new(ta), Box::new(tb)),
            ty,
            span,
        })
    }

    fn arity(
        &self,
        name: &str,
        args: usize,
        want: usize,
        at_least: bool,
        span: Span,
    ) -> Result<(), Error> {
        let ok = if at_least { args >= want } else { args == want };
        if ok {
            return Ok(());
        }
        let plural = if want == 1 { "argument" } else { "arguments" };
        let least = if at_least { "at least " } else { "" };
        let msg = format!("function `{name}` expects {least}{want} {plural}, found {args}");
        Err(self.err(ErrorKind::Arity, msg, span))
    }

    fn call(
        &self,
        name: &str,
        name_span: Span,
        receiver: Option<&Expr>,
        args: &[Expr],
        span: Span,
    ) -> Result<Typed, Error> {
        // Every `args[0]` below follows a successful `self.arity(..)` check,
        // so the index is in range.
        let unknown = |msg: String| Err(self.err(ErrorKind::UnknownFunction, msg, name_span));
        if MACROS.contains(&name) {
            return unknown(format!("macro `{name}` is not supported"));
        }
        let mut typed = Vec::with_capacity(args.len() + 1);
        let (func, ty) = match receiver {
            None => {
                if !GLOBAL_FUNCS.contains(&name) {
                    if METHODS.contains(&name) {
                        return unknown(format!(
                            "function `{name}` must be called as a method, e.g. `s.{name}(\"x\")`"
                        ));
                    }
                    let hint = suggest(name, GLOBAL_FUNCS.iter().copied());
                    return unknown(format!("function `{name}` is not supported{hint}"));
                }
                match name {
                    "min" | "max" => {
                        self.arity(name, args.len(), 2, true, span)?;
                        for a in args {
                            typed.push(self.expect(a, Type::Int, span)?);
                        }
                        let f = if name == "min" { Func::Min } else { Func::Max };
                        (f, Type::Int)
                    }
                    "abs" => {
                        self.arity(name, args.len(), 1, false, span)?;
                        typed.push(self.expect(&args[0], Type::Int, span)?);
                        (Func::Abs, Type::Int)
                    }
                    "clamp" => {
                        self.arity(name, args.len(), 3, false, span)?;
                        for a in args {
                            typed.push(self.expect(a, Type::Int, span)?);
                        }
                        (Func::Clamp, Type::Int)
                    }
                    _ => {
                        // "size"
                        self.arity(name, args.len(), 1, false, span)?;
                        let t = self.sized(&args[0], span)?;
                        let f = if t.ty == Type::Str {
                            Func::SizeStr
                        } else {
                            Func::SizeList
                        };
                        typed.push(t);
                        (f, Type::Int)
                    }
                }
            }
            Some(recv) => {
                if !METHODS.contains(&name) {
                    if GLOBAL_FUNCS.contains(&name) {
                        return unknown(format!(
                            "function `{name}` cannot be called as a method, write `{name}(...)`"
                        ));
                    }
                    let hint = suggest(name, METHODS.iter().copied());
                    return unknown(format!("method `{name}` is not supported{hint}"));
                }
                if name == "size" {
                    self.arity(name, args.len(), 0, false, span)?;
                    let t = self.sized(recv, span)?;
                    let f = if t.ty == Type::Str {
                        Func::SizeStr
                    } else {
                        Func::SizeList
                    };
                    typed.push(t);
                    (f, Type::Int)
                } else {
                    self.arity(name, args.len(), 1, false, span)?;
                    typed.push(self.expect(recv, Type::Str, span)?);
                    typed.push(self.expect(&args[0], Type::Str, span)?);
                    let f = match name {
                        "startsWith" => Func::StartsWith,
                        "endsWith" => Func::EndsWith,
                        _ => Func::Contains,
                    };
                    (f, Type::Bool)
                }
            }
        };
        Ok(Typed {
            kind: TKind::Call(func, typed),
            ty,
            span,
        })
    }

    fn sized(&self, e: &Expr, ctx: Span) -> Result<Typed, Error> {
        let t = self.expr(e)?;
        if !matches!(t.ty, Type::Str | Type::StrList) {
            let msg = format!(
                "expected `string` or `list(string)`, found `{}` in `{}`",
                t.ty,
                self.text(ctx)
            );
            return Err(self.err(ErrorKind::Type, msg, t.span));
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::lang::parser::parse;

    fn schema() -> Schema {
        let mut s = Schema::new();
        s.add("x", Type::Int, Some((0, 1000)));
        s.add("y", Type::Int, None);
        s.add("b", Type::Bool, None);
        s.add("s", Type::Str, None);
        s.add("l", Type::StrList, None);
        s.add("penalties_3y", Type::Int, None);
        s
    }

    fn ok(src: &str, want: Type) -> Checked {
        let ast = match parse(src) {
            Ok(a) => a,
            Err(e) => panic!("{src}: {e}"),
        };
        match check(&ast, &schema(), want) {
            Ok(c) => c,
            Err(e) => panic!("{src}: {e}"),
        }
    }

    fn err(src: &str, want: Type) -> Error {
        let ast = match parse(src) {
            Ok(a) => a,
            Err(e) => panic!("{src}: {e}"),
        };
        match check(&ast, &schema(), want) {
            Ok(c) => panic!("{src}: expected error, got {c:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn well_typed() {
        assert_eq!(ok("x > 1 && b", Type::Bool).features, vec![0, 2]);
        assert_eq!(ok("-10 * min(y, 3, x)", Type::Int).features, vec![0, 1]);
        ok(
            "s in ['a'] && 'food' in l && size(l) > 0 && l.size() < 3",
            Type::Bool,
        );
        ok(
            "s.startsWith('C13') || s.endsWith('x') || s.contains('y')",
            Type::Bool,
        );
        ok(
            "size(s) == 3 && s < 'b' && l == ['a'] && b == true",
            Type::Bool,
        );
        ok("b ? abs(x) : clamp(y, 0, 10)", Type::Int);
        ok("s.size() + x % 3 / 2 - 1", Type::Int);
    }

    #[test]
    fn operand_type_errors() {
        let e = err("b && 3", Type::Bool);
        assert_eq!(e.kind, ErrorKind::Type);
        assert_eq!(e.message, "expected `bool`, found `int` in `b && 3`");
        assert_eq!((e.span.col, e.snippet.as_str()), (6, "3"));

        let e = err("x + s", Type::Int);
        assert_eq!(e.message, "expected `int`, found `string` in `x + s`");
        assert_eq!(e.span.col, 5);

        let e = err("x == 'a'", Type::Bool);
        assert_eq!(e.message, "expected `int`, found `string` in `x == 'a'`");

        let e = err("b < true", Type::Bool);
        assert_eq!(
            e.message,
            "operator `<` cannot be applied to `bool` in `b < true`"
        );

        let e = err("x in l", Type::Bool);
        assert_eq!(e.message, "expected `string`, found `int` in `x in l`");
        let e = err("s in s", Type::Bool);
        assert_eq!(
            e.message,
            "expected `list(string)`, found `string` in `s in s`"
        );

        let e = err("!x", Type::Bool);
        assert_eq!(e.message, "expected `bool`, found `int` in `!x`");
        let e = err("-b", Type::Int);
        assert_eq!(e.message, "expected `int`, found `bool` in `-b`");

        let e = err("b ? 1 : 'a'", Type::Int);
        assert_eq!(
            e.message,
            "branches of `?:` have different types `int` and `string` in `b ? 1 : 'a'`"
        );
        let e = err("x ? 1 : 2", Type::Int);
        assert_eq!(e.message, "expected `bool`, found `int` in `x ? 1 : 2`");
        let e = err("size(x)", Type::Int);
        assert_eq!(
            e.message,
            "expected `string` or `list(string)`, found `int` in `size(x)`"
        );
        let e = err("s.startsWith(1)", Type::Bool);
        assert_eq!(
            e.message,
            "expected `string`, found `int` in `s.startsWith(1)`"
        );
    }

    #[test]
    fn non_bool_condition() {
        let e = err("x + 1", Type::Bool);
        assert_eq!(
            e.message,
            "expected `bool` expression, found `int` in `x + 1`"
        );
        assert_eq!((e.span.line, e.span.col), (1, 1));
        let e = err("x > 1", Type::Int);
        assert_eq!(
            e.message,
            "expected `int` expression, found `bool` in `x > 1`"
        );
    }

    #[test]
    fn unknown_names() {
        let e = err("penalites_3y > 1", Type::Bool);
        assert_eq!(e.kind, ErrorKind::UnknownFeature);
        assert_eq!(
            e.message,
            "unknown feature `penalites_3y` (did you mean `penalties_3y`?)"
        );
        let e = err("x > 1 &&\n  zzz", Type::Bool);
        assert_eq!(e.message, "unknown feature `zzz`");
        assert_eq!((e.span.line, e.span.col, e.snippet.as_str()), (2, 3, "zzz"));

        let e = err("mn(x, 1)", Type::Int);
        assert_eq!(e.kind, ErrorKind::UnknownFunction);
        assert_eq!(
            e.message,
            "function `mn` is not supported (did you mean `min`?)"
        );
        assert_eq!(e.snippet, "mn");
        let e = err("matches(s, 'a')", Type::Bool);
        assert_eq!(e.message, "function `matches` is not supported");
        let e = err("l.exists(v, v == 'a')", Type::Bool);
        assert_eq!(e.message, "macro `exists` is not supported");
        let e = err("startsWith(s, 'a')", Type::Bool);
        assert_eq!(
            e.message,
            "function `startsWith` must be called as a method, e.g. `s.startsWith(\"x\")`"
        );
        let e = err("x.min(1)", Type::Int);
        assert_eq!(
            e.message,
            "function `min` cannot be called as a method, write `min(...)`"
        );
        let e = err("s.lowerAscii() == 'a'", Type::Bool);
        assert_eq!(e.message, "method `lowerAscii` is not supported");
    }

    #[test]
    fn arity() {
        let e = err("min(x)", Type::Int);
        assert_eq!(e.kind, ErrorKind::Arity);
        assert_eq!(
            e.message,
            "function `min` expects at least 2 arguments, found 1"
        );
        assert_eq!(e.snippet, "min(x)");
        let e = err("abs(x, 1)", Type::Int);
        assert_eq!(e.message, "function `abs` expects 1 argument, found 2");
        let e = err("clamp(x, 1)", Type::Int);
        assert_eq!(e.message, "function `clamp` expects 3 arguments, found 2");
        let e = err("s.size(1)", Type::Int);
        assert_eq!(e.message, "function `size` expects 0 arguments, found 1");
        let e = err("s.startsWith()", Type::Bool);
        assert_eq!(
            e.message,
            "function `startsWith` expects 1 argument, found 0"
        );
    }
}
