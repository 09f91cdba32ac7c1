#!/usr/bin/env python3
"""tools/coreio-top --once against a live process: examples/hello_server (its /metrics and /tasks
routes) with 2 workers under a little load; the frame names every worker, the runtime's task
line and the server's task names by poll time, and shows the pending-task tree under them (or says the tree is unavailable when the /tasks
route is missing); a URL that is not coreio's metrics is a clear error (exit 1). Run by CTest (label "tools") with the
server's path as its argument."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import unittest
import urllib.request

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "coreio-top")
SERVER = None  # set from argv


class CoreioTopTest(unittest.TestCase):
    def setUp(self):
        # COREIO_METRICS=1: the per-task-name families, which the frame's name table reads.
        self.proc = subprocess.Popen([SERVER, "--threads", "2", "0"], stdout=subprocess.PIPE,
                                     text=True, env=dict(os.environ, COREIO_METRICS="1"))
        line = self.proc.stdout.readline()  # "serving on http://127.0.0.1:PORT/hello.txt"
        m = re.search(r"127\.0\.0\.1:(\d+)", line)
        self.assertIsNotNone(m, line)
        self.base = f"http://127.0.0.1:{m.group(1)}"

    def tearDown(self):
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=30), 0)
        self.proc.stdout.close()

    def run_tool(self, url):
        return subprocess.run([sys.executable, TOOL, url, "--once"], capture_output=True,
                              text=True, timeout=60)

    def test_once_prints_every_worker_under_load(self):
        stop = threading.Event()

        def load():
            while not stop.is_set():
                with urllib.request.urlopen(self.base + "/hello.txt", timeout=5) as r:
                    self.assertEqual(r.read(), b"Hello, World!")

        t = threading.Thread(target=load)
        t.start()
        try:
            r = self.run_tool(self.base + "/metrics")
        finally:
            stop.set()
            t.join()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^worker 0 +\d+\.\d +\d+")
        self.assertRegex(r.stdout, r"(?m)^worker 1 +\d+\.\d +\d+")
        self.assertNotIn("worker 2", r.stdout)
        m = re.search(r"tasks: (\d+) completed/s", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        self.assertGreater(int(m.group(1)), 0)  # the load's requests ran as tasks
        # The server's tasks by name, its connections among them (one per urlopen).
        self.assertRegex(r.stdout, r"(?m)^task name \(by poll time\) +busy %")
        self.assertRegex(r.stdout, r"(?m)^http\.server\.connection +\d+\.\d +\d+ +\d+$")

    def test_once_prints_the_pending_task_tree(self):
        # The server's own tasks are pending while it serves: at least the accept loop, as a tree.
        with urllib.request.urlopen(self.base + "/tasks", timeout=5) as r:
            doc = json.loads(r.read())
        self.assertGreater(len(doc["tasks"]), 0, doc)
        for t in doc["tasks"]:
            self.assertEqual(set(t), {"id", "name", "file", "line", "state", "cancelled",
                                      "waits_on", "awaited_by"}, t)
        with urllib.request.urlopen(self.base + "/tasks?format=text", timeout=5) as r:
            text = r.read().decode()
        self.assertRegex(text, r"(?m)^\u2514\u2500\u2500 task \d+ ")
        r = self.run_tool(self.base + "/metrics")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"(?m)^pending tasks \((\d+)\):$", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        self.assertGreater(int(m.group(1)), 0)
        after = r.stdout[m.end():]
        self.assertRegex(after, r"accepting on tcp 127\.0\.0\.1:" + self.base.rsplit(":", 1)[1])
        self.assertLess(r.stdout.index("worker 1"), m.start())  # under the workers table

    def test_without_a_tasks_route_the_rest_is_shown(self):
        r = subprocess.run([sys.executable, TOOL, self.base + "/metrics", "--once", "--tasks-url",
                            self.base + "/no-such-route"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^worker 0 ")
        self.assertIn("pending tasks: unavailable (HTTP 404)", r.stdout)

    def test_a_page_that_is_not_metrics_is_an_error(self):
        r = self.run_tool(self.base + "/hello.txt")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a coreio /metrics page", r.stderr)


if __name__ == "__main__":
    SERVER = sys.argv.pop(1)
    unittest.main()
