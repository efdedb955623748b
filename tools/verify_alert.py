#!/usr/bin/env python3
"""Independent checker for creditrisk group-alert evidence.

Reads alert exports (`creditrisk warnings export W1 > alert.json`, format
`creditrisk-alert-export/1`, described in docs/warnings.md) and recomputes, from the exported
facts or tier counts and the rule's parameters only, the group statistic and the level:

  rate            n facts of the rule's kind in the window (as_of - window_days, as_of],
                  k adverse among them, rate_permille = floor(k * 1000 / n); fires only with
                  n >= min_sample.
  poisson-change  count = adverse facts in the window, baseline_count = adverse facts in the
                  baseline_periods windows before it; p = P(X >= count) for
                  X ~ Binomial(count + baseline_count, 1 / (baseline_periods + 1)), computed
                  exactly with fractions; p_ppm = ceil(p * 10^6); fires only with
                  p_ppm <= alpha_ppm.
  concentration   enterprises = A + B + C + D over the group's tier counts, cd = C + D,
                  cd_permille = floor(cd * 1000 / enterprises); fires only with
                  enterprises >= min_enterprises.

Then the rule's `when` and each raise's condition (a small expression language: integer and
string literals, names, comparisons, `&&`, `||`, `!`, parentheses; anything else is reported
as unsupported) decide whether it fires and at which level (blue < yellow < orange < red).

It shares no code with the service: only the Python standard library. Prints MATCH or what
differs for each file; exit status 0 only when every file matches.

Usage: python3 tools/verify_alert.py ALERT.json [ALERT.json ...]
"""

import datetime
import json
import re
import sys
from fractions import Fraction

LEVELS = ["blue", "yellow", "orange", "red"]
FORMAT = "creditrisk-alert-export/1"


class Unsupported(Exception):
    pass


# --- a tiny expression evaluator (the subset the rule conditions use) --------------------------

TOKEN = re.compile(r"\s*(?:(\d+)|(\"(?:[^\"\\]|\\.)*\")|([A-Za-z_][A-Za-z_0-9]*)|(&&|\|\||==|!=|<=|>=|<|>|!|\(|\)))")


def tokenize(text):
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Unsupported("cannot read `%s` at column %d" % (text, pos + 1))
        num, string, name, op = m.groups()
        if num is not None:
            out.append(("int", int(num)))
        elif string is not None:
            out.append(("str", json.loads(string)))
        elif name is not None:
            if name in ("true", "false"):
                out.append(("bool", name == "true"))
            else:
                out.append(("name", name))
        else:
            out.append(("op", op))
        pos = m.end()
    return out


def evaluate(text, env):
    toks = tokenize(text)
    i = 0

    def peek():
        return toks[i] if i < len(toks) else (None, None)

    def take(kind=None, value=None):
        nonlocal i
        t = peek()
        if t[0] is None or (kind and t[0] != kind) or (value and t[1] != value):
            raise Unsupported("unexpected %r in `%s`" % (t[1], text))
        i += 1
        return t

    def primary():
        t = peek()
        if t == ("op", "("):
            take()
            v = or_expr()
            take("op", ")")
            return v
        if t == ("op", "!"):
            take()
            v = primary()
            if not isinstance(v, bool):
                raise Unsupported("`!` of a non-bool in `%s`" % text)
            return not v
        if t[0] in ("int", "str", "bool"):
            take()
            return t[1]
        if t[0] == "name":
            take()
            if t[1] not in env:
                raise Unsupported("unknown name `%s` in `%s`" % (t[1], text))
            return env[t[1]]
        raise Unsupported("unexpected %r in `%s`" % (t[1], text))

    def comparison():
        left = primary()
        t = peek()
        if t[0] == "op" and t[1] in ("==", "!=", "<", "<=", ">", ">="):
            take()
            right = primary()
            if type(left) is not type(right):
                raise Unsupported("comparison of different types in `%s`" % text)
            return {
                "==": left == right,
                "!=": left != right,
                "<": left < right,
                "<=": left <= right,
                ">": left > right,
                ">=": left >= right,
            }[t[1]]
        return left

    def and_expr():
        v = comparison()
        while peek() == ("op", "&&"):
            take()
            w = comparison()
            v = bool(v) and bool(w)
        return v

    def or_expr():
        v = and_expr()
        while peek() == ("op", "||"):
            take()
            w = and_expr()
            v = bool(v) or bool(w)
        return v

    v = or_expr()
    if i != len(toks):
        raise Unsupported("trailing input in `%s`" % text)
    if not isinstance(v, bool):
        raise Unsupported("`%s` is not a condition" % text)
    return v


# --- statistics -----------------------------------------------------------------------------


def day(s):
    return datetime.date.fromisoformat(s)


