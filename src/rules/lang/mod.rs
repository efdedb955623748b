//! A small, documented subset of CEL (Common Expression Language) for rule
//! conditions and score expressions.
//!
//! Pipeline: [`parse`] (source → [`Ast`] with spans) → [`check`] (against a
//! [`Schema`] → [`Checked`]) → [`compile`] (→ [`Program`], evaluated with
//! [`Program::eval_bool`] / [`Program::eval_int`] over any [`Features`]).
//! [`bool_range`] and [`int_range`] do static interval analysis.
//!
//! ```
//! use creditrisk::rules::lang::*;
//! let mut schema = Schema::new();
//! let x = schema.add("failed_inspections_2y", Type::Int, Some((0, 100)));
//! let ast = parse("-10 * min(failed_inspections_2y, 3)").unwrap();
//! let checked = check(&ast, &schema, Type::Int).unwrap();
//! assert_eq!(int_range(&checked, &schema), (-30, 0));
//! let program = compile(&checked);
//! let mut row = Record(vec![OwnedValue::Int(0)]);
//! row.0[x] = OwnedValue::Int(5);
//! assert_eq!(program.eval_int(&row), -30);
//! ```
//!
//! # Language reference
//!
//! ## Grammar (EBNF)
//!
//! ```text
//! expr     = or , [ "?" , or , ":" , expr ] ;          (* right-assoc *)
//! or       = and , { "||" , and } ;
//! and      = rel , { "&&" , rel } ;
//! rel      = add , { ( "<" | "<=" | ">" | ">=" | "==" | "!=" | "in" ) , add } ;
//! add      = mul , { ( "+" | "-" ) , mul } ;
//! mul      = unary , { ( "*" | "/" | "%" ) , unary } ;
//! unary    = ( "!" | "-" ) , unary | member ;
//! member   = primary , { "." , IDENT , "(" , [ args ] , ")" } ;
//! primary  = INT | STRING | "true" | "false"
//!          | IDENT                                    (* feature *)
//!          | IDENT , "(" , [ args ] , ")"             (* function call *)
//!          | "(" , expr , ")"
//!          | "[" , [ STRING , { "," , STRING } , [ "," ] ] , "]" ;
//! args     = expr , { "," , expr } ;
//! INT      = digit , { digit } ;                      (* decimal only *)
//! STRING   = '"' , { char | escape } , '"' | "'" , { char | escape } , "'" ;
//! escape   = "\\" , ( "\\" | '"' | "'" | "n" | "t" ) ;
//! IDENT    = ( letter | "_" ) , { letter | digit | "_" } ;
//! ```
//!
//! Whitespace (including newlines) separates tokens; `//` starts a comment
//! to the end of the line. Strings may not span lines. Feature names are
//! conventionally `[a-z_][a-z0-9_]*`; any identifier is looked up in the
//! schema. Relations are left-associative like in CEL (`a < b < c` is a type
//! error). Integer literals range over `i64`; `-9223372036854775808` is
//! accepted because `-` directly before a literal is folded into it.
//!
//! ## Types
//!
//! `int` (i64), `bool`, `string`, `list(string)`. There are no implicit
//! conversions.
//!
//! ## Operators (lowest to highest precedence)
//!
//! | precedence | operators | operands → result |
//! |---|---|---|
//! | 1 | `c ? a : b` (right-assoc) | `bool`, T, T → T |
//! | 2 | `\|\|` | bool → bool, short-circuit |
//! | 3 | `&&` | bool → bool, short-circuit |
//! | 4 | `==` `!=` | T, T → bool, any same type (lists element-wise) |
//! | 4 | `<` `<=` `>` `>=` | int, int or string, string (byte-lexicographic) → bool |
//! | 4 | `in` | string, list(string) → bool |
//! | 5 | `+` `-` | int → int |
//! | 6 | `*` `/` `%` | int → int |
//! | 7 | `!` / unary `-` | bool → bool / int → int |
//!
//! **Integer semantics** (total; evaluation never fails or panics):
//! `+ - *`, unary `-` and `abs` **saturate** at `i64::MIN`/`i64::MAX`;
//! `/` truncates toward zero and `%` takes the sign of the dividend;
//! **`x / 0 == 0` and `x % 0 == 0`**; `i64::MIN / -1 == i64::MAX`,
//! `i64::MIN % -1 == 0`. (CEL proper raises errors in these cases; a rule
//! author who needs to distinguish must guard explicitly, e.g.
//! `d != 0 && n / d > 3`.)
//!
//! ## Functions
//!
//! | call | types | notes |
//! |---|---|---|
//! | `min(a, b, ...)`, `max(a, b, ...)` | int… → int | 2 or more arguments |
//! | `abs(x)` | int → int | saturating |
//! | `clamp(x, lo, hi)` | int, int, int → int | `min(max(x, lo), hi)` (so `hi` wins if `lo > hi`) |
//! | `size(x)` or `x.size()` | string / list(string) → int | characters (Unicode scalar values) / elements |
//! | `s.startsWith(p)`, `s.endsWith(p)`, `s.contains(p)` | string, string → bool | method syntax only |
//!
//! ## Not supported (reported as errors)
//!
//! Doubles, unsigned and hexadecimal literals, bytes, raw and triple-quoted
//! strings, other escapes (`\x..`, `\u....`, ...), `null`, maps and map
//! literals, non-string list elements, indexing `a[i]`, field selection
//! `a.b`, qualified names, macros (`has`, `all`, `exists`, `exists_one`,
//! `map`, `filter`), string concatenation, timestamps, durations, type
//! conversions (`int()`, `string()`, ...), `matches` and every other function
//! not listed above.
//!
//! # Positions
//!
//! Every [`Error`] carries a [`Span`] (byte range into the expression
//! source, and 1-based line/column of its start, column counted in
//! characters) plus the offending source text. To report positions inside a
//! larger rule file use [`Error::offset_lines`] / [`Span::offset_lines`].

mod analysis;
mod ast;
mod check;
mod compile;
mod error;
mod eval;
mod features;
mod lexer;
mod parser;
mod types;

pub use analysis::{bool_range, int_range, Truth};
pub use ast::{Ast, BinOp, Expr, ExprKind, UnOp};
pub(crate) use check::suggest;
pub use check::{check, Checked, Func, TKind, Typed};
pub use compile::{compile, Program};
pub use error::{Error, ErrorKind, Span};
pub use eval::{int_div, int_rem};
pub use features::{Features, OwnedValue, Record, Value};
pub use parser::parse;
pub use types::{Feature, Schema, Type};
