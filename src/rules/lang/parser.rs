//! Recursive-descent parser for the subset (grammar in the crate docs).

use crate::rules::lang::ast::{Ast, BinOp, Expr, ExprKind, UnOp};
use crate::rules::lang::error::{Error, ErrorKind, Span};
use crate::rules::lang::lexer::{tokenize, Tok, Token};

/// Maximum nesting depth; deeper input is rejected instead of overflowing the stack. Each level
/// costs a frame per precedence level in the parser, checker and compiler, and rules run on
/// 2 MiB tokio and test threads (unoptimised builds have large frames): 32 is far beyond any
/// real rule and safe there.
const MAX_DEPTH: u32 = 32;

/// Parses one expression.
///
/// On success the returned [`Ast`] owns a copy of `src`. On failure the error
/// has kind [`ErrorKind::Lex`] or [`ErrorKind::Syntax`], the 1-based
/// line/column of the offending token, and its text as the snippet.
pub fn parse(src: &str) -> Result<Ast, Error> {
    let toks = tokenize(src)?;
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth: 0,
    };
    let root = p.expr()?;
    let t = p.peek();
    if t.tok != Tok::Eof {
        let msg = format!("unexpected {} after end of expression", t.tok.describe());
        return Err(p.err(msg, t.span));
    }
    Ok(Ast {
        source: src.to_string(),
        root,
    })
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    pos: usize,
    depth: u32,
}

impl<'s> Parser<'s> {
    fn peek(&self) -> Token {
        // `tokenize` always ends with Eof and `bump` never moves past it, so
        // the index is in range; fall back to a synthetic Eof regardless.
        self.toks.get(self.pos).cloned().unwrap_or(Token {
            tok: Tok::Eof,
            span: Span::default(),
        })
    }

