"""WSGI apps for the zerg's conformance tests.

`application` routes by path; everything under /v/ runs inside
wsgiref.validate.validator (which asserts the server's side of PEP 3333 too),
everything under /raw/ runs bare (those apps break the rules on purpose).
/v/echo answers with JSON of what the app saw.
"""
import json
import os
import time
from wsgiref.validate import validator

EVENTS = os.environ.get("TEST_EVENTS")


def record(line):
    if EVENTS:
        with open(EVENTS, "a") as f:
            f.write(line + "\n")


def echo(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    seen = {k: v for k, v in environ.items() if isinstance(v, str)}
    seen["body"] = body.decode("latin-1")
    seen["wsgi.version"] = list(environ["wsgi.version"])
    for k in ("wsgi.multiprocess", "wsgi.multithread", "wsgi.run_once", "wsgi.input_terminated"):
        seen[k] = environ[k]
    data = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def lines(environ, start_response):
    inp = environ["wsgi.input"]
    first = inp.readline()
    limited = inp.readline(3)
    rest = inp.readlines()
    data = json.dumps([first.decode(), limited.decode(), [l.decode() for l in rest]]).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [data]


def chunks(environ, start_response):
    inp = environ["wsgi.input"]
    sizes = []
    while True:
        piece = inp.read(4)
        if not piece:
            break
        sizes.append(len(piece))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [(",".join(map(str, sizes))).encode()]


def stream(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    def gen():
        for i in range(3):
            yield f"part{i};".encode()
    return gen()


def writer(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written;")
    return [b"returned"]


def empty(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return []


def status(environ, start_response):
    code = environ["PATH_INFO"].rsplit("/", 1)[-1]
    reasons = {"204": "No Content", "304": "Not Modified", "404": "Not Found", "201": "Created"}
    start_response(f"{code} {reasons.get(code, 'X')}", [("Content-Type", "text/plain")] if code not in ("204", "304") else [])
    return [b"ignored body"] if code in ("204", "304") else [b"status body"]


def conn_close(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "close"), ("Content-Length", "2")])
    return [b"ok"]


def uwsgi_info(environ, start_response):
    import uwsgi
    uwsgi.set_logvar("worker_id", str(uwsgi.worker_id()))
    uwsgi.setprocname(f"test worker {uwsgi.worker_id()}")
    data = json.dumps({
        "worker_id": uwsgi.worker_id(), "numproc": uwsgi.numproc, "masterpid": uwsgi.masterpid(),
        "version": uwsgi.version.decode(), "started_on": uwsgi.started_on,
        "has_opt": "wsgi-file" in uwsgi.opt, "pid": os.getpid(), "ppid": os.getppid(),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [data]


class Tracked:
    """An iterable whose close() leaves a trace."""

    def __init__(self, name, parts, delay=0.0):
        self.name, self.parts, self.delay = name, parts, delay

    def __iter__(self):
        for p in self.parts:
            if self.delay:
                time.sleep(self.delay)
            yield p

    def close(self):
        record(f"closed {self.name}")


def slow(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Tracked(environ.get("QUERY_STRING", "slow"), [b"x" * 65536] * 200, delay=0.01)


def tracked(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Tracked(environ.get("QUERY_STRING", "t"), [b"tracked"])


def file_(environ, start_response):
    path = environ["QUERY_STRING"]
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    f = open(path, "rb")
    f.seek(int(environ.get("HTTP_X_SKIP", "0")))
    return environ["wsgi.file_wrapper"](f, 4096)


def errors_(environ, start_response):
    environ["wsgi.errors"].write("a message for the log\n")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"logged"]


def pid(environ, start_response):
    """The serving worker's pid (and, with ?ms=N, after sleeping N ms); VERSION from the env.
    With TEST_EVENTS set, records `served PID USER-AGENT START_NS END_NS` (monotonic clock)."""
    start = time.monotonic_ns()
    query = environ.get("QUERY_STRING", "")
    if query.startswith("ms="):
        time.sleep(int(query[3:]) / 1000)
    record(f"served {os.getpid()} {environ.get('HTTP_USER_AGENT', '-').replace(' ', '_')} {start} {time.monotonic_ns()}")
    data = f"{os.getpid()} {os.environ.get('APP_VERSION', '-')}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


HOARD = []


def grow(environ, start_response):
    """Keeps ?mb=N more megabytes alive in this worker (for reload-on-rss)."""
    query = environ.get("QUERY_STRING", "")
    HOARD.append(bytearray(int(query[3:]) << 20 if query.startswith("mb=") else 0))
    data = str(sum(len(b) for b in HOARD) >> 20).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


def spin(environ, start_response):
    """?ms=N of computing, or ?sleep=N of waiting; the body is `PID START_NS END_NS` (monotonic clock)."""
    start = time.monotonic_ns()
    kind, _, value = environ.get("QUERY_STRING", "").partition("=")
    n = int(value or "0")
    if kind == "sleep":
        time.sleep(n / 1000)
    else:
        end = start + n * 1_000_000
        while time.monotonic_ns() < end:
            pass
    data = f"{os.getpid()} {start} {time.monotonic_ns()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


ROUTES = {
    "/spin": spin, "/pid": pid, "/grow": grow, "/echo": echo, "/lines": lines, "/chunks": chunks, "/stream": stream, "/write": writer,
    "/empty": empty, "/conn-close": conn_close, "/uwsgi": uwsgi_info, "/slow": slow, "/tracked": tracked,
    "/file": file_, "/errors": errors_,
}


def raw_raise(environ, start_response):
    raise ValueError("boom before the response")


def raw_raise_late(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    def gen():
        yield b"first;"
        raise RuntimeError("boom in the middle")
    return Tracked("late", gen())


def raw_bad_status(environ, start_response):
    start_response("20 OK", [])
    return [b"x"]


def raw_informational(environ, start_response):
    start_response("100 Continue", [])
    return [b""]


def raw_bad_header(environ, start_response):
    start_response("200 OK", [("X-Bad", "a\r\nInjected: yes")])
    return [b"x"]


def raw_str_body(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["not bytes"]


def raw_short(environ, start_response):
    start_response("200 OK", [("Content-Length", "10")])
    return [b"12345"]


def raw_long(environ, start_response):
    start_response("200 OK", [("Content-Length", "3")])
    return [b"1234567"]


def raw_exc_info(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        raise KeyError("replaced")
    except KeyError:
        import sys
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"replaced by exc_info"]


def raw_no_start(environ, start_response):
    return [b"never started"]


def raw_twice(environ, start_response):
    start_response("200 OK", [])
    start_response("200 OK", [])
    return [b"x"]


def raw_list(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"tra", b"cked"]


def raw_empty(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return []


RAW = {
    "/list": raw_list, "/empty": raw_empty, "/file": file_,
    "/raise": raw_raise, "/raise-late": raw_raise_late, "/bad-status": raw_bad_status, "/informational": raw_informational,
    "/bad-header": raw_bad_header, "/str-body": raw_str_body, "/short": raw_short, "/long": raw_long,
    "/exc-info": raw_exc_info, "/no-start": raw_no_start, "/twice": raw_twice,
}


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/raw/"):
        return RAW[path[4:]](environ, start_response)
    if path.startswith("/v/status/"):
        return validator(status)(environ, start_response)
    if path.startswith("/v/"):
        route = "/" + path[3:].split("/")[0]
        return validator(ROUTES[route])(environ, start_response)
    return echo(environ, start_response)
