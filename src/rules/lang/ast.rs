//! Untyped syntax tree produced by the parser. Every node has a [`Span`].

use std::fmt;

use crate::rules::lang::error::Span;

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// `!` logical not.
    Not,
    /// `-` integer negation.
    Neg,
}

/// Binary operators (the conditional `?:` is [`ExprKind::Cond`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `||`
    Or,
    /// `&&`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in`
    In,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

impl BinOp {
    /// The operator as written in source.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

/// The shape of an expression node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprKind {
    /// Integer literal (a leading `-` directly on a literal is folded in).
    Int(i64),
    /// `true` / `false`.
    Bool(bool),
    /// String literal with escapes decoded.
    Str(String),
    /// List literal; elements are string literals.
    List(Vec<String>),
    /// Feature reference.
    Ident(String),
    /// Unary operation.
    Unary(UnOp, Box<Expr>),
    /// Binary operation.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `cond ? then : else`.
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    /// Function call `name(args)` or method call `receiver.name(args)`.
    Call {
        /// Function or method name.
        name: String,
        /// Span of the name token.
        name_span: Span,
        /// The receiver of a method call.
        receiver: Option<Box<Expr>>,
        /// Arguments in order.
        args: Vec<Expr>,
    },
}

/// An expression node with its source span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// Source region of the whole node (parentheses included when present).
    pub span: Span,
}

/// A parsed expression together with its source text, which the type checker
/// needs for error snippets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ast {
    /// The exact text that was parsed; spans index into it.
    pub source: String,
    /// Root node.
    pub root: Expr,
}

/// Writes a string literal in double quotes with subset escapes.
pub(crate) fn write_str_lit(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '"' => f.write_str("\\\"")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

impl fmt::Display for Expr {
    /// Prints the expression fully parenthesised; the output parses back to
    /// an equivalent tree.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Int(v) if *v < 0 => write!(f, "({v})"),
            ExprKind::Int(v) => write!(f, "{v}"),
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Str(s) => write_str_lit(f, s),
            ExprKind::List(items) => {
                f.write_str("[")?;
                for (i, s) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_str_lit(f, s)?;
                }
                f.write_str("]")
            }
            ExprKind::Ident(n) => f.write_str(n),
            ExprKind::Unary(UnOp::Not, e) => write!(f, "(!{e})"),
            // `-(5)` must not print as `-5`, which would parse as a literal.
            ExprKind::Unary(UnOp::Neg, e) if matches!(e.kind, ExprKind::Int(v) if v >= 0) => {
                write!(f, "(-({e}))")
            }
            ExprKind::Unary(UnOp::Neg, e) => write!(f, "(-{e})"),
            ExprKind::Binary(op, a, b) => write!(f, "({a} {} {b})", op.symbol()),
            ExprKind::Cond(c, a, b) => write!(f, "({c} ? {a} : {b})"),
            ExprKind::Call {
                name,
                receiver,
                args,
                ..
            } => {
                if let Some(r) = receiver {
                    write!(f, "{r}.")?;
                }
                write!(f, "{name}(")?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
        }
    }
}
