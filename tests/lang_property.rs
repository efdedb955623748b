//! Property-style test: random well-typed expressions are parsed, checked and
//! compiled; the compiled program must agree with a naive reference
//! interpreter over the AST on random feature values, and the interval
//! analysis must be sound for those values.

use std::collections::HashMap;

use creditrisk::rules::lang::*;

/// splitmix64: small deterministic PRNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        match self.below(6) {
            0 => lo,
            1 => hi,
            _ => {
                let span = (hi as i128 - lo as i128 + 1) as u128;
                (lo as i128 + (self.next() as u128 % span) as i128) as i64
            }
        }
    }
}

const INTS: &[(&str, Option<(i64, i64)>)] = &[
    ("i_small", Some((-5, 5))),
    ("i_amount", Some((0, 1_000_000))),
    ("i_any", None),
];
const BOOLS: &[&str] = &["b_one", "b_two"];
const STRS: &[&str] = &["s_one", "s_two"];
const LISTS: &[&str] = &["l_one"];
const WORDS: &[&str] = &[
    "", "a", "ab", "b", "C13", "C1310", "é", "food", "x\"y", "t\\u",
];
const LITS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "7",
    "100",
    "-1",
    "-3",
    "9223372036854775807",
    "-9223372036854775808",
    "4611686018427387904",
];

fn lit(w: &str) -> String {
    let mut s = String::from("\"");
    for c in w.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

fn ws(r: &mut Rng) -> &'static str {
    r.pick::<&str>(&[" ", " ", " ", "  ", "\n", " \n\t"])
}

fn gen_int(r: &mut Rng, d: u32) -> String {
    let leaf = d == 0 || r.below(4) == 0;
    if leaf {
        return if r.below(2) == 0 {
            r.pick(LITS).to_string()
        } else {
            r.pick(INTS).0.to_string()
        };
    }
    let d = d - 1;
    match r.below(12) {
        0 => format!("-({})", gen_int(r, d)),
        1..=5 => {
            let op = *r.pick(&["+", "-", "*", "/", "%"]);
            let (a, b) = (gen_int(r, d), gen_int(r, d));
            format!("({a}{}{op}{}{b})", ws(r), ws(r))
        }
        6 => {
            let f = *r.pick(&["min", "max"]);
            let n = 2 + r.below(2);
            let args: Vec<String> = (0..n).map(|_| gen_int(r, d)).collect();
            format!("{f}({})", args.join(", "))
        }
        7 => format!("abs({})", gen_int(r, d)),
        8 => format!(
            "clamp({}, {}, {})",
            gen_int(r, d),
            gen_int(r, d),
            gen_int(r, d)
        ),
        9 => match r.below(4) {
            0 => format!("size({})", gen_str(r, d)),
            1 => format!("({}).size()", gen_str(r, d)),
            2 => format!("size({})", gen_list(r, d)),
            _ => format!("({}).size()", gen_list(r, d)),
        },
        _ => format!(
            "({} ? {} : {})",
            gen_bool(r, d),
            gen_int(r, d),
            gen_int(r, d)
        ),
    }
}

fn gen_bool(r: &mut Rng, d: u32) -> String {
    let leaf = d == 0 || r.below(5) == 0;
    if leaf {
        return match r.below(3) {
            0 => r.pick(&["true", "false"]).to_string(),
            _ => r.pick(BOOLS).to_string(),
        };
    }
    let d = d - 1;
    match r.below(13) {
        0 => format!("!({})", gen_bool(r, d)),
        1 | 2 => {
            let op = *r.pick(&["&&", "||"]);
            format!("({}{}{op} {})", gen_bool(r, d), ws(r), gen_bool(r, d))
        }
        3..=5 => {
            let op = *r.pick(&["<", "<=", ">", ">=", "==", "!="]);
            format!("({} {op}{}{})", gen_int(r, d), ws(r), gen_int(r, d))
        }
        6 => {
            let op = *r.pick(&["<", "<=", ">", ">=", "==", "!="]);
            format!("({} {op} {})", gen_str(r, d), gen_str(r, d))
        }
        7 => {
            let op = *r.pick(&["==", "!="]);
            format!("({} {op} {})", gen_bool(r, d), gen_bool(r, d))
        }
        8 | 9 => format!("({} in {})", gen_str(r, d), gen_list(r, d)),
        10 => {
            let m = *r.pick(&["startsWith", "endsWith", "contains"]);
            format!("({}).{m}({})", gen_str(r, d), gen_str(r, d))
        }
        11 => {
            let op = *r.pick(&["==", "!="]);
            format!("({} {op} {})", gen_list(r, d), gen_list(r, d))
        }
        _ => format!(
            "({} ? {} : {})",
            gen_bool(r, d),
            gen_bool(r, d),
            gen_bool(r, d)
        ),
    }
}

