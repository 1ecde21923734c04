"""Hostile clients against each server, and what a normal client sees meanwhile.

For each server (ours through the vassal and standalone, uWSGI's http-socket
and the seed's zerg topology, gunicorn, granian; hello app): a normal client
sends one request per new connection, one after the other, for a few seconds
alone, then during each attack:

- slowloris: 300 connections sending a request head one header byte every 2 s;
- slow bodies: 16 POSTs with `Content-Length: 100000`, one body byte every 2 s;
- idle flood: 2,000 connections that send nothing.

Reported per server and attack: the normal client's requests, failures
(errors, timeouts after 5 s, non-2xx), median and worst latency. Loopback only,
bounded in time; every attack connection is closed at the end of its round.
"""
import argparse
import atexit
import os
import resource
import shutil
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the server table and process helpers)

ATTACK_SECONDS = 10


def normal_client(port, seconds):
    """One GET per new connection for `seconds`; (requests, failures, latencies in ms)."""
    latencies, failures, requests = [], 0, 0
    end = time.time() + seconds
    while time.time() < end:
        start = time.time()
        requests += 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            if not data.startswith(b"HTTP/1.1 2") and not data.startswith(b"HTTP/1.0 2"):
                failures += 1
                continue
            latencies.append((time.time() - start) * 1000)
        except OSError:
            failures += 1
        time.sleep(0.02)
    return requests, failures, latencies


class Attack(threading.Thread):
    """Opens its connections, then feeds them on schedule until stopped."""

    def __init__(self, port, kind):
        super().__init__(daemon=True)
        self.port, self.kind = port, kind
        self.stopping = threading.Event()
        self.socks = []

    def open(self, count, first):
        for _ in range(count):
            if self.stopping.is_set():
                return
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                s.setblocking(False)
                if first:
                    s.send(first)
                self.socks.append(s)
            except OSError:
                pass

    def run(self):
        if self.kind == "slowloris":
            self.open(300, b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        elif self.kind == "slow bodies":
            self.open(16, b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n")
        else:
            self.open(2000, b"")
        while not self.stopping.wait(2):
            if self.kind == "idle flood":
                continue
            for s in list(self.socks):
                try:
                    s.send(b"x")
                except OSError:
                    self.socks.remove(s)
                    s.close()

    def stop(self):
        self.stopping.set()
        self.join(5)
        for s in self.socks:
            s.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--zerg", required=True)
    p.add_argument("--vassal", required=True)
    p.add_argument("--venv", required=True)
    p.add_argument("--only", default="zerg-vassal,zerg,uwsgi,uwsgi-zerg,gunicorn,granian")
    a = p.parse_args()
    a.zerg, a.vassal = os.path.abspath(a.zerg), os.path.abspath(a.vassal)
    a.baseline = None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    tmp = tempfile.mkdtemp(prefix="hostile-")
    atexit.register(shutil.rmtree, tmp, True)  # sockets and logs of the servers, even on failure
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    rows = []
    port = 4600
    for name in a.only.split(","):
        port += 1
        cmds = run.servers(a, "hello", port, tmp)[name]
        procs = run.start(cmds, tmp, env)
        try:
            if not run.wait_ready(port, "/"):
                print(f"{name}: did not start", file=sys.stderr)
                continue
            time.sleep(1)
            rows.append((name, "none") + normal_client(port, 5))
            for kind in ("slowloris", "slow bodies", "idle flood"):
                attack = Attack(port, kind)
                attack.start()
                time.sleep(1)  # its connections are open
                rows.append((name, kind) + normal_client(port, ATTACK_SECONDS))
                attack.stop()
                time.sleep(1)
            print(f"{name}: done", file=sys.stderr)
        finally:
            run.stop(procs)

    print("\nA normal client (one GET per connection, 5 s timeout) beside each attack, hello app, loopback:\n")
    print("| server | attack | requests | failed | median ms | worst ms |")
    print("|---|---|---:|---:|---:|---:|")
    for name, kind, requests, failures, lat in rows:
        lat = sorted(lat)
        median = f"{lat[len(lat) // 2]:.1f}" if lat else "—"
        worst = f"{lat[-1]:.0f}" if lat else "—"
        print(f"| {name} | {kind} | {requests} | {failures} | {median} | {worst} |")


if __name__ == "__main__":
    main()
