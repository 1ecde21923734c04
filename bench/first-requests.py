"""p99 of the first 100 requests after a build's zerg starts, with and without
warm-up: a vassal, then a zerg of 4 workers serving the example Django site;
100 requests (8 at a time) are sent the moment the zerg reports it serves.

Usage: bench/first-requests.sh (builds, then runs this with the binaries and the venv).
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SITE = os.path.join(ROOT, "examples", "django_site")


def get(port, path="/"):
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    ok = data.startswith(b"HTTP/1.1 200")
    return (time.monotonic() - start) * 1000, ok


def run(args, warmup):
    tmp = tempfile.mkdtemp(prefix="first-")
    sock = os.path.join(tmp, "z.sock")
    port = 19700 + (1 if warmup else 0)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="site_demo.settings", PYTHONDONTWRITEBYTECODE="1")
    zerg_args = [args.zerg, "--zerg", sock, "--processes", "4", "--home", os.path.abspath(args.venv), "--disable-logging",
                 "--python-path", SITE, "--module", "site_demo.wsgi:application"]
    if warmup:
        zerg_args += ["--warmup", "/", "--warmup-requests", "20"]
    log = open(os.path.join(tmp, "zerg.log"), "w")
    script = (f"{args.vassal} --http 127.0.0.1:{port} --zerg-server {sock} & "
              f"while [ ! -S {sock} ]; do sleep 0.02; done; exec " + " ".join(zerg_args))
    proc = subprocess.Popen(["/bin/sh", "-c", script], stdout=log, stderr=log, cwd=SITE, env=env, start_new_session=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if "worker(s) serving" in open(os.path.join(tmp, "zerg.log")).read():
                break
            time.sleep(0.01)
        results, lock = [], threading.Lock()
        remaining = iter(range(100))

        def client():
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                r = get(port)
                with lock:
                    results.append(r)

        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        lat = sorted(r[0] for r in results)
        return lat[len(lat) // 2], lat[min(len(lat) - 1, len(lat) * 99 // 100)], lat[-1], sum(not r[1] for r in results)
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
        shutil.rmtree(tmp, True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--zerg", required=True)
    p.add_argument("--vassal", required=True)
    p.add_argument("--venv", required=True)
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    print("| warm-up | run | p50 ms | p99 ms | max ms | failed |")
    print("|---|---:|---:|---:|---:|---:|")
    for warmup in (False, True):
        for i in range(a.runs):
            p50, p99, mx, failed = run(a, warmup)
            print(f"| {'`warmup = /` ×20' if warmup else 'none'} | {i + 1} | {p50:.1f} | {p99:.1f} | {mx:.1f} | {failed} |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
