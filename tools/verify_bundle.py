#!/usr/bin/env python3
"""Independent checker of creditrisk draw bundles (format creditrisk-bundle/1, algorithm
creditrisk-draw/1), written from the published specification in docs/draws.md, not from the
Rust code.

Usage:
    python3 -m pip install consistent-sampler==1.0.10
    python3 tools/verify_bundle.py bundle.json [more.json ...]

Needs Python 3.11 or later and, besides the standard library, only the public package
`consistent-sampler` 1.0.10 (the same one that defines the tickets).

From the bundle's published inputs alone (candidates, roster, calendar, recorded policy, seed)
it checks:
  * the document: format, algorithm, candidates in ascending unique code order, roster in
    ascending unique id order;
  * the candidate and roster digests;
  * every candidate's disposition (scope, not-active, recently-inspected, yearly-cap), the
    exclusion list, the total and out-of-scope counts;
  * per tier: candidates, excluded, eligible, per-mille (general-item cap) and k (rounding);
  * per tier: the selection is the k eligible enterprises with the smallest tickets, comparing
    the full tickets (all 64-78 digits), every printed ticket equals the full ticket, and the
    global order is ascending ticket;
  * every staffed team: departments in the draw's order, the lead first; the joint composition
    (one department: min_team_size; joint: each partner joint_members_per_department, the lead
    max(per, min_team_size - per x (departments - 1))); every member on the roster, of the
    department it is listed for, active, certificate valid on the inspection date, covering the
    enterprise's jurisdiction, holding every qualification of the item, without a declared
    conflict with the enterprise's code or its legal representative's pseudonym, listed once;
    the team is not exactly the enterprise's last team; nobody over the workload cap across
    the draw;
  * every team is the documented choice: per department, the eligible inspectors under the cap
    (counting the teams published before it) in ticket order under SEED/CODE (one department)
    or SEED/CODE/DEPT (joint), skipping a member that would make the team equal to the last
    team; an enterprise is unstaffed exactly when some department falls short, and its reason
    names the first department that does;
  * the publication deadline: the 20th working day after the inspection date under the
    bundle's calendar.

Prints a summary per bundle; on any violation prints one line per violation (record, field,
value, problem) and exits with status 1. Status 2: a file cannot be read or is not a bundle.
"""

import argparse
import datetime
import hashlib
import json
import sys

try:
    from consistent_sampler import first_fraction, sampler
except ImportError as e:  # pragma: no cover - reported to the user
    sys.stderr.write(
        f"verify_bundle: cannot import consistent_sampler ({e}); "
        "install it with: python3 -m pip install consistent-sampler==1.0.10\n"
    )
    sys.exit(2)

FORMAT = "creditrisk-bundle/1"
ALGORITHM = "creditrisk-draw/1"
TIERS = ["A", "B", "C", "D"]
# `sampler` trims tickets to 9 significant digits (after any leading 9s) unless asked for more;
# a ticket has at most 78 digits, so this many keeps every digit.
FULL_DIGITS = 100
PUBLICATION_WORKING_DAYS = 20


class Unreadable(Exception):
    """The file is not a bundle this checker understands."""


class Report:
    """Violations of one bundle, each (record, field, value, problem)."""

    def __init__(self):
        self.violations = []

    def bad(self, record, field, value, problem):
        self.violations.append((record, field, value, problem))

    def lines(self, limit):
        out = []
        for record, field, value, problem in self.violations[:limit]:
            out.append(f"  {record}: {field} = `{value}`: {problem}")
        if len(self.violations) > limit:
            out.append(f"  and {len(self.violations) - limit} more violations")
        return out


def day(s):
    return datetime.date.fromisoformat(s)


def full_ticket(seed, ident):
    """The untrimmed first ticket of `ident` under `seed`, as consistent_sampler computes it."""
    return first_fraction(ident, seed)


def ticket_order(ids, seed):
    """`ids` in ascending ticket order under `seed` (the package's own order, full tickets)."""
    if not ids:
        return []
    return list(sampler(ids, seed=seed, output="tuple", digits=FULL_DIGITS))


# --- the rules of docs/draws.md --------------------------------------------------------------