fn gen_str(r: &mut Rng, d: u32) -> String {
    if d == 0 || r.below(4) != 0 {
        return if r.below(2) == 0 {
            lit(r.pick::<&str>(WORDS))
        } else {
            r.pick(STRS).to_string()
        };
    }
    format!(
        "({} ? {} : {})",
        gen_bool(r, d - 1),
        gen_str(r, d - 1),
        gen_str(r, d - 1)
    )
}

fn gen_list(r: &mut Rng, d: u32) -> String {
    if d == 0 || r.below(4) != 0 {
        return if r.below(2) == 0 {
            let n = r.below(12);
            let items: Vec<String> = (0..n).map(|_| lit(r.pick::<&str>(WORDS))).collect();
            format!("[{}]", items.join(", "))
        } else {
            r.pick(LISTS).to_string()
        };
    }
    format!(
        "({} ? {} : {})",
        gen_bool(r, d - 1),
        gen_list(r, d - 1),
        gen_list(r, d - 1)
    )
}

/// Reference values.
#[derive(Debug, Clone, PartialEq)]
enum V {
    I(i64),
    B(bool),
    S(String),
    L(Vec<String>),
}

fn sat(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Naive interpreter over the untyped AST, with i128 arithmetic.
fn interp(e: &Expr, env: &HashMap<String, V>) -> V {
    let int = |e: &Expr| match interp(e, env) {
        V::I(v) => v as i128,
        other => panic!("expected int, got {other:?}"),
    };
    let boolean = |e: &Expr| match interp(e, env) {
        V::B(v) => v,
        other => panic!("expected bool, got {other:?}"),
    };
    let string = |e: &Expr| match interp(e, env) {
        V::S(v) => v,
        other => panic!("expected string, got {other:?}"),
    };
    match &e.kind {
        ExprKind::Int(v) => V::I(*v),
        ExprKind::Bool(b) => V::B(*b),
        ExprKind::Str(s) => V::S(s.clone()),
        ExprKind::List(l) => V::L(l.clone()),
        ExprKind::Ident(n) => env[n].clone(),
        ExprKind::Unary(UnOp::Not, a) => V::B(!boolean(a)),
        ExprKind::Unary(UnOp::Neg, a) => V::I(sat(-int(a))),
        ExprKind::Cond(c, a, b) => {
            if boolean(c) {
                interp(a, env)
            } else {
                interp(b, env)
            }
        }
        ExprKind::Binary(op, a, b) => match op {
            BinOp::And => V::B(boolean(a) && boolean(b)),
            BinOp::Or => V::B(boolean(a) || boolean(b)),
            BinOp::Add => V::I(sat(int(a) + int(b))),
            BinOp::Sub => V::I(sat(int(a) - int(b))),
            BinOp::Mul => V::I(sat(int(a) * int(b))),
            BinOp::Div => {
                let (x, y) = (int(a), int(b));
                V::I(if y == 0 { 0 } else { sat(x / y) })
            }
            BinOp::Rem => {
                let (x, y) = (int(a), int(b));
                V::I(if y == 0 { 0 } else { sat(x % y) })
            }
            BinOp::In => match interp(b, env) {
                V::L(l) => V::B(l.contains(&string(a))),
                other => panic!("bad in {other:?}"),
            },
            BinOp::Eq => V::B(interp(a, env) == interp(b, env)),
            BinOp::Ne => V::B(interp(a, env) != interp(b, env)),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ord = match (interp(a, env), interp(b, env)) {
                    (V::I(x), V::I(y)) => x.cmp(&y),
                    (V::S(x), V::S(y)) => x.as_bytes().cmp(y.as_bytes()),
                    other => panic!("bad compare {other:?}"),
                };
                V::B(match op {
                    BinOp::Lt => ord.is_lt(),
                    BinOp::Le => ord.is_le(),
                    BinOp::Gt => ord.is_gt(),
                    _ => ord.is_ge(),
                })
            }
        },
        ExprKind::Call {
            name,
            receiver,
            args,
            ..
        } => {
            let mut all: Vec<&Expr> = receiver.iter().map(|b| &**b).collect();
            all.extend(args.iter());
            match name.as_str() {
                "min" => V::I(all.iter().map(|a| int(a)).min().map(sat).unwrap_or(0)),
                "max" => V::I(all.iter().map(|a| int(a)).max().map(sat).unwrap_or(0)),
                "abs" => V::I(sat(int(all[0]).abs())),
                "clamp" => {
                    let (x, lo, hi) = (int(all[0]), int(all[1]), int(all[2]));
                    V::I(sat(x.max(lo).min(hi)))
                }
                "size" => match interp(all[0], env) {
                    V::S(s) => V::I(s.chars().count() as i64),
                    V::L(l) => V::I(l.len() as i64),
                    other => panic!("bad size {other:?}"),
                },
                "startsWith" => V::B(string(all[0]).starts_with(&string(all[1]))),
                "endsWith" => V::B(string(all[0]).ends_with(&string(all[1]))),
                "contains" => V::B(string(all[0]).contains(&string(all[1]))),
                other => panic!("unknown function {other}"),
            }
        }
    }
}

