#!/usr/bin/env python3
"""Per-task cost of fork-join: rate, thread time and instructions per task for fib and skynet.

    python3 bench/per_task.py build/release/bench/coreio_peer [--rounds 5] [--out FILE.json]

Runs the peer program (bench/peers/coreio_peer.cpp) of the shared peers harness:
  - wall-clock rate (tasks/s) and thread time per task (CPU time of every thread of the process
    over the run, divided by the tasks) at 1 and 2 workers, min-max and median over --rounds
    interleaved rounds;
  - instructions per task at 1 worker under valgrind's callgrind, which counts instructions
    repeatably on a noisy machine: the difference between two sizes of the same workload divided
    by the difference in tasks, so start-up and shutdown cancel out.
Tasks as the peers harness counts them (shared/peers/README.md): fib(N) makes every call a task
(1,664,079 for N = 30), skynet LEAVES makes 1,111,111 tasks for 10^6 leaves.
Skips the callgrind part, saying so, when valgrind is not installed. Python 3 standard library only.
"""

import argparse
import json
import shutil
import statistics
import sys

import measure  # bench/measure.py, beside this script


def fib_tasks(n):
    prev, cur = 1, 1
    for _ in range(3, n + 1):
        prev, cur = cur, 1 + cur + prev
    return cur


def skynet_tasks(leaves):
    total, level = 0, 1
    while level <= leaves:
        total += level
        level *= 10
    return total


# (workload, argument for timing, two arguments for the callgrind difference, tasks(arg))
WORKLOADS = [
    ("fib", 30, (22, 25), fib_tasks),
    ("skynet", 1000000, (10000, 100000), skynet_tasks),
]


def run_peer(peer, threads, workload, arg):
    fields = measure.result_fields([peer, "--threads", str(threads), workload, str(arg)])
    return float(fields["rate"]), float(fields["thread_ns_per_op"])


def instructions(peer, workload, arg):
    return measure.instructions([peer, "--threads", "1", workload, str(arg)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("peer")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out")
    args = ap.parse_args()

    samples = {}
    for _ in range(args.rounds):
        for workload, arg, _, _ in WORKLOADS:
            for threads in (1, 2):
                rate, ns = run_peer(args.peer, threads, workload, arg)
                s = samples.setdefault((workload, threads), {"rate": [], "ns": []})
                s["rate"].append(rate)
                s["ns"].append(ns)

    have_valgrind = shutil.which("valgrind") is not None
    instr = {}
    if have_valgrind:
        for workload, _, (small, large), tasks in WORKLOADS:
            diff = instructions(args.peer, workload, large) - instructions(args.peer, workload, small)
            instr[workload] = diff / (tasks(large) - tasks(small))

    rows = []
    print(f"{'workload':8} {'workers':>7} {'tasks/s median':>15} {'min-max':>17} "
          f"{'thread ns/task':>15} {'instr/task (1w)':>16}")
    for (workload, threads), s in samples.items():
        row = {
            "workload": workload, "threads": threads,
            "rate_median": statistics.median(s["rate"]), "rate_min": min(s["rate"]),
            "rate_max": max(s["rate"]), "thread_ns_per_task": statistics.median(s["ns"]),
            "instructions_per_task_1_worker": instr.get(workload),
        }
        rows.append(row)
        ins = f"{instr[workload]:.0f}" if workload in instr else "-"
        print(f"{workload:8} {threads:>7} {row['rate_median'] / 1e6:>14.1f}M "
              f"{row['rate_min'] / 1e6:>7.1f}-{row['rate_max'] / 1e6:.1f}M "
              f"{row['thread_ns_per_task']:>15.1f} {ins:>16}")
    if not have_valgrind:
        print("per_task.py: valgrind is not installed: no instruction counts", file=sys.stderr)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
