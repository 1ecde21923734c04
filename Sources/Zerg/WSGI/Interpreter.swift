#if canImport(Glibc)
import Glibc
#endif
import PythonGlue
import Shared

/// The worker's one CPython interpreter: started with the build's venv and
/// paths, the bootstrap run, the app loaded.
final class Interpreter {
    struct LoadError: Error {
        let summary: String
        let traceback: String
    }

    let bootstrap: PyPtr
    let inputType: PyPtr
    let errors: PyPtr
    let fileWrapperType: PyPtr
    let startResponse: PyPtr
    let write: PyPtr
    /// `_hadjango`, whose state holds the callbacks and their context.
    let native: PyPtr
    /// The loaded apps, in `AppMounts` order.
    private(set) var apps: [PyPtr] = []

    /// Starts the interpreter. A `home` with a pyvenv.cfg is a virtualenv and is
    /// started as its own bin/python would be; any other `home` is a PYTHONHOME.
    init(settings: ZergSettings, callbacks: pg_callbacks) throws {
        // Without a venv, Python must configure itself as Debian's python3.11
        // (whose libpython this is), not as whatever python3 is first on PATH.
        var venvPython: String? = ["/usr/bin/python3.11", "/usr/bin/python3"].first { FileSystem.exists($0) }
        var pythonHome: String?
        if let home = settings.home {
            venvPython = nil
            if FileSystem.exists(FileSystem.joined(home, "pyvenv.cfg")) {
                let candidates = ["bin/python3", "bin/python"].map { FileSystem.joined(home, $0) }
                venvPython = candidates.first { FileSystem.exists($0) } ?? candidates[0]
            } else {
                pythonHome = home
            }
        }
        var error: UnsafeMutablePointer<CChar>?
        if pg_initialize(venvPython, pythonHome, &error) != 0 {
            let message = error.map { String(cString: $0) } ?? "unknown error"
            free(error)
            throw LoadError(summary: "Python did not start: \(message)", traceback: "")
        }
        // python-path entries first (in order), then the working directory, as uWSGI puts them.
        let sysPath = pg_sys_path()!
        for (i, entry) in settings.pythonPath.enumerated() {
            let s = Py.string(entry)
            pg_list_insert(sysPath, i, s)
            pg_decref(s)
        }
        let dot = Py.string(".")
        pg_list_insert(sysPath, settings.pythonPath.count, dot)
        pg_decref(dot)

        var cb = callbacks
        guard let native = pg_install_native_module(&cb) else {
            let e = Py.fetchException()
            throw LoadError(summary: "cannot create the _hadjango module: \(e?.summary ?? "?")", traceback: e?.traceback ?? "")
        }
        self.native = native

        guard let module = pg_run_module("_hadjango_bootstrap", Bootstrap.source) else {
            let e = Py.fetchException()
            throw LoadError(summary: "bootstrap failed: \(e?.summary ?? "?")", traceback: e?.traceback ?? "")
        }
        bootstrap = module
        func attribute(_ object: PyPtr, _ name: String) -> PyPtr { pg_getattr(object, name)! }
        inputType = attribute(module, "Input")
        errors = attribute(module, "errors")
        fileWrapperType = attribute(module, "FileWrapper")
        startResponse = attribute(native, "start_response")
        write = attribute(native, "write")
    }

    /// What the `_hadjango` callbacks called on this thread receive as their
    /// context (this thread's request runner).
    func setCallbackContext(_ context: UnsafeMutableRawPointer) {
        pg_set_callback_context(context)
    }