fn schema() -> Schema {
    let mut s = Schema::new();
    for (n, r) in INTS {
        s.add(n, Type::Int, *r);
    }
    for n in BOOLS {
        s.add(n, Type::Bool, None);
    }
    for n in STRS {
        s.add(n, Type::Str, None);
    }
    for n in LISTS {
        s.add(n, Type::StrList, None);
    }
    s
}

fn random_row(r: &mut Rng, sc: &Schema) -> (Record, HashMap<String, V>) {
    let mut rec = Vec::new();
    let mut env = HashMap::new();
    for f in sc.features() {
        let (o, v) = match f.ty {
            Type::Int => {
                let x = r.range(f.range.0, f.range.1);
                (OwnedValue::Int(x), V::I(x))
            }
            Type::Bool => {
                let b = r.below(2) == 0;
                (OwnedValue::Bool(b), V::B(b))
            }
            Type::Str => {
                let w = r.pick(WORDS).to_string();
                (OwnedValue::Str(w.clone()), V::S(w))
            }
            Type::StrList => {
                let n = r.below(4);
                let l: Vec<String> = (0..n).map(|_| r.pick(WORDS).to_string()).collect();
                (OwnedValue::StrList(l.clone()), V::L(l))
            }
        };
        rec.push(o);
        env.insert(f.name.clone(), v);
    }
    (Record(rec), env)
}

#[test]
fn compiled_matches_reference_and_analysis_is_sound() {
    let sc = schema();
    let mut r = Rng(0x5EED_CE15);
    let mut decided = 0;
    for round in 0..4000 {
        let want = if round % 2 == 0 {
            Type::Bool
        } else {
            Type::Int
        };
        let src = if want == Type::Bool {
            gen_bool(&mut r, 5)
        } else {
            gen_int(&mut r, 5)
        };
        let ast = parse(&src).unwrap_or_else(|e| panic!("parse {src}: {e}"));
        // Printing and re-parsing gives the same tree shape.
        let printed = ast.root.to_string();
        let again = parse(&printed).unwrap_or_else(|e| panic!("reparse {printed}: {e}"));
        assert_eq!(again.root.to_string(), printed);

        let checked = check(&ast, &sc, want).unwrap_or_else(|e| panic!("check {src}: {e}"));
        let prog = compile(&checked);
        let truth = bool_range(&checked, &sc);
        let (lo, hi) = int_range(&checked, &sc);
        if truth != Truth::Maybe || (want == Type::Int && (lo, hi) != (i64::MIN, i64::MAX)) {
            decided += 1;
        }
        for _ in 0..16 {
            let (rec, env) = random_row(&mut r, &sc);
            let expect = interp(&ast.root, &env);
            match (want, expect) {
                (Type::Bool, V::B(b)) => {
                    assert_eq!(prog.eval_bool(&rec), b, "{src}\nrow {rec:?}");
                    match truth {
                        Truth::AlwaysTrue => assert!(b, "unsound AlwaysTrue: {src}\n{rec:?}"),
                        Truth::AlwaysFalse => assert!(!b, "unsound AlwaysFalse: {src}\n{rec:?}"),
                        Truth::Maybe => {}
                    }
                }
                (Type::Int, V::I(v)) => {
                    assert_eq!(prog.eval_int(&rec), v, "{src}\nrow {rec:?}");
                    assert!(
                        lo <= v && v <= hi,
                        "unsound range [{lo}, {hi}] for {v}: {src}\n{rec:?}"
                    );
                }
                (t, v) => panic!("reference gave {v:?} for {t}"),
            }
        }
    }
    // The analysis must actually decide something on a fair share.
    assert!(decided > 200, "analysis decided only {decided}");
}

