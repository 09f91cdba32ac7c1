#!/usr/bin/env python3
"""Summary of interleaved peer rounds (tools/peers --rounds N).

Reads the result lines the shared harness prints (workload=... impl=... rate=... key=value ...),
one per implementation and round, from the files given (or stdin), and prints for each workload:

  - each implementation's median over the rounds of its rate, with the min-max of the rates, and
    the medians of p50, p99 and RSS where its lines carry them (p50_ms/p99_ms for http-server,
    p50_us/p99_us for echo and coreio's http-client, server_rss_kb or peak_rss_kb);
  - for coreio, how many rounds it was at least as fast as the fastest other implementation of the
    same round, and in how many of those its p99 was no worse than that implementation's (the
    issues' criterion: "at least the fastest of them in the same run, with p99 no worse than its");
    where that implementation reports no p99 (the other http-client peers), the rate alone counts.

A line whose valid= is not "yes" is left out and counted. Rounds are numbered by the order in which
an implementation's lines appear (its k-th line belongs to round k).

    python3 bench/peers/rounds.py build/peers-rounds/*.txt

Python 3 standard library only.
"""

import argparse
import statistics
import sys
from collections import defaultdict


def fields(line):
    out = {}
    for item in line.split():
        if "=" in item:
            key, _, value = item.partition("=")
            out[key] = value
    return out


def number(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def first_key(rec, keys):
    for k in keys:
        if k in rec and number(rec[k]) is not None:
            return k
    return None


def latency_ms(rec, pct):
    """The pct ("p50", "p99") latency of a result line in ms, from <pct>_ms or <pct>_us."""
    if number(rec.get(pct + "_ms")) is not None:
        return float(rec[pct + "_ms"])
    if number(rec.get(pct + "_us")) is not None:
        return float(rec[pct + "_us"]) / 1000.0
    return None


def fmt_rate(r):
    return f"{r / 1000:.1f}k" if r >= 1000 else f"{r:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", help="harness outputs (default: stdin)")
    args = ap.parse_args()

    # rounds[workload][impl] = list of records in order
    rounds = defaultdict(lambda: defaultdict(list))
    invalid = defaultdict(int)
    streams = [open(f, encoding="utf-8") for f in args.files] if args.files else [sys.stdin]
    for stream in streams:
        for raw in stream:
            line = raw.strip()
            if line.startswith("#run"):
                line = line.split(":", 1)[1].strip() if ":" in line else ""
            if not line.startswith("workload="):
                continue
            if "runs=" in line:
                continue  # a median line of run.sh: the #run line before it was taken already
            rec = fields(line)
            if rec.get("valid", "yes") != "yes" or number(rec.get("rate")) is None:
                invalid[(rec.get("workload"), rec.get("impl"))] += 1
                continue
            rounds[rec["workload"]][rec["impl"]].append(rec)

    for workload, impls in rounds.items():
        n = max(len(v) for v in impls.values())
        print(f"# {workload}: {n} interleaved rounds (medians; rates min-max)")
        print(f"{'impl':<8} {'rate':>9} {'min-max':>17} {'p50 ms':>8} {'p99 ms':>8} {'p99 min-max':>15} {'RSS kB':>8}")
        for impl, recs in impls.items():
            rates = [float(r["rate"]) for r in recs]
            p50s = [x for x in (latency_ms(r, "p50") for r in recs) if x is not None]
            p99s = [x for x in (latency_ms(r, "p99") for r in recs) if x is not None]
            rss_key = first_key(recs[0], ["server_rss_kb", "peak_rss_kb", "self_rss_kb"])
            rss = [float(r[rss_key]) for r in recs if rss_key and number(r.get(rss_key)) is not None]
            line = f"{impl:<8} {fmt_rate(statistics.median(rates)):>9} "
            line += f"{fmt_rate(min(rates)) + '-' + fmt_rate(max(rates)):>17} "
            line += f"{statistics.median(p50s):8.3f} " if p50s else f"{'':>8} "
            if p99s:
                line += f"{statistics.median(p99s):8.3f} {f'{min(p99s):.2f}-{max(p99s):.2f}':>15} "
            else:
                line += f"{'':>8} {'':>15} "
            line += f"{statistics.median(rss):8.0f}" if rss else ""
            bad = invalid.get((workload, impl), 0)
            if bad:
                line += f"  ({bad} invalid round(s) left out)"
            print(line)
        if "coreio" in impls and len(impls) > 1:
            mine = impls["coreio"]
            faster = with_tail = counted = 0
            for k, rec in enumerate(mine):
                others = [v[k] for i, v in impls.items() if i != "coreio" and k < len(v)]
                if not others:
                    continue
                counted += 1
                best = max(others, key=lambda r: float(r["rate"]))
                if float(rec["rate"]) >= float(best["rate"]):
                    faster += 1
                    a, b = latency_ms(rec, "p99"), latency_ms(best, "p99")
                    if a is not None and (b is None or a <= b):
                        with_tail += 1
            print(f"coreio at least as fast as the fastest other in {faster} of {counted} rounds, "
                  f"with p99 no worse than its in {with_tail}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
