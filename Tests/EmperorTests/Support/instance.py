#!/usr/bin/python3 -S
"""A stand-in instance for the emperor's tests (run through `emperor-wrapper`).

It speaks the emperor's control protocol like a uWSGI vassal: reports ready
(1) and accepting (5) on UWSGI_EMPEROR_FD, re-execs itself on reload (1), and
exits on stop (0) or graceful stop (2). What it does is driven by `test-*`
keys in its ini file; it appends one line per event to `test-events`:
    <event> <pid> <monotonic ns> <config> <argv0 name> [detail]
"""
import os
import sys
import time

started = time.monotonic_ns()
args = sys.argv[1:]
config = args[args.index("--ini") + 1]
options = {}
with open(config) as f:
    for line in f:
        line = line.strip()
        if "=" in line and not line.startswith((";", "#", "[")):
            key, value = line.split("=", 1)
            options[key.strip()] = value.strip()

events = options.get("test-events")
program = os.path.basename(sys.argv[0])


def event(name, detail=""):
    if not events:
        return
    line = f"{name} {os.getpid()} {time.monotonic_ns()} {config} {program} {detail}\n"
    fd = os.open(events, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, line.encode())
    os.close(fd)


reloads = int(os.environ.get("TEST_RELOADS", "0"))
event("reloaded" if reloads else "start", started)

if options.get("test-crash") == "true":
    sys.exit(1)

if options.get("test-children") == "true":
    # One child in the instance's process group, one that escapes it with setsid.
    for detach in (False, True):
        pid = os.fork()
        if pid == 0:
            if detach:
                os.setsid()
            os.execv("/bin/sleep", ["sleep", "1000"])
        event("child", pid)

if "test-orphan" in options:
    # A grandchild whose parent exits at once: it is orphaned and reparented.
    pid = os.fork()
    if pid == 0:
        if os.fork() == 0:
            os.execv("/bin/sleep", ["sleep", options["test-orphan"]])
        os._exit(0)
    os.waitpid(pid, 0)

fd = int(os.environ.get("UWSGI_EMPEROR_FD", "-1"))
if fd >= 0:
    os.write(fd, b"\x01\x05")
event("ready")

while fd >= 0:
    b = os.read(fd, 1)
    if not b:
        event("eof")
        sys.exit(0)
    if b == b"\x01":
        event("reload")
        os.environ["TEST_RELOADS"] = str(reloads + 1)
        os.execv(sys.executable, [sys.executable, "-S"] + sys.argv)
    if b in (b"\x00", b"\x02"):
        event("stop", b[0])
        if options.get("test-ignore-stop") == "true":
            continue
        sys.exit(0)