    /// Creates the `uwsgi` module, its process-wide calls served by `services`
    /// (kept for the life of the process).
    func installUWSGIModule(workerID: Int, numproc: Int, masterPID: Int32, options: [(String, String)], services: ModuleServices) {
        pg_set_services(native, Unmanaged.passRetained(services).toOpaque())
        let opt = pg_dict_new()!
        for (key, value) in options {
            let k = Py.string(key)
            let v = Py.string(value)
            if let existing = pg_dict_get(opt, k) {  // borrowed: repeated keys become a list, as in uWSGI
                if pg_is_list(existing) != 0 {
                    pg_list_append(existing, v)
                } else {
                    let list = pg_list_new(0)!
                    pg_list_append(list, existing)
                    pg_list_append(list, v)
                    pg_dict_set(opt, k, list)
                    pg_decref(list)
                }
            } else {
                pg_dict_set(opt, k, v)
            }
            pg_decref(k)
            pg_decref(v)
        }
        let operations = pg_dict_new()!
        for operation in ModuleServices.Operation.allCases {
            let key = Py.string(operation.pythonName)
            Py.setStealing(operations, key, Py.int(operation.rawValue))
            pg_decref(key)
        }
        let args = pg_tuple_new(7)!
        pg_tuple_set(args, 6, operations)
        pg_tuple_set(args, 0, Py.int(workerID))
        pg_tuple_set(args, 1, Py.int(numproc))
        pg_tuple_set(args, 2, Py.int(Int(masterPID)))
        pg_tuple_set(args, 3, opt)
        pg_tuple_set(args, 4, Py.int(Int(Timestamp.now().seconds)))
        pg_tuple_set(args, 5, Py.string(Version.string))
        call("install_uwsgi_module", args)
    }

    /// Imports every app (`wsgi-file` or `module`, and the `mount`s) and finds their callables.
    func loadApps(_ mounts: AppMounts) throws {
        for app in mounts.apps {
            let args = pg_tuple_new(3)!
            pg_tuple_set(args, 0, app.file.map(Py.string) ?? Py.newNone())
            pg_tuple_set(args, 1, app.module.map(Py.string) ?? Py.newNone())
            pg_tuple_set(args, 2, Py.string(app.callable))
            guard let loaded = call("load_app", args) else {
                let e = Py.fetchException()
                let at = app.mountpoint.isEmpty ? "" : " (mounted at \(app.mountpoint))"
                throw LoadError(summary: (e?.summary ?? "the app did not load") + at, traceback: e?.traceback ?? "")
            }
            apps.append(loaded)
        }
    }

    /// `uwsgi.post_fork_hook` or `uwsgi.atexit`, when the app set it (with the GIL held).
    func runHook(_ name: String) {
        let args = pg_tuple_new(1)!
        pg_tuple_set(args, 0, Py.string(name))
        if let result = call("run_hook", args) { pg_decref(result) } else { pg_error_clear() }
    }

    /// Runs the handler the app registered for a uWSGI signal (with the GIL held);
    /// what it raises is logged.
    func dispatchSignal(_ number: UInt8) {
        let args = pg_tuple_new(1)!
        pg_tuple_set(args, 0, Py.int(Int(number)))
        if let result = call("dispatch_signal", args) { pg_decref(result) } else { pg_error_clear() }
    }

    /// Calls a bootstrap function; consumes `args`; returns a new reference or nil (exception pending).
    @discardableResult
    private func call(_ name: String, _ args: PyPtr) -> PyPtr? {
        let function = pg_getattr(bootstrap, name)!
        defer { pg_decref(function); pg_decref(args) }
        return pg_call(function, args, nil)
    }

    /// Releases the calling thread's hold of the GIL for good (a worker's main
    /// thread, once its request threads run); a no-op when released already.
    func releaseGIL() { _ = pg_release_gil() }

    /// Takes back what `releaseGIL` released on this thread.
    func acquireGIL() { _ = pg_acquire_gil() }

    /// Runs `body` (a wait) without the GIL, and takes it back after if this
    /// thread held it: the app's other threads, and the worker's other request
    /// threads, run meanwhile.
    @inline(__always)
    static func withoutGIL<T>(_ body: () throws -> T) rethrows -> T {
        let released = pg_release_gil() != 0
        defer { if released { _ = pg_acquire_gil() } }
        return try body()
    }

    /// Runs `body` (Python) with the GIL: taken for it when this thread runs
    /// without (a request thread between requests), and released after.
    @inline(__always)
    static func withGIL<T>(_ body: () throws -> T) rethrows -> T {
        let acquired = pg_acquire_gil() != 0
        defer { if acquired { _ = pg_release_gil() } }
        return try body()
    }
}
