//! Tokenizer: turns expression source into tokens with spans.

use crate::rules::lang::error::{Error, ErrorKind, Span};

/// One lexical token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// Unsigned decimal integer literal (sign is a separate `-` token).
    Int(u64),
    /// String literal, escapes already decoded.
    Str(String),
    /// Identifier (feature, function or method name).
    Ident(String),
    /// `true`
    True,
    /// `false`
    False,
    /// `in`
    In,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `?`
    Question,
    /// `:`
    Colon,
    /// `!`
    Bang,
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `%`
    Percent,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    EqEq,
    /// `!=`
    Ne,
    /// `&&`
    AndAnd,
    /// `||`
    OrOr,
    /// `{` (only to report that maps are unsupported)
    LBrace,
    /// `}` (only to report that maps are unsupported)
    RBrace,
    /// End of input.
    Eof,
}

impl Tok {
    /// Short description used in "unexpected ..." messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Int(v) => format!("integer `{v}`"),
            Tok::Str(_) => "string literal".to_string(),
            Tok::Ident(s) => format!("identifier `{s}`"),
            Tok::Eof => "end of expression".to_string(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::True => "true",
            Tok::False => "false",
            Tok::In => "in",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::Dot => ".",
            Tok::Question => "?",
            Tok::Colon => ":",
            Tok::Bang => "!",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::EqEq => "==",
            Tok::Ne => "!=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Int(_) | Tok::Str(_) | Tok::Ident(_) | Tok::Eof => "",
        }
    }
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Its source region.
    pub span: Span,
}

struct Lexer<'s> {
    src: &'s str,
    pos: usize,
    line: u32,
    col: u32,
}

/// Splits `src` into tokens, ending with [`Tok::Eof`].
///
/// Whitespace and `//` line comments are skipped. Errors carry the span of
/// the offending characters.
pub fn tokenize(src: &str) -> Result<Vec<Token>, Error> {
    let mut lx = Lexer {
        src,
        pos: 0,
        line: 1,
        col: 1,
    };
    let mut out = Vec::new();
    loop {
        let t = lx.next_token()?;
        let eof = t.tok == Tok::Eof;
        out.push(t);
        if eof {
            return Ok(out);
        }
    }
}

