# The corpus's WSGI app: answers who served it, and how.
import os
import threading


def application(environ, start_response):
    if environ["PATH_INFO"] == "/visits":
        import uwsgi  # site-services.ini: the shared cache, under a lock
        uwsgi.lock()
        try:
            visits = int(uwsgi.cache_get("visits") or b"0") + 1
            uwsgi.cache_update("visits", str(visits))
        finally:
            uwsgi.unlock()
        body = ("visits=%d\n" % visits).encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    body = ("ok pid=%d threads=%s scheme=%s name=%s\n" % (
        os.getpid(), environ["wsgi.multithread"], environ["wsgi.url_scheme"], os.environ.get("SITE_NAME", "-"))).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
