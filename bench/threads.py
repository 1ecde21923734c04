"""The threads bench: each server in turn on loopback, driven by wrk at a
given concurrency, median of alternating rounds; prints two tables.

1. I/O-bound (bench/sleepy.py, 50 ms per request), 2 processes × 4 threads:
   zerg standalone, zerg behind the vassal, uWSGI, gunicorn gthread, granian.
2. The example Django site on 2 processes, 4 threads against 1 (our zerg, and uWSGI for comparison).
"""
import atexit
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import ROOT, SITE, bench_arguments, median_of_rounds, print_machine, start, stop, wait_ready, wrk  # noqa: E402


def io_servers(a, port, tmp):
    venv = os.path.abspath(a.venv)
    bench = os.path.join(ROOT, "bench")
    addr = f"127.0.0.1:{port}"
    sock = os.path.join(tmp, f"zerg-{port}.sock")
    app = ["--wsgi-file", os.path.join(bench, "sleepy.py")]
    threads = ["--processes", "2", "--threads", "4"]
    return {
        "zerg": [[a.zerg, "--http-socket", addr, "--disable-logging"] + threads + app],
        "zerg-vassal": [[a.vassal, "--http", addr, "--zerg-server", sock],
                        [a.zerg, "--zerg", sock, "--disable-logging"] + threads + app],
        "uwsgi": [["uwsgi", "--plugin", "python3", "--http-socket", addr, "--master", "--disable-logging",
                   "--lazy-apps"] + threads + app],
        "gunicorn": [[f"{venv}/bin/gunicorn", "--workers", "2", "--threads", "4", "--worker-class", "gthread",
                      "--bind", addr, "--chdir", bench, "sleepy:application"]],
        "granian": [[f"{venv}/bin/granian", "--interface", "wsgi", "--workers", "2", "--blocking-threads", "4",
                     "--host", "127.0.0.1", "--port", str(port), "--working-dir", bench, "sleepy:application"]],
    }


def django_servers(a, port):
    venv = os.path.abspath(a.venv)
    addr = f"127.0.0.1:{port}"
    base = [a.zerg, "--http-socket", addr, "--processes", "2", "--home", venv, "--disable-logging",
            "--python-path", SITE, "--module", "site_demo.wsgi:application"]
    theirs = ["uwsgi", "--plugin", "python3", "--http-socket", addr, "--processes", "2", "--master", "--home", venv,
              "--disable-logging", "--lazy-apps", "--python-path", SITE, "--module", "site_demo.wsgi:application"]
    return {"zerg 2×4 threads": [base + ["--threads", "4"]], "zerg 2×1": [base],
            "uwsgi 2×4 threads": [theirs + ["--threads", "4"]], "uwsgi 2×1": [theirs]}


def measure_alone(table, ports, a, cwd, env, concurrency):
    """As `measure`, but each server runs only during its own round (started,
    warmed up, measured, stopped). For the Django table: with a uWSGI of 4
    threads merely loaded beside it (idle), our threaded workers measured 12 %
    slower and the unthreaded ones not at all; measured alone, neither."""
    def one(name):
        procs = start(table[name], cwd, env)
        try:
            if not wait_ready(ports[name], "/"):
                print(f"{name} did not start", file=sys.stderr)
            wrk(ports[name], "/", False, 2, connections=concurrency)  # warm-up
            return wrk(ports[name], "/", False, a.duration, connections=concurrency)
        finally:
            stop(procs)
    return median_of_rounds(list(table), a.rounds, one)


def measure(table, ports, a, cwd, env, concurrency):
    """Median (by req/s) of `a.rounds` alternating rounds per server: (req/s, p50, p99, errors)."""
    names = list(table)
    procs = {name: start(table[name], cwd, env) for name in names}
    try:
        for name in names:
            if not wait_ready(ports[name], "/"):
                print(f"{name} did not start", file=sys.stderr)
            wrk(ports[name], "/", False, 2, connections=concurrency)  # warm-up
        return median_of_rounds(names, a.rounds, lambda name: wrk(ports[name], "/", False, a.duration, connections=concurrency))
    finally:
        for p in procs.values():
            stop(p)


def main():
    p = bench_arguments("zerg", "vassal", "venv")
    p.add_argument("--concurrency", default="8,32", help="wrk connections, comma-separated")
    p.add_argument("--parts", default="io,django", help="which tables: io, django")
    a = p.parse_args()
    a.zerg, a.vassal = os.path.abspath(a.zerg), os.path.abspath(a.vassal)
    tmp = tempfile.mkdtemp(prefix="bench-threads-")
    atexit.register(shutil.rmtree, tmp, True)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="site_demo.settings", PYTHONDONTWRITEBYTECODE="1")

    parts = a.parts.split(",")
    io = {}
    for c in (int(x) for x in a.concurrency.split(",") if "io" in parts):
        names = list(io_servers(a, 0, tmp))
        ports = {name: 19600 + 10 * i for i, name in enumerate(names)}
        table = {name: io_servers(a, ports[name], tmp)[name] for name in names}
        io[c] = measure(table, ports, a, ROOT, env, c)
    names = list(io_servers(a, 0, tmp))
    ports = {name: 19690 + i for i, name in enumerate(["zerg 2×4 threads", "zerg 2×1", "uwsgi 2×4 threads", "uwsgi 2×1"])}
    table = {name: django_servers(a, ports[name])[name] for name in ports}
    django = measure_alone(table, ports, a, SITE, env, 32) if "django" in parts else {}

    print_machine(f"wrk -t1 -d{a.duration}s --latency", a.rounds)
    if io:
        print("I/O-bound app (50 ms `time.sleep` per request), 2 processes × 4 threads (at most 160 req/s):\n")
        print("| connections | server | req/s | p50 ms | p99 ms | errors | zerg ÷ server |")
        print("|---:|---|---:|---:|---:|---:|---:|")
        for c, results in io.items():
            ours = results["zerg"]
            for name in names:
                r = results[name]
                ratio = f"{ours[0] / r[0]:.2f}×" if name != "zerg" else ""
                print(f"| {c} | {name} | {r[0]:,.1f} | {r[1]:.2f} | {r[2]:.2f} | {r[3]} | {ratio} |")
    if django:
        print("\nThe example Django site (CPU-bound), 2 processes, 32 connections, keep-alive, each server alone while")
        print("measured (uWSGI's http-socket closes every connection: its errors are wrk's read errors, one per request):\n")
        print("| server | req/s | p50 ms | p99 ms | errors |")
        print("|---|---:|---:|---:|---:|")
        for name, r in django.items():
            print(f"| {name} | {r[0]:,.0f} | {r[1]:.2f} | {r[2]:.2f} | {r[3]} |")
        for server in ("zerg", "uwsgi"):
            a4, a1 = django[f"{server} 2×4 threads"], django[f"{server} 2×1"]
            print(f"\n{server}: threads ÷ no threads: {a4[0] / a1[0]:.2f}× req/s, p99 {a4[2] / a1[2]:.2f}×")


if __name__ == "__main__":
    main()