#[test]
fn realistic_rules() {
    let mut sc = Schema::new();
    let on_list = sc.add("on_serious_list", Type::Bool, None);
    let pen = sc.add("penalties_serious_3y", Type::Int, Some((0, 1000)));
    let amt = sc.add("penalty_amount_3y", Type::Int, Some((0, 10_000_000_000)));
    let fails = sc.add("failed_inspections_2y", Type::Int, Some((0, 500)));
    let sect = sc.add("industry_section", Type::Str, None);
    let grade = sc.add("tax_grade", Type::Str, None);
    let lic = sc.add("licences", Type::StrList, None);
    let mut row = Record(vec![OwnedValue::Int(0); sc.len()]);
    row.0[on_list] = OwnedValue::Bool(false);
    row.0[pen] = OwnedValue::Int(2);
    row.0[amt] = OwnedValue::Int(150_000);
    row.0[fails] = OwnedValue::Int(5);
    row.0[sect] = OwnedValue::Str("Q".into());
    row.0[grade] = OwnedValue::Str("D".into());
    row.0[lic] = OwnedValue::StrList(vec!["food".into()]);

    let cases: &[(&str, Type, Value)] = &[
        (
            "on_serious_list || (penalties_serious_3y >= 1 && penalty_amount_3y > 100000)",
            Type::Bool,
            Value::Bool(true),
        ),
        (
            "-10 * min(failed_inspections_2y, 3)",
            Type::Int,
            Value::Int(-30),
        ),
        (
            "industry_section in [\"H\", \"Q\"] && tax_grade == \"D\"",
            Type::Bool,
            Value::Bool(true),
        ),
        (
            "size(licences) > 0 && \"food\" in licences",
            Type::Bool,
            Value::Bool(true),
        ),
        (
            "industry_section.startsWith('C13')",
            Type::Bool,
            Value::Bool(false),
        ),
    ];
    for (src, ty, want) in cases {
        let ast = parse(src).unwrap_or_else(|e| panic!("{e}"));
        let c = check(&ast, &sc, *ty).unwrap_or_else(|e| panic!("{e}"));
        let p = compile(&c);
        assert_eq!(p.eval(&row), *want, "{src}");
    }
    let c = check(
        &parse("-10 * min(failed_inspections_2y, 3)").unwrap_or_else(|e| panic!("{e}")),
        &sc,
        Type::Int,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(int_range(&c, &sc), (-30, 0));
    assert_eq!(compile(&c).features_read(), &[fails]);
}

#[test]
fn multi_line_error_positions_shift_into_file() {
    let mut sc = Schema::new();
    sc.add("penalties_3y", Type::Int, None);
    let src = "penalties_3y > 1 &&\n    penalites_3y < 5";
    let e = check(
        &parse(src).unwrap_or_else(|e| panic!("{e}")),
        &sc,
        Type::Bool,
    )
    .err()
    .unwrap_or_else(|| panic!("expected error"));
    assert_eq!((e.span.line, e.span.col), (2, 5));
    assert_eq!(e.snippet, "penalites_3y");
    assert_eq!(e.span.start, 24);
    // The expression starts at line 12, column 16 of its rule file.
    let e = e.offset_lines(12, 16);
    assert_eq!((e.span.line, e.span.col), (13, 5));
    assert_eq!(
        e.to_string(),
        "13:5: unknown feature `penalites_3y` (did you mean `penalties_3y`?)"
    );

    let e = parse("(a ||\n b")
        .err()
        .unwrap_or_else(|| panic!("expected error"));
    assert_eq!((e.span.line, e.span.col), (2, 3));
    let e = e.offset_lines(3, 10);
    assert_eq!((e.span.line, e.span.col), (4, 3));
    let e = parse("x == 'ab")
        .err()
        .unwrap_or_else(|| panic!("expected error"));
    let e = e.offset_lines(3, 10);
    assert_eq!((e.span.line, e.span.col), (3, 15));
}
