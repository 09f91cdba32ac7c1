#!/usr/bin/env python3
"""Side-by-side summary of coreio's Google Benchmark results.

Reads the JSON files written by the bench executables
(--benchmark_out=<file>.json --benchmark_out_format=json), pairs each
<area>/<workload>/coreio/threads:<n> with <area>/<workload>/asio/threads:<n>,
prints one table row per (workload, threads) and writes the rows as JSON.

    python3 bench/summary.py build/release/bench/*.json --out build/release/bench-summary.json

The "asio" side is each area's baseline: the plain-Asio pool for sched and timer,
asio::thread_pool + std::promise/std::future for blocking (coreio::to_thread), and for
http_parse llhttp alone with no callbacks on the same bytes (registered as "llhttp",
shown in the asio columns).

Figures are medians over repetitions (the *_median aggregates; when a file
holds only plain runs, the median of those runs), except rss_growth_kb, which
is the largest over repetitions (the *_max aggregate).
Python 3 standard library only.
"""

import argparse
import json
import os
import re
import statistics
import sys

# Name components Google Benchmark appends to a registered name.
_SUFFIX = re.compile(r"^(iterations|repeats|min_time|min_warmup_time|real_time|manual_time|process_time)(:.*)?$")


def parse_name(run_name):
    """'sched/fib/coreio/threads:2/iterations:3/...' -> (area, workload, impl, threads)."""
    parts = [p for p in run_name.split("/") if not _SUFFIX.match(p)]
    threads = None
    rest = []
    for p in parts:
        m = re.fullmatch(r"threads:(\d+)", p)
        if m and threads is None:
            threads = int(m.group(1))
        else:
            rest.append(p)
    if len(rest) < 3 or threads is None:
        return None
    area, workload, impl = rest[0], "/".join(rest[1:-1]), rest[-1]
    return area, workload, impl, threads


def load(paths):
    """Returns {(area, workload, impl, threads): {field: value}} from the files."""
    samples = {}  # key -> {"median": {...}, "stddev": {...}, "runs": [ {...}, ... ]}
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print(f"summary.py: skipping {path}: {e}", file=sys.stderr)
            continue
        for b in doc.get("benchmarks", []):
            key = parse_name(b.get("run_name") or b.get("name", ""))
            if key is None:
                continue
            slot = samples.setdefault(key, {"runs": []})
            if b.get("error_occurred"):
                msg = b.get("error_message", "error")
                if slot.get("error") != msg:
                    print(f"summary.py: {b.get('name')}: {msg}", file=sys.stderr)
                slot["error"] = msg
                continue
            if b.get("run_type") == "aggregate":
                agg = b.get("aggregate_name")
                if agg in ("median", "stddev", "cv", "mean", "max"):
                    slot[agg] = b
            else:
                slot["runs"].append(b)
    return samples


def field(slot, name, agg="median"):
    """Median (or another aggregate) of one numeric field, or None."""
    b = slot.get(agg)
    if b is not None and name in b:
        return float(b[name])
    vals = [float(r[name]) for r in slot.get("runs", []) if name in r]
    if vals and agg == "median":
        return statistics.median(vals)
    if vals and agg == "max":
        return max(vals)
    return None


# Areas whose baseline is registered under another name than "asio".
_BASELINE = {"http_parse": "llhttp"}


def build_rows(samples):
    rows = {}
    for (area, workload, impl, threads), slot in samples.items():
        if impl == _BASELINE.get(area):
            impl = "asio"
        if impl not in ("coreio", "asio"):
            continue
        row = rows.setdefault((area, workload, threads), {
            "area": area, "workload": workload, "threads": threads,
        })
        row[f"{impl}_items_per_second"] = field(slot, "items_per_second")
        row[f"{impl}_items_per_second_cv"] = field(slot, "items_per_second", "cv")
        row[f"{impl}_ns_per_task_thread"] = field(slot, "ns_per_task_thread")
        # Peak over repetitions: later repetitions reuse memory the allocator kept.
        rss = field(slot, "rss_growth_kb", "max")
        row[f"{impl}_rss_growth_kb"] = rss if rss is not None else field(slot, "rss_growth_kb")
        row[f"{impl}_real_time_ms"] = field(slot, "real_time")
        if "error" in slot:
            row[f"{impl}_error"] = slot["error"]
    out = []
    for key in sorted(rows, key=lambda k: (k[0], k[1], k[2])):
        row = rows[key]
        c = row.get("coreio_items_per_second")
        a = row.get("asio_items_per_second")
        row["ratio_coreio_over_asio"] = (c / a) if c and a else None
        out.append(row)
    return out


def fmt_rate(v, error=None):
    if error is not None:
        return "ERROR"
    if v is None:
        return "-"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{v / scale:.2f}{unit}/s"
    return f"{v:.1f}/s"


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def print_table(rows, out=sys.stdout):
    head = ("workload", "threads", "coreio items/s", "asio items/s", "coreio/asio",
            "coreio ns/task thr", "asio ns/task thr", "coreio rss+kB", "asio rss+kB")
    table = [head]
    for r in rows:
        table.append((
            f"{r['area']}/{r['workload']}",
            str(r["threads"]),
            fmt_rate(r.get("coreio_items_per_second"), r.get("coreio_error")),
            fmt_rate(r.get("asio_items_per_second"), r.get("asio_error")),
            fmt(r.get("ratio_coreio_over_asio"), ".2f"),
            fmt(r.get("coreio_ns_per_task_thread"), ".0f"),
            fmt(r.get("asio_ns_per_task_thread"), ".0f"),
            fmt(r.get("coreio_rss_growth_kb"), ".0f"),
            fmt(r.get("asio_rss_growth_kb"), ".0f"),
        ))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for n, row in enumerate(table):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        print("  ".join(cells), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="Google Benchmark JSON output files")
    ap.add_argument("--out", default="build/bench-summary.json",
                    help="where to write the summary JSON (default: %(default)s)")
    args = ap.parse_args(argv)

    rows = build_rows(load(args.files))
    if not rows:
        print("summary.py: no coreio/asio benchmark results found", file=sys.stderr)
        return 1
    print_table(rows)
    out_dir = os.path.dirname(args.out)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"source_files": args.files, "statistic": "median over repetitions (rss_growth_kb: max)",
                   "rows": rows}, f, indent=2)
        f.write("\n")
    print(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
