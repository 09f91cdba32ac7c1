"""measure.py — what bench/per_task.py and bench/trace_cost.py share: running a workload program
that prints one `key=value ...` result line, and counting its instructions under valgrind's
callgrind (repeatable on a noisy machine, unlike a clock). Python 3 standard library only."""

import re
import subprocess


def result_fields(argv, env=None):
    """Runs argv and returns its result line's fields as {key: text}; raises if it has no
    checksum (the program did not finish the workload)."""
    out = subprocess.run(argv, check=True, capture_output=True, text=True, env=env).stdout
    fields = dict(kv.split("=", 1) for kv in out.split() if "=" in kv)
    if fields.get("checksum") is None:
        raise RuntimeError(f"no result line from {argv[0]}: {out!r}")
    return fields


def instructions(argv, env=None):
    """Instructions argv executes under callgrind (counted until the program ends, or until it
    stops the count itself with a callgrind client request)."""
    res = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
                         check=True, capture_output=True, text=True, env=env)
    m = re.search(r"Collected\s*:\s*(\d+)", res.stderr)
    if not m:
        raise RuntimeError("callgrind printed no instruction count")
    return int(m.group(1))