    fn peek_tok(&self) -> &Tok {
        self.toks.get(self.pos).map(|t| &t.tok).unwrap_or(&Tok::Eof)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    fn err(&self, msg: String, span: Span) -> Error {
        Error::new(ErrorKind::Syntax, msg, span, self.src)
    }

    fn expect(&mut self, want: Tok) -> Result<Token, Error> {
        let t = self.peek();
        if t.tok == want {
            Ok(self.bump())
        } else {
            let msg = format!("expected {}, found {}", want.describe(), t.tok.describe());
            Err(self.err(msg, t.span))
        }
    }

    fn enter(&mut self, span: Span) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("expression is nested too deeply".into(), span));
        }
        Ok(())
    }

    /// expr := or [ "?" or ":" expr ]
    fn expr(&mut self) -> Result<Expr, Error> {
        let sp = self.peek().span;
        self.enter(sp)?;
        let cond = self.binary(0)?;
        let out = if *self.peek_tok() == Tok::Question {
            self.bump();
            let a = self.binary(0)?;
            self.expect(Tok::Colon)?;
            let b = self.expr()?;
            Expr {
                span: cond.span.to(b.span),
                kind: ExprKind::Cond(Box::new(cond), Box::new(a), Box::new(b)),
            }
        } else {
            cond
        };
        self.depth -= 1;
        Ok(out)
    }

    /// Precedence climbing over the left-associative binary levels:
    /// 0 `||`, 1 `&&`, 2 relations, 3 `+ -`, 4 `* / %`.
    fn binary(&mut self, level: u8) -> Result<Expr, Error> {
        if level > 4 {
            return self.unary();
        }
        let mut lhs = self.binary(level + 1)?;
        loop {
            let op = match (level, self.peek_tok()) {
                (0, Tok::OrOr) => BinOp::Or,
                (1, Tok::AndAnd) => BinOp::And,
                (2, Tok::Lt) => BinOp::Lt,
                (2, Tok::Le) => BinOp::Le,
                (2, Tok::Gt) => BinOp::Gt,
                (2, Tok::Ge) => BinOp::Ge,
                (2, Tok::EqEq) => BinOp::Eq,
                (2, Tok::Ne) => BinOp::Ne,
                (2, Tok::In) => BinOp::In,
                (3, Tok::Plus) => BinOp::Add,
                (3, Tok::Minus) => BinOp::Sub,
                (4, Tok::Star) => BinOp::Mul,
                (4, Tok::Slash) => BinOp::Div,
                (4, Tok::Percent) => BinOp::Rem,
                _ => return Ok(lhs),
            };
            self.bump();
            let rhs = self.binary(level + 1)?;
            lhs = Expr {
                span: lhs.span.to(rhs.span),
                kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
            };
        }
    }

    /// unary := ("!" | "-") unary | member
    fn unary(&mut self) -> Result<Expr, Error> {
        let t = self.peek();
        let op = match t.tok {
            Tok::Bang => UnOp::Not,
            Tok::Minus => UnOp::Neg,
            _ => return self.member(),
        };
        self.enter(t.span)?;
        self.bump();
        // Fold `-<int literal>` so that i64::MIN is writable.
        if op == UnOp::Neg {
            if let Tok::Int(v) = *self.peek_tok() {
                let next_is_dot = self
                    .toks
                    .get(self.pos + 1)
                    .is_some_and(|n| n.tok == Tok::Dot);
                if !next_is_dot {
                    let lit = self.bump();
                    self.depth -= 1;
                    // v <= 2^63 is guaranteed by the lexer, so the negation fits.
                    let neg = (v as i128).wrapping_neg() as i64;
                    return Ok(Expr {
                        kind: ExprKind::Int(neg),
                        span: t.span.to(lit.span),
                    });
                }
            }
        }
        let inner = self.unary()?;
        self.depth -= 1;
        Ok(Expr {
            span: t.span.to(inner.span),
            kind: ExprKind::Unary(op, Box::new(inner)),
        })
    }

    /// member := primary { "." IDENT "(" args ")" }
    fn member(&mut self) -> Result<Expr, Error> {
        let mut e = self.primary()?;
        loop {
            match self.peek_tok() {
                Tok::Dot => {
                    self.bump();
                    let name_tok = self.peek();
                    let Tok::Ident(name) = name_tok.tok.clone() else {
                        let msg = format!(
                            "expected method name after `.`, found {}",
                            name_tok.tok.describe()
                        );
                        return Err(self.err(msg, name_tok.span));
                    };
                    self.bump();
                    if *self.peek_tok() != Tok::LParen {
                        let sp = e.span.to(name_tok.span);
                        let msg =
                            format!("field selection `{}` is not supported", sp.text(self.src));
                        return Err(self.err(msg, sp));
                    }
                    let (args, close) = self.args()?;
                    e = Expr {
                        span: e.span.to(close),
                        kind: ExprKind::Call {
                            name,
                            name_span: name_tok.span,
                            receiver: Some(Box::new(e)),
                            args,
                        },
                    };
                }
                Tok::LBracket => {
                    let t = self.peek();
                    let msg = format!("indexing `{}[...]` is not supported", e.span.text(self.src));
                    return Err(self.err(msg, t.span));
                }
                _ => return Ok(e),
            }
        }
    }

    /// Parses `( [expr {"," expr}] )`; returns the arguments and the span of
    /// the closing parenthesis.
    fn args(&mut self) -> Result<(Vec<Expr>, Span), Error> {
        self.expect(Tok::LParen)?;
        let mut args = Vec::new();
        if *self.peek_tok() != Tok::RParen {
            loop {
                args.push(self.expr()?);
                if *self.peek_tok() == Tok::Comma {
                    self.bump();
                } else {
                    break;
                }
            }
        }
        let close = self.expect(Tok::RParen)?;
        Ok((args, close.span))
    }

    fn primary(&mut self) -> Result<Expr, Error> {
        let t = self.peek();
        let kind = match t.tok {
            Tok::Int(v) => {
                if v > i64::MAX as u64 {
                    let msg = format!("integer literal `{v}` is out of range");
                    return Err(self.err(msg, t.span));
                }
                ExprKind::Int(v as i64)
            }
            Tok::Str(ref s) => ExprKind::Str(s.clone()),
            Tok::True => ExprKind::Bool(true),
            Tok::False => ExprKind::Bool(false),
            Tok::Ident(ref name) => {
                if name == "null" {
                    return Err(self.err("`null` is not supported".into(), t.span));
                }
                self.bump();
                if *self.peek_tok() == Tok::LParen {
                    let (args, close) = self.args()?;
                    return Ok(Expr {
                        span: t.span.to(close),
                        kind: ExprKind::Call {
                            name: name.clone(),
                            name_span: t.span,
                            receiver: None,
                            args,
                        },
                    });
                }
                return Ok(Expr {
                    kind: ExprKind::Ident(name.clone()),
                    span: t.span,
                });
            }
            Tok::LParen => {
                self.bump();
                let inner = self.expr()?;
                let close = self.expect(Tok::RParen)?;
                return Ok(Expr {
                    kind: inner.kind,
                    span: t.span.to(close.span),
                });
            }
            Tok::LBracket => return self.list(),
            Tok::LBrace => {
                return Err(self.err("map literals are not supported".into(), t.span));
            }
            Tok::Dot => {
                return Err(self.err(
                    "qualified names starting with `.` are not supported".into(),
                    t.span,
                ));
            }
            ref other => {
                let msg = format!("expected an expression, found {}", other.describe());
                return Err(self.err(msg, t.span));
            }
        };
        self.bump();
        Ok(Expr { kind, span: t.span })
    }

    /// list := "[" [ STRING { "," STRING } [","] ] "]"
    fn list(&mut self) -> Result<Expr, Error> {
        let open = self.bump();
        let mut items = Vec::new();
        loop {
            let t = self.peek();
            match t.tok {
                Tok::RBracket => {
                    self.bump();
                    return Ok(Expr {
                        kind: ExprKind::List(items),
                        span: open.span.to(t.span),
                    });
                }
                Tok::Str(s) => {
                    self.bump();
                    items.push(s);
                    match self.peek_tok() {
                        Tok::Comma => {
                            self.bump();
                        }
                        Tok::RBracket => {}
                        _ => {
                            let n = self.peek();
                            let msg =
                                format!("expected `,` or `]` in list, found {}", n.tok.describe());
                            return Err(self.err(msg, n.span));
                        }
                    }
                }
                Tok::Eof => {
                    let msg = "expected `]` to close list, found end of expression".to_string();
                    return Err(self.err(msg, t.span));
                }
                other => {
                    // Report the whole element for a clearer snippet.
                    let start = self.pos;
                    let elem = self.expr();
                    let span = match elem {
                        Ok(e) => e.span,
                        Err(_) => self.toks.get(start).map(|x| x.span).unwrap_or(t.span),
                    };
                    let msg = format!(
                        "list elements must be string literals, found `{}`",
                        span.text(self.src)
                    );
                    let _ = other;
                    return Err(self.err(msg, span));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(src: &str) -> String {
        match parse(src) {
            Ok(a) => a.root.to_string(),
            Err(e) => panic!("{src}: {e}"),
        }
    }

    fn perr(src: &str) -> Error {
        match parse(src) {
            Ok(a) => panic!("expected error for {src}, got {}", a.root),
            Err(e) => e,
        }
    }

    #[test]
    fn precedence() {
        assert_eq!(p("a || b && c"), "(a || (b && c))");
        assert_eq!(p("a && b || c"), "((a && b) || c)");
        assert_eq!(p("a == b && c < d"), "((a == b) && (c < d))");
        assert_eq!(p("a + b * c"), "(a + (b * c))");
        assert_eq!(p("a * b + c"), "((a * b) + c)");
        assert_eq!(p("a + b < c * d"), "((a + b) < (c * d))");
        assert_eq!(p("!a && b"), "((!a) && b)");
        assert_eq!(p("-a * b"), "((-a) * b)");
        assert_eq!(p("x in [\"a\"] || y"), "((x in [\"a\"]) || y)");
        assert_eq!(p("a ? b : c || d"), "(a ? b : (c || d))");
        assert_eq!(p("a || b ? c : d"), "((a || b) ? c : d)");
        assert_eq!(p("(a || b) && c"), "((a || b) && c)");
        assert_eq!(p("-x.size()"), "(-x.size())");
    }

    #[test]
    fn associativity() {
        assert_eq!(p("a - b - c"), "((a - b) - c)");
        assert_eq!(p("a / b / c"), "((a / b) / c)");
        assert_eq!(p("a % b * c"), "((a % b) * c)");
        assert_eq!(p("a || b || c"), "((a || b) || c)");
        assert_eq!(p("a ? b : c ? d : e"), "(a ? b : (c ? d : e))");
        assert_eq!(p("!!a"), "(!(!a))");
        assert_eq!(p("- -a"), "(-(-a))");
    }

    #[test]
    fn literals_and_calls() {
        assert_eq!(p("-10 * min(x, 3)"), "((-10) * min(x, 3))");
        assert_eq!(p("-9223372036854775808"), "(-9223372036854775808)");
        assert_eq!(p("['a', \"b\",]"), "[\"a\", \"b\"]");
        assert_eq!(p("[]"), "[]");
        assert_eq!(p("s.startsWith(\"C13\")"), "s.startsWith(\"C13\")");
        assert_eq!(
            p("size(l) > 0 && \"food\" in l"),
            "((size(l) > 0) && (\"food\" in l))"
        );
        assert_eq!(p("f()"), "f()");
        assert_eq!(p("'a\\nb'"), "\"a\\nb\"");
    }

    #[test]
    fn spans() {
        let a = match parse("  a  &&\n (b || c)") {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        };
        assert_eq!((a.root.span.line, a.root.span.col), (1, 3));
        assert_eq!(a.root.span.text(&a.source), "a  &&\n (b || c)");
        if let ExprKind::Binary(_, _, rhs) = &a.root.kind {
            assert_eq!((rhs.span.line, rhs.span.col), (2, 2));
            assert_eq!(rhs.span.text(&a.source), "(b || c)");
        } else {
            panic!("not binary");
        }
    }

    #[test]
    fn errors_with_positions() {
        let e = perr("a && (b || c");
        assert_eq!(e.message, "expected `)`, found end of expression");
        assert_eq!((e.span.line, e.span.col, e.span.start), (1, 13, 12));

        let e = perr("a &&\n  b ||\n   || c");
        assert_eq!(e.message, "expected an expression, found `||`");
        assert_eq!((e.span.line, e.span.col), (3, 4));
        assert_eq!(e.snippet, "||");

        let e = perr("a b");
        assert_eq!(
            e.message,
            "unexpected identifier `b` after end of expression"
        );
        assert_eq!(e.span.col, 3);

        let e = perr("x in [\"a\", 3]");
        assert_eq!(
            e.message,
            "list elements must be string literals, found `3`"
        );
        assert_eq!(e.span.col, 12);

        let e = perr("a.b > 1");
        assert_eq!(e.message, "field selection `a.b` is not supported");
        assert_eq!((e.span.col, e.snippet.as_str()), (1, "a.b"));

        let e = perr("x[0]");
        assert_eq!(e.message, "indexing `x[...]` is not supported");
        let e = perr("{'a': 1}");
        assert_eq!(e.message, "map literals are not supported");
        let e = perr("x == null");
        assert_eq!(e.message, "`null` is not supported");
        let e = perr("9223372036854775808");
        assert_eq!(
            e.message,
            "integer literal `9223372036854775808` is out of range"
        );
        let e = perr("a ? b");
        assert_eq!(e.message, "expected `:`, found end of expression");
        let e = perr("");
        assert_eq!(e.message, "expected an expression, found end of expression");
        let e = perr("min(1,)");
        assert_eq!(e.message, "expected an expression, found `)`");
        assert_eq!(e.kind, ErrorKind::Syntax);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
        assert_eq!(perr(&src).message, "expression is nested too deeply");
        let src = format!("{}x", "!".repeat(5000));
        assert_eq!(perr(&src).message, "expression is nested too deeply");
    }
}
