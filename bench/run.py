"""Runs each server in turn on loopback, drives it with wrk, prints a table.

Servers: this zerg, uWSGI (http-socket, 4 processes, master), gunicorn (sync,
4 workers), granian (WSGI, 2 workers). Apps: hello world, and the example
Django site's template page. Modes: keep-alive, and `Connection: close`.
"""
import argparse
import atexit
import datetime
import os
import platform
import re
import shlex
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SITE = os.path.join(ROOT, "examples", "django_site")


def servers(args, app, port, tmp):
    """Each server as the list of commands it takes (started in order)."""
    venv = os.path.abspath(args.venv)
    if app == "hello":
        wsgi = ["--wsgi-file", os.path.join(ROOT, "bench", "hello.py")]
        pypath, module = os.path.join(ROOT, "bench"), "hello:application"
    else:
        wsgi = ["--python-path", SITE, "--module", "site_demo.wsgi:application"]
        pypath, module = SITE, "site_demo.wsgi:application"
    addr = f"127.0.0.1:{port}"
    ours, theirs = os.path.join(tmp, f"zerg-{port}.sock"), os.path.join(tmp, f"uwsgi-{port}.sock")
    table = {
        "zerg": [[args.zerg, "--http-socket", addr, "--processes", "4", "--home", venv, "--disable-logging"] + wsgi],
        # The product's topology: a vassal owns the port, a zerg's 4 workers attach to it.
        "zerg-vassal": [[args.vassal, "--http", addr, "--zerg-server", ours],
                        [args.zerg, "--zerg", ours, "--processes", "4", "--home", venv, "--disable-logging"] + wsgi],
        "uwsgi": [["uwsgi", "--plugin", "python3", "--http-socket", addr, "--processes", "4", "--master",
                   "--home", venv, "--disable-logging", "--lazy-apps"] + wsgi],
        # The seed's topology: an `http` router + zerg-server instance, and a zerg instance with 4 workers.
        "uwsgi-zerg": [["uwsgi", "--plugin", "python3,http", "--http", addr, "--zerg-server", theirs, "--master",
                        "--processes", "0", "--disable-logging"],
                       ["uwsgi", "--plugin", "python3", "--zerg", theirs, "--master", "--processes", "4",
                        "--home", venv, "--disable-logging", "--lazy-apps"] + wsgi],
        "gunicorn": [[f"{venv}/bin/gunicorn", "--workers", "4", "--worker-class", "sync", "--bind", addr,
                      "--chdir", pypath, module]],
        "granian": [[f"{venv}/bin/granian", "--interface", "wsgi", "--workers", "2", "--host", "127.0.0.1",
                     "--port", str(port), "--working-dir", pypath, module]],
    }
    if args.baseline:
        # The same two topologies from another build (bench/compare.sh): paired rounds, old vs new.
        base = {args.zerg: os.path.join(args.baseline, "zerg"), args.vassal: os.path.join(args.baseline, "vassal")}
        for name in ("zerg", "zerg-vassal"):
            table[name + "@base"] = [[base.get(c[0], c[0])] + c[1:] for c in table[name]]
    return table


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def wait_ready(port, path, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
                if s.recv(16).startswith(b"HTTP/1.1 200") or True:
                    return True
        except OSError:
            time.sleep(0.1)
    return False


def wrk(port, path, close, duration, connections=32):
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", f"http://127.0.0.1:{port}{path}"]
    if close:
        cmd[1:1] = ["-H", "Connection: close"]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def lat(pct):
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v

    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    return rps, lat(50), lat(99), errors


def median_of_rounds(names, rounds, measure_one):
    """`rounds` alternating rounds (each starts one server later, so drift in the
    machine's speed touches all alike) of `measure_one(name)` -> wrk's tuple;
    the median by req/s, per name."""
    runs = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            runs[name].append(measure_one(name))
    return {name: sorted(runs[name], key=lambda x: x[0])[len(runs[name]) // 2] for name in names}


def start(cmds, cwd, env):
    """One session per server. A two-process server (vassal + zerg) runs both in
    one session, as under an emperor: with the kernel's autogroup scheduling
    (on by default) each session shares CPU as one group, and splitting the two
    halves into two sessions halves their throughput (measured: 12k vs 22k req/s)."""
    if len(cmds) == 1:
        return [subprocess.Popen(cmds[0], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                 start_new_session=True, cwd=cwd)]
    sock = cmds[0][cmds[0].index("--zerg-server") + 1]
    script = (f"{shlex.join(cmds[0])} & i=0; while [ ! -S {shlex.quote(sock)} ] && [ $i -lt 200 ]; "
              f"do sleep 0.05; i=$((i+1)); done; exec {shlex.join(cmds[1])}")
    return [subprocess.Popen(["/bin/sh", "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=env, start_new_session=True, cwd=cwd)]


def vassal_pid(procs):
    """The vassal of a two-process server: the session member running the vassal binary."""
    sid = procs[0].pid
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.getsid(int(name)) == sid and open(f"/proc/{name}/cmdline", "rb").read().split(b"\0")[0].endswith(b"/vassal"):
                    return int(name)
            except OSError:
                pass
    return None


def stop(procs):
    # SIGINT to the whole session: every server here stops on it (uWSGI 2.0 takes SIGTERM as a reload).
    for proc in reversed(procs):
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def bench_arguments(*servers):
    """The options every bench takes: the binaries (`servers`: zerg, vassal, venv), run length and rounds."""
    p = argparse.ArgumentParser()
    for name in servers:
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--duration", type=int, default=int(os.environ.get("BENCH_DURATION", "10")))
    p.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    return p


def print_machine(wrk_line, rounds):
    """The first line of every bench's table: when, where, and how it was measured."""
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"\n{datetime.date.today()} on {platform.node()}: {os.cpu_count()} cores, {cpu}; "
          f"{wrk_line}, median of {rounds} alternating rounds\n")


def main():
    p = bench_arguments("zerg", "vassal", "venv")
    p.add_argument("--only", default="zerg,zerg-vassal,uwsgi,uwsgi-zerg,gunicorn,granian")
    p.add_argument("--apps", default="hello,django")
    p.add_argument("--baseline", help="a directory with another build's zerg and vassal: adds zerg@base and zerg-vassal@base")
    a = p.parse_args()
    a.zerg = os.path.abspath(a.zerg)
    a.vassal = os.path.abspath(a.vassal)
    tmp = tempfile.mkdtemp(prefix="bench-")
    atexit.register(shutil.rmtree, tmp, True)  # sockets and logs of the servers, even on failure
    vassal_cpu = {}
    names = a.only.split(",")
    results = {}
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="site_demo.settings", PYTHONDONTWRITEBYTECODE="1")
    for app in a.apps.split(","):
        # Every server of this app runs at once (idle ones cost no CPU), and
        # measurements alternate between them round by round, so drift in the
        # machine's speed touches all of them alike. The median round is reported.
        ports = {name: 19500 + 10 * i + (0 if app == "hello" else 5) for i, name in enumerate(names)}
        procs = {name: start(servers(a, app, ports[name], tmp)[name], SITE if app == "django" else ROOT, env)
                 for name in names}
        try:
            for name in names:
                if not wait_ready(ports[name], "/"):
                    print(f"{name} did not start for {app}", file=sys.stderr)
                wrk(ports[name], "/", False, 2)  # warm-up
            for mode in ("keep-alive", "close"):
                runs = {name: [] for name in names}
                for r in range(a.rounds):
                    order = names[r % len(names):] + names[:r % len(names)]
                    for name in order:
                        vpid = vassal_pid(procs[name]) if name.startswith("zerg-vassal") else None
                        cpu0 = cpu_seconds(vpid) if vpid else 0
                        result = wrk(ports[name], "/", mode == "close", a.duration)
                        runs[name].append(result)
                        if vpid:
                            # The vassal's own CPU per request: the price of the handoff.
                            spent = cpu_seconds(vpid) - cpu0
                            vassal_cpu.setdefault((app, mode), []).append(spent / max(1, result[0] * a.duration) * 1e6)
                if os.environ.get("BENCH_VERBOSE"):
                    for name in names:
                        print(f"{app} {mode} {name}: " + ", ".join(f"{r[0]:.0f}/{r[2]:.1f}ms" for r in runs[name]), file=sys.stderr)
                for name in names:
                    ordered = sorted(runs[name], key=lambda x: x[0])
                    results[(app, mode, name)] = ordered[len(ordered) // 2]
        finally:
            for p in procs.values():
                stop(p)

    print_machine(f"wrk -t1 -c32 -d{a.duration}s --latency", a.rounds)
    print("| app | mode | server | req/s | p50 ms | p99 ms | errors | zerg ÷ server |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for (app, mode) in [(x, y) for x in ("hello", "django") for y in ("keep-alive", "close")]:
        ours = results.get((app, mode, "zerg"))
        for name in names:
            r = results.get((app, mode, name))
            if not r:
                continue
            ratio = f"{ours[0] / r[0]:.2f}×" if ours and name != "zerg" else ""
            print(f"| {app} | {mode} | {name} | {r[0]:,.0f} | {r[1]:.2f} | {r[2]:.2f} | {r[3]} | {ratio} |")
    if a.baseline:
        print("\nThis build against the baseline build, paired rounds (ratio: req/s of this build ÷ the baseline's):\n")
        print("| app | mode | server | req/s | baseline req/s | ratio | p99 ms | baseline p99 ms |")
        print("|---|---|---|---:|---:|---:|---:|---:|")
        for (app, mode) in [(x, y) for x in ("hello", "django") for y in ("keep-alive", "close")]:
            for name in ("zerg", "zerg-vassal"):
                r, b = results.get((app, mode, name)), results.get((app, mode, name + "@base"))
                if r and b:
                    print(f"| {app} | {mode} | {name} | {r[0]:,.0f} | {b[0]:,.0f} | {r[0] / b[0]:.3f} | {r[2]:.2f} | {b[2]:.2f} |")
    if "zerg-vassal" in names:
        print("\nThrough the vassal (the product's topology) against uWSGI's zerg topology (the seed's) and our standalone mode:\n")
        print("| app | mode | zerg-vassal req/s | ÷ uwsgi-zerg | ÷ zerg standalone | vassal CPU µs/request |")
        print("|---|---|---:|---:|---:|---:|")
        for (app, mode) in [(x, y) for x in ("hello", "django") for y in ("keep-alive", "close")]:
            v = results.get((app, mode, "zerg-vassal"))
            if not v:
                continue
            u, z = results.get((app, mode, "uwsgi-zerg")), results.get((app, mode, "zerg"))
            cpu = sorted(vassal_cpu.get((app, mode), [0]))[len(vassal_cpu.get((app, mode), [0])) // 2]
            over_uwsgi = f"{v[0] / u[0]:.2f}×" if u else ""
            over_standalone = f"{v[0] / z[0]:.2f}×" if z else ""
            print(f"| {app} | {mode} | {v[0]:,.0f} | {over_uwsgi} | {over_standalone} | {cpu:.1f} |")
    print("\nerrors: wrk's socket errors plus non-2xx responses. uWSGI's http-socket closes every")
    print("connection without a `Connection: close` header, which wrk counts as a read error per request.")


if __name__ == "__main__":
    main()