def in_scope(item, c):
    s = item.get("scope") or {}
    juris = s.get("jurisdictions") or []
    inds = s.get("industries") or []
    kinds = s.get("entity_kinds") or []
    lics = s.get("licence_kinds") or []
    codes = s.get("credit_codes") or []
    return (
        (not juris or c["jurisdiction"] in juris)
        and (not inds or any(c["industry"].startswith(p) for p in inds))
        and (not kinds or c["kind"] in kinds)
        and (not lics or any(l in (c.get("licences") or []) for l in lics))
        and (not codes or c["credit_code"] in codes)
    )


def disposition(item, policy, inspection_date, c):
    if not in_scope(item, c):
        return "out-of-scope"
    if c["status"] != "active":
        return "not-active"
    for li in c.get("last_inspections") or []:
        if li["item_id"] == item["id"] and (
            (inspection_date - day(li["date"])).days < policy["min_interval_days"]
        ):
            return "recently-inspected"
    if c.get("inspections_this_year", 0) >= policy["yearly_cap"][c["tier"]]:
        return "yearly-cap"
    return "eligible"


def per_mille(policy, tier, kind, stratum=0):
    """The ratio of `tier` in `stratum` (0: outside every group ratio; i: group_ratios[i-1])."""
    r = policy["ratio_per_mille"][tier]
    if stratum:
        r = max(r, policy["group_ratios"][stratum - 1]["ratio_per_mille"][tier])
    return r if kind == "key" else min(r, policy["general_item_max_per_mille"])


def group_valid(g, d):
    return day(g["valid_from"]) <= d <= day(g["valid_until"])


def stratum(policy, inspection_date, c):
    """Differentiated supervision: 1 + the index of the first group ratio valid on the
    inspection date whose district and industry prefix (each if given) match, else 0."""
    for i, g in enumerate(policy.get("group_ratios") or []):
        if (
            group_valid(g, inspection_date)
            and (g.get("district") is None or g["district"] == c["jurisdiction"])
            and (g.get("industry") is None or c["industry"].startswith(g["industry"]))
        ):
            return i + 1
    return 0


def draw_size(rounding, pm, eligible):
    x = min(pm, 1000) * eligible
    if rounding == "ceil":
        k = (x + 999) // 1000
    elif rounding == "floor":
        k = x // 1000
    elif rounding == "half-up":
        k = (x + 500) // 1000
    else:
        raise Unreadable(f"record.policy.rounding `{rounding}` is unknown")
    return min(k, eligible)


def team_sizes(policy, departments):
    """Members each department sends, in the draw's department order."""
    n = len(departments)
    m = policy["min_team_size"]
    per = policy["joint_members_per_department"]
    if n == 1:
        return [m]
    return [max(per, m - per * (n - 1))] + [per] * (n - 1)


def candidate_digest(cands):
    text = "".join(f"{c['credit_code']}{c['tier']}\n" for c in sorted(cands, key=lambda c: c["credit_code"].encode()))
    return hashlib.sha256(text.encode()).hexdigest()


def roster_digest(roster):
    def join(xs):
        return ",".join(sorted(xs, key=lambda s: s.encode()))

    h = hashlib.sha256()
    for r in sorted(roster, key=lambda r: r["inspector_id"].encode()):
        line = "\t".join(
            [
                r["inspector_id"],
                r["department"],
                "1" if r["active"] else "0",
                r["certificate_expiry"],
                join(r.get("jurisdictions") or []),
                join(r.get("qualifications") or []),
                join(r.get("conflict_enterprises") or []),
                join(r.get("conflict_legal_representatives") or []),
            ]
        )
        h.update((line + "\n").encode())
    return h.hexdigest()


def working_day(cal, d):
    if d.year not in cal["years"]:
        raise ValueError(f"the calendar has no data for year {d.year}")
    if d in cal["working_weekends"]:
        return True
    return d.weekday() < 5 and d not in cal["holidays"]


def publication_deadline(cal, inspection_date):
    d, left = inspection_date, PUBLICATION_WORKING_DAYS
    while left > 0:
        d += datetime.timedelta(days=1)
        if working_day(cal, d):
            left -= 1
    return d


# --- checks ----------------------------------------------------------------------------------


