//! Source positions and the single error type used by the lexer, parser and
//! type checker.

use std::fmt;

/// A region of expression source text.
///
/// `start`/`end` are byte offsets into the expression source (`end` is
/// exclusive). `line` and `col` are the 1-based position of `start`; `col`
/// counts characters (Unicode scalar values), not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Byte offset of the first byte of the region.
    pub start: usize,
    /// Byte offset one past the last byte of the region.
    pub end: usize,
    /// 1-based line of `start`.
    pub line: u32,
    /// 1-based column (in characters) of `start`.
    pub col: u32,
}

impl Span {
    /// Returns the span covering `self` up to and including `other`.
    ///
    /// The position (`line`/`col`) is taken from whichever span starts first.
    pub fn to(self, other: Span) -> Span {
        let first = if other.start < self.start {
            other
        } else {
            self
        };
        Span {
            start: first.start,
            end: self.end.max(other.end),
            line: first.line,
            col: first.col,
        }
    }

    /// Re-bases the line/column of this span for an expression that starts at
    /// `base_line`:`base_col` (both 1-based) inside a larger file.
    ///
    /// Only positions on the expression's first line are shifted by the
    /// column; later lines keep their column. Byte offsets are unchanged and
    /// stay relative to the expression source.
    pub fn offset_lines(self, base_line: u32, base_col: u32) -> Span {
        let base_line = base_line.max(1);
        let base_col = base_col.max(1);
        let col = if self.line <= 1 {
            self.col.saturating_add(base_col - 1)
        } else {
            self.col
        };
        Span {
            line: self.line.saturating_add(base_line - 1),
            col,
            ..self
        }
    }

    /// The text this span covers in `src`, or `""` if the span does not fit
    /// `src` (for example when it belongs to another source).
    pub fn text(self, src: &str) -> &str {
        src.get(self.start..self.end).unwrap_or("")
    }
}

/// What kind of problem an [`Error`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Malformed token: bad escape, unterminated string, unsupported literal.
    Lex,
    /// Token stream does not match the grammar, or uses an unsupported form.
    Syntax,
    /// An identifier that is not a feature of the schema.
    UnknownFeature,
    /// A function or method that is not part of the subset.
    UnknownFunction,
    /// A supported function called with the wrong number of arguments.
    Arity,
    /// Operand or result types do not fit.
    Type,
}

/// A parse or type error with its position and the offending source text.
///
/// `message` is lower-case, has no final period and quotes user text in
/// backticks, e.g. ``unknown feature `penalites_3y` ``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// Category of the error.
    pub kind: ErrorKind,
    /// Human-readable description.
    pub message: String,
    /// Where in the expression source the problem is.
    pub span: Span,
    /// The source text covered by `span` (may be empty at end of input).
    pub snippet: String,
}

impl Error {
    /// Builds an error, taking the snippet from `src` at `span`.
    pub fn new(kind: ErrorKind, message: impl Into<String>, span: Span, src: &str) -> Error {
        Error {
            kind,
            message: message.into(),
            span,
            snippet: span.text(src).to_string(),
        }
    }

    /// Re-bases the error position, see [`Span::offset_lines`].
    pub fn offset_lines(mut self, base_line: u32, base_col: u32) -> Error {
        self.span = self.span.offset_lines(base_line, base_col);
        self
    }
}

impl fmt::Display for Error {
    /// Formats as `line:col: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.span.line, self.span.col, self.message)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_first_line_shifts_col() {
        let s = Span {
            start: 3,
            end: 5,
            line: 1,
            col: 4,
        };
        let t = s.offset_lines(10, 7);
        assert_eq!((t.line, t.col, t.start, t.end), (10, 10, 3, 5));
    }

    #[test]
    fn offset_later_line_keeps_col() {
        let s = Span {
            start: 30,
            end: 31,
            line: 3,
            col: 2,
        };
        let t = s.offset_lines(10, 7);
        assert_eq!((t.line, t.col), (12, 2));
    }

    #[test]
    fn display_and_to() {
        let a = Span {
            start: 0,
            end: 1,
            line: 1,
            col: 1,
        };
        let b = Span {
            start: 4,
            end: 6,
            line: 1,
            col: 5,
        };
        assert_eq!(
            a.to(b),
            Span {
                start: 0,
                end: 6,
                line: 1,
                col: 1
            }
        );
        assert_eq!(
            b.to(a),
            Span {
                start: 0,
                end: 6,
                line: 1,
                col: 1
            }
        );
        let e = Error::new(ErrorKind::Syntax, "unexpected `)`", b, "abcdef");
        assert_eq!(e.snippet, "ef");
        assert_eq!(e.to_string(), "1:5: unexpected `)`");
    }
}
