#!/usr/bin/env python3
"""What the tracer costs: the same workloads with its hooks compiled out, compiled in but off, on.

    python3 bench/trace_cost.py build/release/bench [--rounds 5] [--out FILE.json]

Runs bench/trace_cost.cpp's two builds, coreio_trace_cost (hooks in) and coreio_trace_cost_notrace
(hooks compiled out), in interleaved rounds, three ways: compiled out; compiled in and off; on
(COREIO_TRACE set to a temporary file, written at shutdown, deleted after). Workloads: skynet 10^7
(fork-join, 11,111,111 tasks, 2 workers) and a loopback TCP echo inside the process (20
connections x 10,000 round trips of 64 bytes, 2 workers): runs of 0.3-2 s, since 20 ms ones
(skynet 10^6) scattered by 10% from round to round on the 2-core VM. For each: median rate and thread time
per item (CPU time of the process / items), and the ratio to compiled out; and instructions per
item at 1 worker under callgrind (the difference of two sizes: skynet 10^5 and 10^4 leaves, echo
20 x 2,000 and 20 x 500 round trips, so start-up cancels out; the program stops the count before
its shutdown, which writes the trace file), which is repeatable on a noisy machine.
Python 3 standard library only; skips the callgrind part, saying so, without valgrind.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile

import measure  # bench/measure.py, beside this script

WORKLOADS = [("skynet", ["skynet", "10000000"]), ("echo", ["echo", "20", "10000"])]
VARIANTS = ["compiled out", "off", "on"]


def skynet_tasks(leaves):
    total, level = 0, 1
    while level <= leaves:
        total += level
        level *= 10
    return total


def command(bench_dir, variant):
    name = "coreio_trace_cost_notrace" if variant == "compiled out" else "coreio_trace_cost"
    return os.path.join(bench_dir, name)


def environment(variant, trace_file):
    env = dict(os.environ)
    env.pop("COREIO_TRACE", None)
    if variant == "on":
        env["COREIO_TRACE"] = trace_file
    return env


def run_once(bench_dir, variant, args, trace_file, threads=2):
    fields = measure.result_fields([command(bench_dir, variant), "--threads", str(threads), *args],
                                   environment(variant, trace_file))
    if fields.get("tracing") != ("1" if variant == "on" else "0"):
        raise RuntimeError(f"{variant}: the program reports tracing={fields.get('tracing')}")
    return float(fields["rate"]), float(fields["thread_ns_per_op"])


def instructions(bench_dir, variant, wargs, trace_file):
    # The program stops the count before its shutdown, which writes the trace file.
    return measure.instructions([command(bench_dir, variant), "--threads", "1", *wargs],
                                environment(variant, trace_file))


# Instructions per item at 1 worker: the difference of two sizes over the difference of items.
INSTR_SIZES = {
    "skynet": ((["skynet", "100000"], skynet_tasks(100000)), (["skynet", "10000"],
                                                              skynet_tasks(10000))),
    "echo": ((["echo", "20", "2000"], 40000), (["echo", "20", "500"], 10000)),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench_dir", help="the directory holding coreio_trace_cost[_notrace]")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out")
    args = ap.parse_args()
    for v in ("off", "compiled out"):
        if not os.access(command(args.bench_dir, v), os.X_OK):
            print(f"trace_cost.py: {command(args.bench_dir, v)} is missing", file=sys.stderr)
            return 1

    with tempfile.TemporaryDirectory() as tmp:
        trace_file = os.path.join(tmp, "trace.json")
        samples = {}
        for _ in range(args.rounds):
            for workload, wargs in WORKLOADS:
                for variant in VARIANTS:
                    rate, ns = run_once(args.bench_dir, variant, wargs, trace_file)
                    s = samples.setdefault((workload, variant), {"rate": [], "ns": []})
                    s["rate"].append(rate)
                    s["ns"].append(ns)
        instr = {}
        if shutil.which("valgrind"):
            for workload, ((big, n_big), (small, n_small)) in INSTR_SIZES.items():
                for variant in VARIANTS:
                    diff = (instructions(args.bench_dir, variant, big, trace_file) -
                            instructions(args.bench_dir, variant, small, trace_file))
                    instr[(workload, variant)] = diff / (n_big - n_small)
        else:
            print("trace_cost.py: valgrind is not installed: no instruction counts", file=sys.stderr)

    rows = []
    print(f"{'workload':8} {'tracer':>13} {'items/s median':>15} {'thread ns/item':>15} "
          f"{'x compiled out':>15} {'instr/item (1w)':>16}")
    for workload, _ in WORKLOADS:
        base = statistics.median(samples[(workload, "compiled out")]["ns"])
        for variant in VARIANTS:
            s = samples[(workload, variant)]
            ns = statistics.median(s["ns"])
            row = {"workload": workload, "tracer": variant,
                   "rate_median": statistics.median(s["rate"]),
                   "rate_min": min(s["rate"]), "rate_max": max(s["rate"]),
                   "thread_ns_per_item": ns, "thread_time_ratio": ns / base,
                   "instructions_per_item_1_worker": instr.get((workload, variant))}
            rows.append(row)
            ins = row["instructions_per_item_1_worker"]
            print(f"{workload:8} {variant:>13} {row['rate_median']:>15.0f} {ns:>15.1f} "
                  f"{ns / base:>15.3f} {'-' if ins is None else f'{ins:.0f}':>16}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