def adverse(f):
    return {
        "spot-check": f.get("passed") is False,
        "complaint": f.get("verified") is True,
        "inspection": f.get("violation") is True,
    }[f["kind"]]


def fact_fields(f):
    ind = f["industry"]
    return {
        "jurisdiction": f["jurisdiction"],
        "industry": ind,
        "industry_section": ind[:1],
        "industry_division": ind[:3],
        "product_category": f.get("product_category", ""),
    }


def group_value(fields, dim):
    return fields["jurisdiction"] if dim == "district" else fields[dim]


def ceil_div(a, b):
    return -((-a) // b)


def poisson_p(count, baseline, periods):
    """P(X >= count), X ~ Binomial(count + baseline, 1 / (periods + 1)), exactly."""
    n = count + baseline
    if count == 0:
        return Fraction(1)
    b = periods
    # sum_{j=count}^{n} C(n, j) b^(n-j), from j = n down, with C(n, j-1) = C(n, j) j / (n-j+1)
    # (exact integer division) and the power of b carried along: integers only.
    num, c, bpow = 0, 1, 1
    for j in range(n, count - 1, -1):
        num += c * bpow
        c = c * j // (n - j + 1)
        bpow *= b
    return Fraction(num, (b + 1) ** n)


def recompute(x):
    """The evidence values and statistics the rule reads, from the export's inputs."""
    rule, alert = x["rule"], x["alert"]
    as_of = day(x["as_of"])
    method = rule["method"]
    group = dict((d, v) for d, v in alert["group"])
    ev, stats, notes = {}, {}, []
    if method in ("rate", "poisson-change"):
        w = rule["window_days"]
        cur_lo = as_of - datetime.timedelta(days=w)
        periods = rule["baseline_periods"]
        lookback = w * (periods + 1) if method == "poisson-change" else w
        lo = as_of - datetime.timedelta(days=lookback)
        n = k = base = 0
        ents = set()
        for f in x["facts"]:
            if f["seq"] > x["cut"] or f["kind"] != rule["facts"]:
                continue
            d = day(f["date"])
            if not (lo < d <= as_of):
                continue
            fields = fact_fields(f)
            if any(group_value(fields, dim) != v for dim, v in group.items()):
                continue
            if rule.get("where") and not evaluate(rule["where"], fields):
                continue
            bad = adverse(f)
            if method == "poisson-change" and not bad:
                continue
            if d > cur_lo:
                n += 1
                if bad:
                    k += 1
                    ents.add(f["credit_code"])
            else:
                base += 1
        ev["method"] = method
        ev["window_from"] = (cur_lo + datetime.timedelta(days=1)).isoformat()
        ev["window_to"] = as_of.isoformat()
        ev["window_days"] = str(w)
        ev["enterprises"] = str(len(ents))
        ev["facts"] = rule["facts"]
        if method == "rate":
            if n < rule["min_sample"]:
                notes.append("n = %d is below min_sample %d: the rule cannot fire" % (n, rule["min_sample"]))
            rate = k * 1000 // n if n else 0
            ev.update(n=str(n), k=str(k), rate_permille=str(rate), min_sample=str(rule["min_sample"]))
            stats = {"n": n, "k": k, "rate_permille": rate, "enterprises": len(ents)}
            fires = n >= rule["min_sample"]
        else:
            p = poisson_p(k, base, periods)
            p_ppm = min(ceil_div(p.numerator * 10**6, p.denominator), 10**6)
            expected = base * 1000 // periods
            ratio = k * 1000 * periods // base if base else 0
            ev.update(
                baseline_from=(as_of - datetime.timedelta(days=lookback - 1)).isoformat(),
                baseline_to=cur_lo.isoformat(),
                baseline_periods=str(periods),
                count=str(k),
                baseline_count=str(base),
                expected_milli=str(expected),
                ratio_permille=str(ratio),
                p_ppm=str(p_ppm),
                alpha_ppm=str(rule["alpha_ppm"]),
            )
            stats = {
                "count": k,
                "baseline_count": base,
                "expected_milli": expected,
                "ratio_permille": ratio,
                "p_ppm": p_ppm,
                "enterprises": len(ents),
            }
            fires = p_ppm <= rule["alpha_ppm"]
            if not fires:
                notes.append("p_ppm = %d is above alpha_ppm %d: the rule cannot fire" % (p_ppm, rule["alpha_ppm"]))
            # The service sums in floating point and rounds up; it may be one ppm off only when
            # the exact p lies within a hair of a ppm boundary.
            exact_ppm = p * 10**6
            stated = x["evidence"].get("p_ppm")
            if stated is not None and stated.isdigit() and int(stated) != p_ppm:
                if abs(exact_ppm - int(stated)) < Fraction(1, 10**6) or abs(exact_ppm - (int(stated) - 1)) < Fraction(1, 10**6):
                    notes.append("p_ppm %s accepted: exact p = %s ppm lies on a ppm boundary" % (stated, float(exact_ppm)))
                    ev["p_ppm"] = stated
                    stats["p_ppm"] = int(stated)
    elif method == "concentration":
        a = b = c = dd = 0
        for key, counts in x["tiers"].items():
            j, _, section = key.partition("/")
            fields = {"jurisdiction": j, "industry_section": section}
            if "district" in group and group["district"] != j:
                continue
            if "industry_section" in group and group["industry_section"] != section:
                continue
            if rule.get("where") and not evaluate(rule["where"], dict(fields, industry="", industry_division="", product_category="")):
                continue
            a, b, c, dd = a + counts[0], b + counts[1], c + counts[2], dd + counts[3]
        total = a + b + c + dd
        cd = c + dd
        cdp = cd * 1000 // total if total else 0
        fires = total >= rule["min_enterprises"]
        if not fires:
            notes.append("%d enterprises is below min_enterprises %d" % (total, rule["min_enterprises"]))
        ev.update(
            method=method,
            enterprises=str(total),
            tiers="A=%d;B=%d;C=%d;D=%d" % (a, b, c, dd),
            cd=str(cd),
            cd_permille=str(cdp),
            min_enterprises=str(rule["min_enterprises"]),
        )
        stats = {"enterprises": total, "c": c, "d": dd, "cd": cd, "cd_permille": cdp}
    else:
        raise Unsupported("unknown method `%s`" % method)
    if rule.get("where"):
        ev["where"] = rule["where"]
    level = None
    if fires and evaluate(rule["when"], stats):
        level = LEVELS.index(rule["level"])
        for raise_level, cond in rule["raises"]:
            if evaluate(cond, stats):
                level = max(level, LEVELS.index(raise_level))
    return ev, level, notes


def check(x):
    """A list of differences (empty: MATCH) and notes."""
    if x.get("format") != FORMAT:
        return ["format: `%s`, expected `%s`" % (x.get("format"), FORMAT)], []
    ev, level, notes = recompute(x)
    diffs = []
    stated = x["evidence"]
    for key in sorted(set(ev) | (set(stated) - {"statistic"})):
        if key not in ev:
            diffs.append("evidence `%s`: stated `%s`, not recomputed here" % (key, stated[key]))
        elif stated.get(key) != ev[key]:
            diffs.append("evidence `%s`: stated `%s`, recomputed `%s`" % (key, stated.get(key), ev[key]))
    if level is None:
        diffs.append("level: the rule does not fire on the recomputed statistics")
    else:
        # The level of the newest firing (raise or refire), before escalations: a raise gives
        # the firing's level; a refire never lowers it.
        steps = x["alert"]["levels"]
        firings = [(a, l) for a, l in steps if a in ("raise", "refire")]
        if not firings:
            diffs.append("level: the export lists no raise step")
        else:
            action, stated_level = firings[-1]
            want = LEVELS[level]
            if action == "raise" and stated_level != want:
                diffs.append("level: stated `%s` at raise, recomputed `%s`" % (stated_level, want))
            if action == "refire" and LEVELS.index(stated_level) < level:
                diffs.append("level: stated `%s` at refire, below the recomputed `%s`" % (stated_level, want))
        escalations = sum(1 for a, _ in steps if a == "escalate")
        top = min(len(LEVELS) - 1, LEVELS.index(firings[-1][1]) + escalations) if firings else level
        current = x["alert"]["level"]
        if firings and LEVELS.index(current) > top:
            diffs.append("level: current `%s` is above the firing's plus %d escalations" % (current, escalations))
    return diffs, notes


def main(paths):
    if not paths:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    ok = True
    for path in paths:
        try:
            with open(path, encoding="utf-8") as fh:
                x = json.load(fh)
            diffs, notes = check(x)
        except Unsupported as e:
            print("%s: CANNOT CHECK: %s" % (path, e))
            ok = False
            continue
        except (OSError, ValueError, KeyError, TypeError) as e:
            print("%s: CANNOT CHECK: %s: %s" % (path, type(e).__name__, e))
            ok = False
            continue
        who = "%s %s %s" % (x["alert"]["id"], x["alert"]["rule_id"], x["alert"]["subject"])
        for n in notes:
            print("%s: note: %s" % (path, n))
        if diffs:
            ok = False
            print("%s: MISMATCH %s" % (path, who))
            for d in diffs:
                print("  %s" % d)
        else:
            print("%s: MATCH %s (%s, level %s, %d facts)" % (path, who, x["rule"]["method"], x["alert"]["level"], len(x["facts"])))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
