# The corpus's WSGI app: answers who served it, and how.
import os
import threading


def application(environ, start_response):
    body = ("ok pid=%d threads=%s scheme=%s name=%s\n" % (
        os.getpid(), environ["wsgi.multithread"], environ["wsgi.url_scheme"], os.environ.get("SITE_NAME", "-"))).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
