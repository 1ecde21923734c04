/// Python code run once per worker after the interpreter starts: the
/// `wsgi.input`/`wsgi.errors`/`wsgi.file_wrapper` types, the `uwsgi` module,
/// and the app loader. The per-request path calls only native functions
/// (`_hadjango.start_response`, `write`, `read`) and creates one `Input`.
enum Bootstrap {
    static let source = #"""
import gc, os, sys, types, importlib, importlib.util, re, traceback, _hadjango

class Input:
    """wsgi.input: reads the request body and never past it. (No __init__:
    one is made per request, and the class defaults make that nearly free.)"""
    _buf = b""
    _eof = False

    def _fill(self, want):
        chunk = _hadjango.read(want)
        if chunk:
            self._buf += chunk
        else:
            self._eof = True

    def read(self, size=-1):
        if size is None or size < 0:
            data = self._buf + (b"" if self._eof else _hadjango.read(-1))
            self._buf = b""
            self._eof = True
            return data
        while len(self._buf) < size and not self._eof:
            self._fill(size - len(self._buf))
        data, self._buf = self._buf[:size], self._buf[size:]
        return data

    def readline(self, size=-1):
        limit = -1 if size is None else size
        while True:
            i = self._buf.find(b"\n")
            if i >= 0 and (limit < 0 or i < limit):
                end = i + 1
                break
            if 0 <= limit <= len(self._buf):
                end = limit
                break
            if self._eof:
                end = len(self._buf)
                break
            self._fill(65536)
        data, self._buf = self._buf[:end], self._buf[end:]
        return data

    def readlines(self, hint=-1):
        lines, total = [], 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class Errors:
    """wsgi.errors: lines go to the worker's log."""

    def __init__(self):
        self._pending = ""

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("wsgi.errors.write() takes a str")
        self._pending += text
        while "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            _hadjango.log(line)

    def writelines(self, seq):
        for text in seq:
            self.write(text)

    def flush(self):
        if self._pending:
            _hadjango.log(self._pending)
            self._pending = ""


class FileWrapper:
    """wsgi.file_wrapper: sent with sendfile(2) when the file has a fileno()."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


errors = Errors()


def install_uwsgi_module(worker_id, numproc, masterpid, opt, started_on, version):
    """The `uwsgi` module apps import, with what real apps call."""
    m = types.ModuleType("uwsgi")
    m.worker_id = lambda: worker_id
    m.numproc = numproc
    m.masterpid = lambda: masterpid
    m.opt = opt
    m.started_on = started_on
    m.version = version.encode()
    m.version_info = tuple(int(p) for p in version.split(".")) + ("", 0)
    m.hostname = __import__("socket").gethostname().encode()
    m.setprocname = _hadjango.setprocname
    m.set_logvar = _hadjango.set_logvar
    m.reload = _hadjango.reload
    m.log = _hadjango.log
    m.SPOOL_OK, m.SPOOL_RETRY, m.SPOOL_IGNORE = -2, -1, 0
    sys.modules["uwsgi"] = m
    sys.modules["uwsgidecorators"] = _decorators(m)


def _decorators(uwsgi):
    """`uwsgidecorators`: `@postfork` (run in each worker once its apps are
    loaded; `@postfork(N)`: only in worker N) and `@thread` (run in a thread of
    its own); the decorators that need uWSGI's signals, spooler, mules, locks
    or RPC raise at use, naming themselves, rather than fail silently."""
    import threading
    d = types.ModuleType("uwsgidecorators")
    chain = []

    def postfork_chain_hook():
        for f in chain:
            f()

    class postfork:
        def __init__(self, f):
            self.wid, self.f = (0, f) if callable(f) else (f, None)
            chain.append(self)

        def __call__(self, *args, **kwargs):
            if self.f is None:  # @postfork(N): this call decorates
                self.f = args[0]
                return self
            if self.wid > 0 and self.wid != uwsgi.worker_id():
                return None
            return self.f()

    def thread(f):
        def run(*args, **kwargs):
            t = threading.Thread(target=f, args=args, kwargs=kwargs, daemon=True)
            t.start()
            return t
        return run

    def not_offered(name):
        def decorator(*args, **kwargs):
            raise NotImplementedError(f"uwsgidecorators.{name} is not offered by this server (it needs uWSGI's signals, "
                                      "spooler, mules, locks or RPC); see docs/zerg.md")
        return decorator

    d.postfork, d.postfork_chain, d.thread = postfork, chain, thread
    for name in ("timer", "rbtimer", "cron", "signal", "filemon", "spool", "spoolforever", "spoolraw", "mulefunc",
                 "mule", "muleprogram", "mulemsg_loop", "harakiri", "lock", "rpc", "farm", "farm_loop"):
        setattr(d, name, not_offered(name))
    uwsgi.post_fork_hook = postfork_chain_hook
    return d


def run_hook(name):
    """`uwsgi.post_fork_hook` (after the apps load) or `uwsgi.atexit` (when the
    worker ends), if the app set it; what it raises is logged."""
    hook = getattr(sys.modules.get("uwsgi"), name, None)
    if callable(hook):
        try:
            hook()
        except BaseException:
            traceback.print_exc()


def load_app(wsgi_file, module, callable_name):
    if wsgi_file:
        name = "uwsgi_file_" + re.sub(r"[^0-9A-Za-z]", "_", wsgi_file)
        spec = importlib.util.spec_from_file_location(name, wsgi_file)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {wsgi_file} as Python code")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        where = wsgi_file
    else:
        mod = importlib.import_module(module)
        where = module
    app = getattr(mod, callable_name, None)
    if app is None:
        raise AttributeError(f"{where} defines no `{callable_name}` (set `callable` to the WSGI callable's name)")
    if not callable(app):
        raise TypeError(f"{where}: `{callable_name}` is not callable")
    # What the app loaded lives as long as the worker: keep it out of every
    # later garbage collection (they then only walk per-request objects).
    gc.collect()
    gc.freeze()
    return app
"""#
}
