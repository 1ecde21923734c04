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


def install_uwsgi_module(worker_id, numproc, masterpid, opt, started_on, version, ops):
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
    _services(m, ops)
    sys.modules["uwsgi"] = m
    sys.modules["uwsgidecorators"] = _decorators(m)


signal_handlers = {}


def _services(m, ops):
    """Locks, caches and signals: `_hadjango.api(operation, ...)` with plain
    arguments (keys and values as bytes), uWSGI's signatures and return values
    (True on success, None otherwise)."""
    api = _hadjango.api

    def data(value, what):
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode()
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        raise TypeError(f"uwsgi.{what} takes str or bytes")

    def name(cache):
        return None if cache is None else cache.decode() if isinstance(cache, bytes) else str(cache)

    m.lock = lambda num=0: api(ops["lock"], int(num))
    m.unlock = lambda num=0: api(ops["unlock"], int(num))
    m.is_locked = lambda num=0: api(ops["is_locked"], int(num))

    def register_signal(num, who, handler):
        if not callable(handler):
            raise TypeError("uwsgi.register_signal(num, who, handler): handler must be callable")
        api(ops["register_signal"], int(num), who.decode() if isinstance(who, bytes) else str(who or ""))
        signal_handlers[int(num)] = handler

    def signal(num, remote=None):
        if remote:
            raise NotImplementedError("uwsgi.signal(num, remote): remote signals are not offered")
        api(ops["signal"], int(num))

    m.register_signal = register_signal
    m.signal = signal
    m.signal_registered = lambda num: True if int(num) in signal_handlers else None
    m.add_timer = lambda num, seconds: api(ops["add_timer"], int(num), int(seconds), 0)
    m.add_rb_timer = lambda num, seconds, iterations=0: api(ops["add_timer"], int(num), int(seconds), int(iterations))
    m.add_cron = lambda num, minute, hour, day, month, weekday: api(
        ops["add_cron"], int(num), int(minute), int(hour), int(day), int(month), int(weekday))

    m.cache_get = lambda key, cache=None: api(ops["cache_get"], name(cache), data(key, "cache_get"))
    m.cache_set = lambda key, value, expires=0, cache=None: api(
        ops["cache_set"], name(cache), data(key, "cache_set"), data(value, "cache_set"), int(expires))
    m.cache_update = lambda key, value, expires=0, cache=None: api(
        ops["cache_update"], name(cache), data(key, "cache_update"), data(value, "cache_update"), int(expires))
    m.cache_del = lambda key, cache=None: api(ops["cache_del"], name(cache), data(key, "cache_del"))
    m.cache_exists = lambda key, cache=None: api(ops["cache_exists"], name(cache), data(key, "cache_exists"))
    m.cache_clear = lambda cache=None: api(ops["cache_clear"], name(cache))


def dispatch_signal(num):
    """The master sent signal `num`: its handler runs (called with the number,
    as uWSGI does); what it raises is logged."""
    handler = signal_handlers.get(num)
    if handler is None:
        _hadjango.log(f"signal {num}: no handler registered in this worker")
        return
    try:
        handler(num)
    except BaseException:
        traceback.print_exc()


def _decorators(uwsgi):
    """`uwsgidecorators`: `@postfork` (run in each worker once its apps are
    loaded; `@postfork(N)`: only in worker N), `@thread` (run in a thread of
    its own), `@signal`, `@timer`, `@rbtimer`, `@cron` (signals the master
    raises), `@lock` (uwsgi lock 0 around the call); the decorators that need
    uWSGI's spooler, mules, file monitors or RPC raise at use, naming
    themselves, rather than fail silently."""
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

    def get_free_signal():
        for num in range(256):
            if not uwsgi.signal_registered(num):
                return num
        raise Exception("no free uwsgi signal available")

    class signal:
        def __init__(self, num, **kwargs):
            self.num, self.target = num, kwargs.get("target", "")

        def __call__(self, f):
            uwsgi.register_signal(self.num, self.target, f)
            return f

    class timer:
        def __init__(self, secs, **kwargs):
            self.num = kwargs["signum"] if "signum" in kwargs else get_free_signal()
            self.secs, self.target = secs, kwargs.get("target", "")

        def __call__(self, f):
            uwsgi.register_signal(self.num, self.target, f)
            uwsgi.add_timer(self.num, self.secs)
            return f

    class rbtimer(timer):
        def __call__(self, f):
            uwsgi.register_signal(self.num, self.target, f)
            uwsgi.add_rb_timer(self.num, self.secs)
            return f

    class cron:
        def __init__(self, minute, hour, day, month, dayweek, **kwargs):
            self.num = kwargs["signum"] if "signum" in kwargs else get_free_signal()
            self.when = (minute, hour, day, month, dayweek)
            self.target = kwargs.get("target", "")

        def __call__(self, f):
            uwsgi.register_signal(self.num, self.target, f)
            uwsgi.add_cron(self.num, *self.when)
            return f

    class lock:
        def __init__(self, f):
            self.f = f

        def __call__(self, *args, **kwargs):
            uwsgi.lock()
            try:
                return self.f(*args, **kwargs)
            finally:
                uwsgi.unlock()

    def not_offered(name):
        def decorator(*args, **kwargs):
            raise NotImplementedError(f"uwsgidecorators.{name} is not offered by this server (it needs uWSGI's "
                                      "spooler, mules, file monitors or RPC); see docs/zerg.md")
        return decorator

    d.postfork, d.postfork_chain, d.thread = postfork, chain, thread
    d.get_free_signal, d.signal, d.timer, d.rbtimer, d.cron, d.lock = get_free_signal, signal, timer, rbtimer, cron, lock
    for name in ("filemon", "spool", "spoolforever", "spoolraw", "mulefunc", "mule", "muleprogram", "mulemsg_loop",
                 "harakiri", "rpc", "farm", "farm_loop"):
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