def check_bundle(doc, rep):
    """Checks one parsed bundle; returns a summary dict. Violations go to `rep`."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise Unreadable(f"format is `{doc.get('format') if isinstance(doc, dict) else None}`, not `{FORMAT}`")
    try:
        rec = doc["record"]
        cands = [c["candidate"] for c in doc["candidates"]]
        published = [c["disposition"] for c in doc["candidates"]]
        roster = doc["roster"]
        policy = rec["policy"]
        item = rec["item"]
        seed = rec["seed"]
        inspection_date = day(rec["inspection_date"])
        departments = rec["departments"]
    except (KeyError, TypeError, ValueError) as e:
        raise Unreadable(f"missing or malformed field: {e}") from e
    if rec.get("algorithm") != ALGORITHM:
        raise Unreadable(f"record.algorithm `{rec.get('algorithm')}` is not `{ALGORITHM}`")

    # Document order and digests.
    for i in range(1, len(cands)):
        if cands[i - 1]["credit_code"].encode() >= cands[i]["credit_code"].encode():
            rep.bad(f"candidates[{i}]", "credit_code", cands[i]["credit_code"], "not in ascending unique code order")
    for i in range(1, len(roster)):
        if roster[i - 1]["inspector_id"].encode() >= roster[i]["inspector_id"].encode():
            rep.bad(f"roster[{i}]", "inspector_id", roster[i]["inspector_id"], "not in ascending unique id order")
    cd = candidate_digest(cands)
    if cd != rec.get("candidate_digest"):
        rep.bad("record", "candidate_digest", rec.get("candidate_digest"), f"the candidates give `{cd}`")
    rd = roster_digest(roster)
    if rd != rec.get("roster_digest"):
        rep.bad("record", "roster_digest", rec.get("roster_digest"), f"the roster gives `{rd}`")

    # Dispositions, exclusions, counts.
    by_code = {c["credit_code"]: c for c in cands}
    disp = [disposition(item, policy, inspection_date, c) for c in cands]
    for i, (c, mine, theirs) in enumerate(zip(cands, disp, published)):
        if mine != theirs:
            rep.bad(f"candidates[{i}] {c['credit_code']}", "disposition", theirs, f"the rules give `{mine}`")
    if rec.get("total_candidates") != len(cands):
        rep.bad("record", "total_candidates", rec.get("total_candidates"), f"the bundle has {len(cands)} candidates")
    oos = sum(1 for d in disp if d == "out-of-scope")
    if rec.get("out_of_scope") != oos:
        rep.bad("record", "out_of_scope", rec.get("out_of_scope"), f"the rules give {oos}")
    want_excl = [
        {"credit_code": c["credit_code"], "tier": c["tier"], "reason": d}
        for c, d in zip(cands, disp)
        if d not in ("eligible", "out-of-scope")
    ]
    got_excl = rec.get("exclusions") or []
    if got_excl != want_excl:
        diff = next((i for i, (a, b) in enumerate(zip(got_excl, want_excl)) if a != b), min(len(got_excl), len(want_excl)))
        got = got_excl[diff] if diff < len(got_excl) else None
        want = want_excl[diff] if diff < len(want_excl) else None
        rep.bad(f"record.exclusions[{diff}]", "entry", json.dumps(got), f"the rules give {json.dumps(want)} ({len(want_excl)} exclusions in all)")

    # Per tier: counts, k, and the k smallest full tickets; with group ratios (differentiated
    # supervision), per stratum and tier, the tier's k being the sum over its strata.
    tiers = {t.get("tier"): t for t in rec.get("tiers") or []}
    if [t.get("tier") for t in rec.get("tiers") or []] != TIERS:
        rep.bad("record", "tiers", [t.get("tier") for t in rec.get("tiers") or []], "must list tiers A, B, C, D in order")
    selected = rec.get("selected") or []
    sel_codes = [s["credit_code"] for s in selected]
    group_ratios = policy.get("group_ratios") or []
    strata = [stratum(policy, inspection_date, c) for c in cands]
    valid_groups = [i for i, g in enumerate(group_ratios) if group_valid(g, inspection_date)]
    group_counts = {i: [] for i in valid_groups}
    for t in TIERS:
        in_scope_t = [c for c, d in zip(cands, disp) if c["tier"] == t and d != "out-of-scope"]
        eligible = [c["credit_code"] for c, d in zip(cands, disp) if c["tier"] == t and d == "eligible"]
        pm = per_mille(policy, t, item["kind"])
        k = 0
        mine = []
        for s in range(1 + len(group_ratios)):
            elig_s = [c["credit_code"] for c, d, st in zip(cands, disp, strata) if c["tier"] == t and d == "eligible" and st == s]
            k_s = draw_size(policy["rounding"], per_mille(policy, t, item["kind"], s), len(elig_s))
            k += k_s
            mine += [m[1] for m in ticket_order(elig_s, seed)[:k_s]]
            if s and s - 1 in group_counts:
                in_s = [c for c, d, st in zip(cands, disp, strata) if c["tier"] == t and d != "out-of-scope" and st == s]
                group_counts[s - 1].append({
                    "tier": t,
                    "candidates": len(in_s),
                    "excluded": len(in_s) - len(elig_s),
                    "eligible": len(elig_s),
                    "per_mille": per_mille(policy, t, item["kind"], s),
                    "k": k_s,
                })
        mine.sort(key=lambda code: (full_ticket(seed, code), code))
        want = {
            "tier": t,
            "candidates": len(in_scope_t),
            "excluded": len(in_scope_t) - len(eligible),
            "eligible": len(eligible),
            "per_mille": pm,
            "k": k,
        }
        got = tiers.get(t, {})
        for f, v in want.items():
            if got.get(f) != v:
                rep.bad(f"record.tiers[{t}]", f, got.get(f), f"the rules give {v}")
        theirs = [s for s in selected if s.get("tier") == t]
        if mine != [s["credit_code"] for s in theirs]:
            missing = [m for m in mine if m not in set(s["credit_code"] for s in theirs)]
            extra = [s["credit_code"] for s in theirs if s["credit_code"] not in set(mine)]
            rep.bad(
                f"record.selected (tier {t})",
                "credit_code",
                ", ".join(extra) or "(order)",
                f"not the {k} smallest tickets: should have drawn {', '.join(missing) or 'them in ticket order'}",
            )
    want_groups = []
    for i in valid_groups:
        g = group_ratios[i]
        entry = {"basis": g["basis"], "district": g.get("district"), "industry": g.get("industry")}
        entry["tiers"] = group_counts[i]
        want_groups.append(entry)
    if (rec.get("groups") or []) != want_groups:
        rep.bad("record", "groups", json.dumps(rec.get("groups") or []), f"the group ratios give {json.dumps(want_groups)}")
    for i, s in enumerate(selected):
        code = s["credit_code"]
        c = by_code.get(code)
        if c is None:
            rep.bad(f"record.selected[{i}]", "credit_code", code, "not a candidate of the bundle")
            continue
        if s.get("tier") != c["tier"]:
            rep.bad(f"record.selected[{i}] {code}", "tier", s.get("tier"), f"the candidate's tier is `{c['tier']}`")
        full = full_ticket(seed, code)
        if s.get("ticket") != full:
            rep.bad(f"record.selected[{i}] {code}", "ticket", s.get("ticket"), f"the full ticket is `{full}`")
    if len(set(sel_codes)) != len(sel_codes):
        rep.bad("record", "selected", len(sel_codes), "an enterprise is drawn twice")
    keys = [(full_ticket(seed, c), c) for c in sel_codes]
    if keys != sorted(keys):
        at = next(i for i in range(1, len(keys)) if keys[i - 1] > keys[i])
        rep.bad(f"record.selected[{at}]", "credit_code", sel_codes[at], "the list is not in ascending ticket order")

    # Teams.
    staffed, unstaffed, lead_short = check_teams(rec, cands, roster, by_code, rep)

    # Publication deadline.
    try:
        cal = doc["calendar"]
        cal = {
            "years": set(cal["years"]),
            "holidays": set(day(d) for d in cal["holidays"]),
            "working_weekends": set(day(d) for d in cal["working_weekends"]),
        }
        want = publication_deadline(cal, inspection_date).isoformat()
        if doc.get("publication_deadline") != want:
            rep.bad("bundle", "publication_deadline", doc.get("publication_deadline"), f"the calendar gives `{want}`")
    except (KeyError, TypeError, ValueError) as e:
        rep.bad("bundle", "publication_deadline", doc.get("publication_deadline"), f"cannot be checked: {e}")

    return {
        "draw_id": rec.get("draw_id"),
        "departments": departments,
        "candidates": len(cands),
        "selected": len(selected),
        "k": [tiers.get(t, {}).get("k") for t in TIERS],
        "staffed": staffed,
        "unstaffed": unstaffed,
        "lead_short": lead_short,
    }


def static_pools(roster, item, inspection_date):
    """(department, jurisdiction) -> inspectors active, certified on the date and holding every
    qualification of the item, in roster order: what does not depend on the enterprise."""
    quals = item.get("qualifications") or []
    pools = {}
    for r in roster:
        if (
            r["active"]
            and day(r["certificate_expiry"]) >= inspection_date
            and all(q in (r.get("qualifications") or []) for q in quals)
        ):
            for j in r.get("jurisdictions") or []:
                pools.setdefault((r["department"], j), []).append(r)
    return pools


def eligible_pool(pools, dept, c):
    """Inspectors of `dept` who may go to `c` before the workload cap: the static pool of its
    jurisdiction without those who declared a conflict with its code or legal representative."""
    return [
        r["inspector_id"]
        for r in pools.get((dept, c["jurisdiction"]), [])
        if c["credit_code"] not in (r.get("conflict_enterprises") or [])
        and c["legal_representative"] not in (r.get("conflict_legal_representatives") or [])
    ]


def documented_team(rec, c, pools, load):
    """The team docs/draws.md step 7 gives `c` under the workload `load`: a list of member lists
    per department, or (None, department that fell short)."""
    policy = rec["policy"]
    cap = policy["max_assignments_per_inspector"]
    departments = rec["departments"]
    joint = len(departments) > 1
    last = set(c.get("last_team") or [])
    team = set()
    out = []
    for dept, need in zip(departments, team_sizes(policy, departments)):
        pool = eligible_pool(pools, dept, c)
        pool_seed = f"{rec['seed']}/{c['credit_code']}" + (f"/{dept}" if joint else "")
        members = []
        for _, ident, _ in ticket_order(pool, pool_seed):
            if len(members) == need:
                break
            if load.get(ident, 0) >= cap or ident in team:
                continue
            if last and team | {ident} == last:
                continue
            members.append(ident)
            team.add(ident)
        if len(members) < need:
            return None, dept
        out.append(members)
    return out, None


def check_teams(rec, cands, roster, by_code, rep):
    policy = rec["policy"]
    item = rec["item"]
    cap = policy["max_assignments_per_inspector"]
    departments = rec["departments"]
    sizes = team_sizes(policy, departments)
    inspection_date = day(rec["inspection_date"])
    quals = item.get("qualifications") or []
    by_id = {r["inspector_id"]: r for r in roster}
    pools = static_pools(roster, item, inspection_date)
    selected = rec.get("selected") or []
    teams = rec.get("teams") or []
    if len(teams) != len(selected):
        rep.bad("record", "teams", len(teams), f"{len(selected)} enterprises are drawn, one team outcome each")
    load = {}
    staffed = unstaffed = lead_short = 0
    for i, (s, t) in enumerate(zip(selected, teams)):
        code = t.get("credit_code")
        where = f"record.teams[{i}] {code}"
        if code != s.get("credit_code"):
            rep.bad(where, "credit_code", code, f"the enterprise drawn in position {i} is `{s.get('credit_code')}`")
            continue
        c = by_code.get(code)
        if c is None:
            continue
        outcome = t.get("outcome") or {}
        want, short = documented_team(rec, c, pools, load)
        if outcome.get("status") == "unstaffed":
            unstaffed += 1
            reason = outcome.get("reason", "")
            if want is not None:
                rep.bad(
                    where,
                    "outcome",
                    "unstaffed",
                    "could be staffed: the documented choice is " + "; ".join(f"{d}: {', '.join(m)}" for d, m in zip(departments, want)),
                )
            else:
                if short == departments[0] and len(departments) > 1:
                    lead_short += 1
                named = reason.split("`")[1] if reason.count("`") >= 2 else None
                if named != short:
                    rep.bad(where, "reason", reason, f"the first department to fall short is `{short}`")
            continue
        if outcome.get("status") != "staffed":
            rep.bad(where, "outcome.status", outcome.get("status"), "must be `staffed` or `unstaffed`")
            continue
        staffed += 1
        listed = outcome.get("departments") or []
        if [d.get("department") for d in listed] != departments:
            rep.bad(where, "departments", [d.get("department") for d in listed], f"the draw's departments are {departments}, the lead first")
        members = []
        for di, dm in enumerate(listed):
            dept = dm.get("department")
            ms = dm.get("members") or []
            if di < len(sizes) and len(ms) != sizes[di]:
                role = "lead" if di == 0 and len(departments) > 1 else ("partner" if len(departments) > 1 else "only")
                rep.bad(where, f"departments[{di}].members", len(ms), f"the {role} department `{dept}` sends {sizes[di]}")
            for mi, m in enumerate(ms):
                f = f"departments[{di}].members[{mi}]"
                members.append(m)
                r = by_id.get(m)
                if r is None:
                    rep.bad(where, f, m, "not on the roster")
                    continue
                if r["department"] != dept:
                    rep.bad(where, f, m, f"belongs to department `{r['department']}`, listed for `{dept}`")
                if not r["active"]:
                    rep.bad(where, f, m, "not active")
                if day(r["certificate_expiry"]) < inspection_date:
                    rep.bad(where, f, m, f"certificate expired on {r['certificate_expiry']}, before the inspection on {rec['inspection_date']}")
                if c["jurisdiction"] not in (r.get("jurisdictions") or []):
                    rep.bad(where, f, m, f"does not cover jurisdiction `{c['jurisdiction']}`")
                missing = [q for q in quals if q not in (r.get("qualifications") or [])]
                if missing:
                    rep.bad(where, f, m, f"lacks qualifications {missing}")
                if code in (r.get("conflict_enterprises") or []):
                    rep.bad(where, f, m, "declared a conflict with the enterprise")
                if c["legal_representative"] in (r.get("conflict_legal_representatives") or []):
                    rep.bad(where, f, m, f"declared a conflict with legal representative `{c['legal_representative']}`")
                if load.get(m, 0) >= cap:
                    rep.bad(where, f, m, f"already on {load.get(m, 0)} teams of this draw: the workload cap is {cap}")
        if len(set(members)) != len(members):
            rep.bad(where, "members", ", ".join(members), "an inspector is listed twice")
        last = set(c.get("last_team") or [])
        if last and set(members) == last:
            rep.bad(where, "members", ", ".join(sorted(members)), "exactly the enterprise's last team")
        if want is None:
            rep.bad(where, "outcome", "staffed", f"department `{short}` cannot send its members under the documented rules")
        elif [dm.get("members") for dm in listed] != want:
            rep.bad(
                where,
                "members",
                "; ".join(f"{dm.get('department')}: {', '.join(dm.get('members') or [])}" for dm in listed),
                "not the documented ticket-order choice, which is " + "; ".join(f"{d}: {', '.join(m)}" for d, m in zip(departments, want)),
            )
        for m in members:
            load[m] = load.get(m, 0) + 1
    return staffed, unstaffed, lead_short


def main(argv):
    ap = argparse.ArgumentParser(description="Independent checker of creditrisk draw bundles (docs/draws.md).")
    ap.add_argument("bundles", nargs="+", help="bundle.json files exported by `creditrisk draw export`")
    ap.add_argument("--max-violations", type=int, default=200, help="violations printed per bundle (default 200)")
    args = ap.parse_args(argv)
    status = 0
    for path in args.bundles:
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            rep = Report()
            s = check_bundle(doc, rep)
        except (OSError, ValueError, Unreadable) as e:
            print(f"{path}: UNREADABLE: {e}")
            status = max(status, 2)
            continue
        joint = " joint" if len(s["departments"]) > 1 else ""
        print(
            f"{path}: draw `{s['draw_id']}`{joint} ({', '.join(s['departments'])}): "
            f"{s['candidates']} candidates, k per tier A-D {s['k']}, {s['selected']} drawn, "
            f"{s['staffed']} staffed, {s['unstaffed']} unstaffed"
            + (f" ({s['lead_short']} lead department short)" if joint else "")
        )
        if rep.violations:
            print(f"{path}: FAILED with {len(rep.violations)} violations:")
            print("\n".join(rep.lines(args.max_violations)))
            status = max(status, 1)
        else:
            print(f"{path}: OK: selection, tickets, teams and deadline follow from the published inputs")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