impl<'s> Lexer<'s> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.src[self.pos..].chars();
        it.next();
        it.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn here(&self) -> Span {
        Span {
            start: self.pos,
            end: self.pos,
            line: self.line,
            col: self.col,
        }
    }

    fn close(&self, mut s: Span) -> Span {
        s.end = self.pos;
        s
    }

    fn err(&self, msg: String, span: Span) -> Error {
        Error::new(ErrorKind::Lex, msg, span, self.src)
    }

    fn skip_trivia(&mut self) {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('/') if self.peek2() == Some('/') => {
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.bump();
                    }
                }
                _ => return,
            }
        }
    }

    fn next_token(&mut self) -> Result<Token, Error> {
        self.skip_trivia();
        let start = self.here();
        let Some(c) = self.bump() else {
            return Ok(Token {
                tok: Tok::Eof,
                span: start,
            });
        };
        let next = self.peek();
        let two = |lx: &mut Self, t: Tok| {
            lx.bump();
            t
        };
        let tok = match c {
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '[' => Tok::LBracket,
            ']' => Tok::RBracket,
            '{' => Tok::LBrace,
            '}' => Tok::RBrace,
            ',' => Tok::Comma,
            '.' => {
                if next.is_some_and(|d| d.is_ascii_digit()) {
                    self.eat_number_tail();
                    let sp = self.close(start);
                    return Err(self.err(
                        format!(
                            "floating-point literal `{}` is not supported",
                            sp.text(self.src)
                        ),
                        sp,
                    ));
                }
                Tok::Dot
            }
            '?' => Tok::Question,
            ':' => Tok::Colon,
            '+' => Tok::Plus,
            '-' => Tok::Minus,
            '*' => Tok::Star,
            '/' => Tok::Slash,
            '%' => Tok::Percent,
            '!' if next == Some('=') => two(self, Tok::Ne),
            '!' => Tok::Bang,
            '<' if next == Some('=') => two(self, Tok::Le),
            '<' => Tok::Lt,
            '>' if next == Some('=') => two(self, Tok::Ge),
            '>' => Tok::Gt,
            '=' if next == Some('=') => two(self, Tok::EqEq),
            '&' if next == Some('&') => two(self, Tok::AndAnd),
            '|' if next == Some('|') => two(self, Tok::OrOr),
            '=' => {
                let sp = self.close(start);
                return Err(self.err("unexpected `=`, did you mean `==`".into(), sp));
            }
            '&' => {
                let sp = self.close(start);
                return Err(self.err("unexpected `&`, did you mean `&&`".into(), sp));
            }
            '|' => {
                let sp = self.close(start);
                return Err(self.err("unexpected `|`, did you mean `||`".into(), sp));
            }
            '"' | '\'' => return self.string(c, start),
            d if d.is_ascii_digit() => return self.number(start),
            a if a.is_ascii_alphabetic() || a == '_' => {
                while self
                    .peek()
                    .is_some_and(|x| x.is_ascii_alphanumeric() || x == '_')
                {
                    self.bump();
                }
                let sp = self.close(start);
                let word = sp.text(self.src);
                if matches!(self.peek(), Some('"' | '\''))
                    && matches!(word, "r" | "R" | "b" | "B" | "rb" | "br" | "RB" | "BR")
                {
                    return Err(self.err(
                        format!("raw and byte string literals (`{word}\"...\"`) are not supported"),
                        sp,
                    ));
                }
                match word {
                    "true" => Tok::True,
                    "false" => Tok::False,
                    "in" => Tok::In,
                    _ => Tok::Ident(word.to_string()),
                }
            }
            other => {
                let sp = self.close(start);
                return Err(self.err(format!("unexpected character `{other}`"), sp));
            }
        };
        Ok(Token {
            tok,
            span: self.close(start),
        })
    }

    /// Consumes the rest of something number-like (`1.5e3u`, `0x1F`) so that
    /// the error span covers all of it.
    fn eat_number_tail(&mut self) {
        while self
            .peek()
            .is_some_and(|x| x.is_ascii_alphanumeric() || x == '_' || x == '.')
        {
            self.bump();
        }
    }

    fn number(&mut self, start: Span) -> Result<Token, Error> {
        while self.peek().is_some_and(|x| x.is_ascii_digit()) {
            self.bump();
        }
        let digits_end = self.pos;
        let bad_tail = match self.peek() {
            Some('.') => self.peek2().is_some_and(|d| d.is_ascii_digit()),
            Some(x) => x.is_ascii_alphanumeric() || x == '_',
            None => false,
        };
        if bad_tail {
            self.eat_number_tail();
            let sp = self.close(start);
            let text = sp.text(self.src);
            let what = if text.contains('.') || text.contains(['e', 'E']) && !text.starts_with("0x")
            {
                "floating-point literal"
            } else if text.starts_with("0x") || text.starts_with("0X") {
                "hexadecimal literal"
            } else if text.ends_with(['u', 'U']) {
                "unsigned literal"
            } else {
                "malformed number"
            };
            return Err(self.err(format!("{what} `{text}` is not supported"), sp));
        }
        let sp = self.close(start);
        let text = &self.src[start.start..digits_end];
        match text.parse::<u64>() {
            Ok(v) if v <= (i64::MAX as u64) + 1 => Ok(Token {
                tok: Tok::Int(v),
                span: sp,
            }),
            _ => Err(self.err(format!("integer literal `{text}` is out of range"), sp)),
        }
    }

    fn string(&mut self, quote: char, start: Span) -> Result<Token, Error> {
        let mut s = String::new();
        loop {
            let esc_start = self.here();
            match self.bump() {
                None | Some('\n') => {
                    let mut sp = self.close(start);
                    if self.src[start.start..self.pos].ends_with('\n') {
                        sp.end -= 1;
                    }
                    return Err(self.err("unterminated string literal".into(), sp));
                }
                Some(c) if c == quote => break,
                Some('\\') => {
                    let e = self.bump();
                    let decoded = match e {
                        Some('\\') => '\\',
                        Some('"') => '"',
                        Some('\'') => '\'',
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('\n') | None => {
                            let sp = self.close(start);
                            return Err(self.err("unterminated string literal".into(), sp));
                        }
                        Some(other) => {
                            let sp = self.close(esc_start);
                            return Err(self.err(
                                format!(
                                    "unknown escape `\\{other}` (supported: `\\\\` `\\\"` `\\'` `\\n` `\\t`)"
                                ),
                                sp,
                            ));
                        }
                    };
                    s.push(decoded);
                }
                Some(c) => s.push(c),
            }
        }
        Ok(Token {
            tok: Tok::Str(s),
            span: self.close(start),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok> {
        match tokenize(src) {
            Ok(v) => v.into_iter().map(|t| t.tok).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    fn lex_err(src: &str) -> Error {
        match tokenize(src) {
            Ok(v) => panic!("expected error, got {v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn operators() {
        assert_eq!(
            toks("<= < >= > == != && || ! + - * / % ? : , . ( ) [ ]"),
            vec![
                Tok::Le,
                Tok::Lt,
                Tok::Ge,
                Tok::Gt,
                Tok::EqEq,
                Tok::Ne,
                Tok::AndAnd,
                Tok::OrOr,
                Tok::Bang,
                Tok::Plus,
                Tok::Minus,
                Tok::Star,
                Tok::Slash,
                Tok::Percent,
                Tok::Question,
                Tok::Colon,
                Tok::Comma,
                Tok::Dot,
                Tok::LParen,
                Tok::RParen,
                Tok::LBracket,
                Tok::RBracket,
                Tok::Eof
            ]
        );
    }

    #[test]
    fn words_and_numbers() {
        assert_eq!(
            toks("true false in x_1 startsWith 42 // comment\n7"),
            vec![
                Tok::True,
                Tok::False,
                Tok::In,
                Tok::Ident("x_1".into()),
                Tok::Ident("startsWith".into()),
                Tok::Int(42),
                Tok::Int(7),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            toks(r#""a\\b\"c\'d\ne\tf" 'x"y\'z'"#),
            vec![
                Tok::Str("a\\b\"c'd\ne\tf".into()),
                Tok::Str("x\"y'z".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn spans_track_lines_and_chars() {
        let t = match tokenize("a &&\n  \"é\" == b") {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        assert_eq!((t[2].span.line, t[2].span.col), (2, 3));
        assert_eq!((t[3].span.line, t[3].span.col), (2, 7));
        assert_eq!(t[3].span.start, 12);
    }

    #[test]
    fn errors() {
        let e = lex_err("x == \"abc\\q\"");
        assert_eq!(
            e.message,
            "unknown escape `\\q` (supported: `\\\\` `\\\"` `\\'` `\\n` `\\t`)"
        );
        assert_eq!(
            (e.span.line, e.span.col, e.snippet.as_str()),
            (1, 10, "\\q")
        );

        let e = lex_err("x == 'abc");
        assert_eq!(e.message, "unterminated string literal");
        assert_eq!((e.span.col, e.snippet.as_str()), (6, "'abc"));

        let e = lex_err("x = 1");
        assert_eq!(e.message, "unexpected `=`, did you mean `==`");
        assert_eq!(e.span.col, 3);

        let e = lex_err("x > 1.5");
        assert_eq!(e.message, "floating-point literal `1.5` is not supported");
        let e = lex_err("x > 0x1F");
        assert_eq!(e.message, "hexadecimal literal `0x1F` is not supported");
        let e = lex_err("x > 1u");
        assert_eq!(e.message, "unsigned literal `1u` is not supported");
        let e = lex_err("x > 99999999999999999999");
        assert_eq!(
            e.message,
            "integer literal `99999999999999999999` is out of range"
        );
        let e = lex_err("x == b'a'");
        assert_eq!(e.kind, ErrorKind::Lex);
        let e = lex_err("x # y");
        assert_eq!(e.message, "unexpected character `#`");
    }
}
