"""An I/O-bound WSGI app: each request waits 50 ms (a database, an API), as
the threads bench (bench/threads.sh) needs."""
import time


def application(environ, start_response):
    time.sleep(0.05)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"slept"]
