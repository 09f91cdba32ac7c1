#!/usr/bin/env python3
"""make_figures.py — remakes the profiling outputs the README shows, from real runs on this machine.

    tools/dev figures                  (builds build/release's examples, then runs this)
    python3 docs/make_figures.py BUILD_DIR [OUT_DIR]

BUILD_DIR holds the built examples (BUILD_DIR/examples/{scraper,hello_server,debug_mode});
OUT_DIR defaults to this script's folder (docs/). It writes:

  scraper-timeline.svg   tools/coreio-trace's per-worker timeline of the scraper example fetching
                         4,000 URLs (400 pages of 1-16 KiB) from a local nginx with --limit 50, traced with
                         COREIO_TRACE=...; scraper-trace.txt is coreio-trace's summary of that run
  coreio-top.txt         `tools/coreio-top --once` against examples/hello_server while wrk loads it
                         (wrk -t1 -c50 for 3 s)
  debug-mode.txt         what examples/debug_mode reports on stderr

nginx runs from a temporary directory on a free 127.0.0.1 port with its own config and stops at
the end, as does hello_server; nothing listens on any other address. Needs nginx and wrk (Debian
packages; `tools/dev figures` installs them). Python 3 standard library only.
"""

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = 400
FETCHES = 4000  # each page ten times: a run long enough to see the workers share the work


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(url, proc, what, seconds=20.0):
    """Polls url until it answers (a probe, not a fixed sleep); fails when proc exits or time's up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"make_figures: {what} exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1.0) as r:
                r.read()
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"make_figures: {what} did not answer {url} within {seconds:.0f} s")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_nginx(tmp):
    tmp.chmod(0o755)  # nginx's workers run as another user when this runs as root
    www = tmp / "www"
    (www / "page").mkdir(parents=True)
    for i in range(PAGES):
        size = 1024 * (1 + i % 16)
        (www / "page" / f"{i}.html").write_bytes(bytes([97 + i % 26]) * size)
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  keepalive_requests 100000;
  server {{ listen 127.0.0.1:{port}; root {www}; }}
}}
""")
    proc = subprocess.Popen(["nginx", "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base + "/page/0.html", proc, "nginx")
    return proc, base


def scraper_timeline(build, out, tmp):
    nginx, base = start_nginx(tmp)
    try:
        trace = tmp / "scraper-trace.json"
        urls = [f"{base}/page/{i % PAGES}.html" for i in range(FETCHES)]
        env = dict(os.environ, COREIO_TRACE=str(trace))
        run = subprocess.run([str(build / "examples" / "scraper"), "--limit", "50", *urls],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=120)
        if run.returncode != 0:
            sys.exit(f"make_figures: scraper failed:\n{run.stdout[-2000:]}")
    finally:
        stop(nginx)
    summary = subprocess.run([sys.executable, str(ROOT / "tools" / "coreio-trace"), str(trace),
                              "--svg", str(out / "scraper-timeline.svg")],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True)
    last = "\n".join(run.stdout.strip().splitlines()[-2:])  # the summary and the time taken
    (out / "scraper-trace.txt").write_text(
        f"$ COREIO_TRACE=trace.json scraper --limit 50 <{FETCHES} URLs of a local nginx>\n{last}\n"
        f"$ tools/coreio-trace trace.json --svg scraper-timeline.svg\n{summary.stdout}")


def top_screen(build, out):
    port = free_port()
    # COREIO_METRICS=1: the per-task-name families, for the frame's task-name table.
    server = subprocess.Popen([str(build / "examples" / "hello_server"), "--threads", "2",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=dict(os.environ, COREIO_METRICS="1"))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base + "/hello.txt", server, "hello_server")
        load = subprocess.Popen(["wrk", "-t1", "-c50", "-d3s", base + "/hello.txt"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # let the load reach its steady state before the frame's two samples
        top = subprocess.run([sys.executable, str(ROOT / "tools" / "coreio-top"),
                              base + "/metrics", "--once"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=30)
        load.wait(timeout=30)
    finally:
        stop(server)
    if top.returncode != 0:
        sys.exit(f"make_figures: coreio-top failed:\n{top.stdout}")
    (out / "coreio-top.txt").write_text(
        f"$ tools/coreio-top {base}/metrics --once     # COREIO_METRICS=1 hello_server, wrk -c50\n"
        + top.stdout)


def debug_report(build, out):
    run = subprocess.run([str(build / "examples" / "debug_mode")], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=60)
    if run.returncode != 0:
        sys.exit(f"make_figures: debug_mode failed:\n{run.stdout}")
    text = run.stdout.replace(str(ROOT) + "/", "")
    (out / "debug-mode.txt").write_text("$ examples/debug_mode\n" + text)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = pathlib.Path(sys.argv[1]).resolve()
    out = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else pathlib.Path(__file__).parent
    out.mkdir(parents=True, exist_ok=True)
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"make_figures: {tool} not found (tools/dev figures installs it)")
    os.environ["PATH"] += os.pathsep + "/usr/sbin"
    with tempfile.TemporaryDirectory(prefix="coreio-figures-") as t:
        scraper_timeline(build, out, pathlib.Path(t))
    top_screen(build, out)
    debug_report(build, out)
    for name in ("scraper-timeline.svg", "scraper-trace.txt", "coreio-top.txt", "debug-mode.txt"):
        print(out / name)


if __name__ == "__main__":
    main()
