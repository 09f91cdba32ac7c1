#!/usr/bin/env python3
"""Bar chart of `tools/dev bench`'s comparison table: coreio beside its plain-Asio baseline.

    /usr/bin/python3 bench/chart.py build/bench-summary.json --out build/bench-chart
        -> build/bench-chart.svg and build/bench-chart.png

Input: the rows bench/summary.py writes (one per workload and thread count, each with
coreio_items_per_second and, where the area has one, asio_items_per_second). Output: one
horizontal bar pair per row with both rates (items/s, log scale, so that fork-join at tens of
millions and blocking round trips at tens of thousands share an axis), each pair labelled with the
ratio coreio/asio; rows without a rate (the latency workloads report times, not rates) are left
out and named on stderr. Needs matplotlib (Debian's python3-matplotlib, installed by
`tools/dev setup`; Debian's interpreter is /usr/bin/python3). Exit status 1 when the input has no
row with a rate.
"""

import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")  # files only: no display on a build machine
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)


def chart_rows(rows):
    """The rows that carry a coreio rate, as (label, coreio/s, asio/s or None, ratio or None)."""
    kept, skipped = [], []
    for r in rows:
        label = f"{r['area']}/{r['workload']} ({r['threads']} thr)"
        rate = r.get("coreio_items_per_second")
        if not rate:
            skipped.append(label)
            continue
        kept.append((label, rate, r.get("asio_items_per_second"), r.get("ratio_coreio_over_asio")))
    return kept, skipped


def draw(kept, out):
    height = 0.38
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(kept) + 1.4))
    ys = list(range(len(kept)))
    ax.barh([y - height / 2 for y in ys], [k[1] for k in kept], height, label="coreio", color="#2b7bba")
    asio = [(y, k[2]) for y, k in zip(ys, kept) if k[2]]
    ax.barh([y + height / 2 for y, _ in asio], [a for _, a in asio], height, label="plain Asio",
            color="#b0b0b0")
    for y, k in zip(ys, kept):
        if k[3]:
            ax.text(k[1] * 1.08, y - height / 2, f"{k[3]:.2f}×", va="center", fontsize=8)
    ax.set_yticks(ys)
    ax.set_yticklabels([k[0] for k in kept], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("items per second (log scale; label: coreio / Asio)")
    ax.set_title("tools/dev bench: coreio beside plain Asio (medians)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", which="major", alpha=0.3)
    fig.tight_layout()
    for ext in ("svg", "png"):
        fig.savefig(f"{out}.{ext}", dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("summary", help="bench/summary.py's JSON output")
    ap.add_argument("--out", required=True, help="output path without extension")
    args = ap.parse_args()
    with open(args.summary, encoding="utf-8") as f:
        rows = json.load(f)["rows"]
    kept, skipped = chart_rows(rows)
    if skipped:
        print("chart: no rate (left out): " + ", ".join(skipped), file=sys.stderr)
    if not kept:
        print("chart: no row with a rate in " + args.summary, file=sys.stderr)
        return 1
    draw(kept, args.out)
    print(f"chart: {args.out}.svg, {args.out}.png ({len(kept)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
