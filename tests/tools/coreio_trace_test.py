#!/usr/bin/env python3
"""tools/coreio-trace against a small trace whose answers are known: busy time and polls per
worker, names by poll time, the steal matrix, the longest polls with their spawn place,
wake-to-poll by worker and by task name, and an SVG
that parses as XML with one bar per poll and per park. Run by CTest (label "tools")."""

import json
import os
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "coreio-trace")

TRACE = {"displayTimeUnit": "ns", "traceEvents": [
    {"ph": "M", "name": "process_name", "pid": 1, "tid": 0, "ts": 0, "args": {"name": "coreio"}},
    {"ph": "M", "name": "thread_name", "pid": 1, "tid": 0, "ts": 0, "args": {"name": "worker 0"}},
    {"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "ts": 0, "args": {"name": "worker 1"}},
    {"ph": "X", "cat": "poll", "name": "fetch", "pid": 1, "tid": 0, "ts": 0.0, "dur": 10.0,
     "args": {"task": 1, "spawned_at": "scraper.cpp:12"}},
    {"ph": "X", "cat": "poll", "name": "fetch", "pid": 1, "tid": 0, "ts": 30.0, "dur": 20.0,
     "args": {"task": 1, "spawned_at": "scraper.cpp:12", "timing": "interpolated"}},
    {"ph": "X", "cat": "poll", "name": "parse", "pid": 1, "tid": 1, "ts": 15.0, "dur": 85.0,
     "args": {"task": 2}},
    {"ph": "X", "cat": "park", "name": "park", "pid": 1, "tid": 0, "ts": 50.0, "dur": 40.0},
    {"ph": "i", "cat": "sched", "name": "steal", "pid": 1, "tid": 1, "ts": 14.0, "s": "t",
     "args": {"from": 0, "tasks": 3}},
    {"ph": "s", "cat": "spawn", "name": "spawn", "pid": 1, "tid": 0, "ts": 1.0, "id": 1},
]}


class CoreioTraceTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.trace = os.path.join(self.dir.name, "t.json")
        with open(self.trace, "w", encoding="utf-8") as f:
            json.dump(TRACE, f)

    def tearDown(self):
        self.dir.cleanup()

    def run_tool(self, *args):
        return subprocess.run([sys.executable, TOOL, self.trace, *args], check=True,
                              capture_output=True, text=True)

    def test_summary_counts_match_the_trace(self):
        s = json.loads(self.run_tool("--json").stdout)
        self.assertEqual(s["span_us"], 100.0)
        w0, w1 = s["workers"]
        self.assertEqual((w0["name"], w0["polls"], w0["busy_us"], w0["parks"]), ("worker 0", 2, 30.0, 1))
        self.assertEqual((w1["name"], w1["polls"], w1["busy_us"], w1["parks"]), ("worker 1", 1, 85.0, 0))
        self.assertAlmostEqual(w1["busy_pct"], 85.0)
        self.assertEqual([(r["name"], r["polls"]) for r in s["top_names"]], [("parse", 1), ("fetch", 2)])
        self.assertEqual(s["steals"], [{"thief": 1, "victim": 0, "tasks": 3}])
        self.assertEqual(s["longest_polls"][0]["name"], "parse")
        self.assertEqual(s["longest_polls"][1]["spawned_at"], "scraper.cpp:12")
        self.assertEqual([r["interpolated"] for r in s["longest_polls"]], [False, True, False])

    def test_text_summary_names_every_worker(self):
        out = self.run_tool().stdout
        self.assertIn("worker 0", out)
        self.assertIn("worker 1", out)
        self.assertIn("1 <- 0: 3", out)
        self.assertIn("spawned at scraper.cpp:12", out)
        self.assertEqual(out.count("(a batch's mean: interpolated)"), 1)

    def test_wake_to_poll_splits_by_the_worker_that_polled(self):
        # Task 1: IO completes on worker 0 at 20 and its poll starts there at 30 (10 us, same
        # worker), then again at 100 with the poll at 400 on worker 1 (300 us, other worker).
        # Task 2: its sleep fires on worker 1 at 5, polled there at 1505 (1500 us, same worker).
        # A wake flow from worker 0 at 40 ends at a poll on worker 1 at 60 (20 us, other worker).
        # An IO completion after the task's last poll has no latency (the trace ends first).
        poll = lambda task, tid, ts: {"ph": "X", "cat": "poll", "name": "t", "pid": 1, "tid": tid,
                                      "ts": ts, "dur": 1.0, "args": {"task": task}}
        ready = lambda cat, task, tid, ts: {"ph": "i", "cat": cat, "name": cat, "pid": 1,
                                            "tid": tid, "ts": ts, "s": "t", "args": {"task": task}}
        events = [poll(1, 0, 30.0), poll(1, 1, 400.0), poll(2, 1, 1505.0), poll(3, 1, 60.0),
                  ready("io", 1, 0, 20.0), ready("io", 1, 0, 100.0), ready("timer", 2, 1, 5.0),
                  ready("io", 2, 1, 2000.0),
                  {"ph": "s", "cat": "wake", "name": "wake", "pid": 1, "tid": 0, "ts": 40.0, "id": 9},
                  {"ph": "f", "cat": "wake", "name": "wake", "pid": 1, "tid": 1, "ts": 60.0, "id": 9,
                   "bp": "e"}]
        with open(self.trace, "w", encoding="utf-8") as f:
            json.dump({"traceEvents": events}, f)
        rows = {r["where"]: r for r in json.loads(self.run_tool("--json").stdout)["wake_to_poll"]}
        same, other = rows["same worker"], rows["other worker"]
        self.assertEqual((same["count"], same["p50_us"], same["max_us"], same["over_1ms"]),
                         (2, 1500.0, 1500.0, 1))
        self.assertEqual((other["count"], other["p50_us"], other["max_us"], other["over_1ms"]),
                         (2, 300.0, 300.0, 0))
        self.assertIn("wake-to-poll", self.run_tool().stdout)

    def test_wake_to_poll_by_name_puts_the_slowest_to_run_first(self):
        # "accept" is made ready by IO three times and polled 9000, 10000 and 11000 us later each
        # time; "conn" tasks 10 us after theirs: accept leads the list, with its own percentiles.
        poll = lambda name, task, ts: {"ph": "X", "cat": "poll", "name": name, "pid": 1, "tid": 0,
                                       "ts": ts, "dur": 1.0, "args": {"task": task}}
        io = lambda task, ts: {"ph": "i", "cat": "io", "name": "io completed", "pid": 1, "tid": 0,
                               "ts": ts, "s": "t", "args": {"task": task}}
        events = []
        for k, wait in enumerate((9000.0, 10000.0, 11000.0)):
            t0 = 100000.0 * k
            events += [io(1, t0), poll("accept", 1, t0 + wait)]
            for c in range(5):
                events += [io(10 + c, t0 + c), poll("conn", 10 + c, t0 + c + 10.0)]
        with open(self.trace, "w", encoding="utf-8") as f:
            json.dump({"traceEvents": events}, f)
        rows = json.loads(self.run_tool("--json").stdout)["wake_to_poll_by_name"]
        self.assertEqual([r["name"] for r in rows], ["accept", "conn"])
        self.assertEqual((rows[0]["count"], rows[0]["p50_us"], rows[0]["max_us"]), (3, 10000.0, 11000.0))
        self.assertEqual((rows[1]["count"], rows[1]["max_us"]), (15, 10.0))
        self.assertIn("wake-to-poll by task name", self.run_tool().stdout)

    def test_svg_has_a_bar_per_poll_and_park(self):
        path = os.path.join(self.dir.name, "t.svg")
        self.run_tool("--svg", path)
        root = ET.parse(path).getroot()
        ns = "{http://www.w3.org/2000/svg}"
        titled = [r for r in root.iter(ns + "rect") if r.find(ns + "title") is not None]
        self.assertEqual(len(titled), 4)  # 3 polls + 1 park
        tips = " ".join(r.find(ns + "title").text for r in titled)
        self.assertIn("fetch (task 1)", tips)
        self.assertIn("spawned at scraper.cpp:12", tips)

    def test_a_long_trace_sums_narrow_polls_per_pixel_column(self):
        # 20,000 polls of 2 µs every 5 µs on one worker, and one 10 ms poll: the long one keeps its
        # own bar; the short ones are summed into at most one bar per pixel column, whose tooltips
        # count every one of them.
        events = [TRACE["traceEvents"][1]]
        for k in range(20000):
            events.append({"ph": "X", "cat": "poll", "name": "tick", "pid": 1, "tid": 0,
                           "ts": 5.0 * k, "dur": 2.0, "args": {"task": 7}})
        events.append({"ph": "X", "cat": "poll", "name": "slow", "pid": 1, "tid": 0,
                       "ts": 100000.0, "dur": 10000.0, "args": {"task": 8}})
        with open(self.trace, "w", encoding="utf-8") as f:
            json.dump({"traceEvents": events}, f)
        path = os.path.join(self.dir.name, "long.svg")
        self.run_tool("--svg", path)
        root = ET.parse(path).getroot()
        ns = "{http://www.w3.org/2000/svg}"
        tips = [r.find(ns + "title").text for r in root.iter(ns + "rect")
                if r.find(ns + "title") is not None]
        self.assertLess(len(tips), 1400)
        self.assertEqual(sum(1 for t in tips if t.startswith("slow (task 8)")), 1)
        self.assertEqual(sum(int(t.split()[0]) for t in tips if " polls, " in t), 20000)

    def test_unreadable_input_is_a_clear_error(self):
        bad = os.path.join(self.dir.name, "bad.json")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("{not json")
        r = subprocess.run([sys.executable, TOOL, bad], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot read", r.stderr)


if __name__ == "__main__":
    unittest.main()
