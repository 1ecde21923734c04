#!/usr/bin/python3 -S
"""Demo stand-in for a vassal, until the real vassal and zerg land.

Reads its config through `emperor --show-config` (so every uWSGI substitution
applies: %c, @(exec://...), %(port)), serves "hello from build X" on the
config's `http` address, and speaks the emperor's control protocol: ready and
accepting on start, re-exec on reload, exit on stop.
"""
import http.server
import os
import subprocess
import sys
import threading

args = sys.argv[1:]
ini = args[args.index("--ini") + 1]
emperor = os.environ.get("DEMO_EMPEROR", "emperor")
shown = subprocess.run([emperor, "--show-config", ini], capture_output=True, text=True, check=True).stdout
options = {}
for line in shown.splitlines():
    if " = " in line:
        key, value = line.split(" = ", 1)
        options.setdefault(key, value)
host, port = options["http"].rsplit(":", 1)
build = options.get("build", "?")
reloads = int(os.environ.get("DEMO_RELOADS", "0"))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello from build {build} (pid {os.getpid()}, reloads {reloads})\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True


server = Server((host or "127.0.0.1", int(port)), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
fd = int(os.environ.get("UWSGI_EMPEROR_FD", "-1"))
if fd < 0:
    server.serve_forever()
os.write(fd, b"\x01\x05")
while True:
    b = os.read(fd, 1)
    if not b or b in (b"\x00", b"\x02"):
        server.shutdown()
        sys.exit(0)
    if b == b"\x01":
        server.server_close()
        os.environ["DEMO_RELOADS"] = str(reloads + 1)
        os.execv(sys.executable, [sys.executable, "-S"] + sys.argv)
