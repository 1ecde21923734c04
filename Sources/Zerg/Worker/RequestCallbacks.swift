import PythonGlue
import Shared

/// The native side of `_hadjango`: C function pointers that receive the
/// worker's `RequestRunner` as their context (kept in the module's state by
/// the C glue), so start_response, write and wsgi.input act on the runner's
/// current request without any global.
enum RequestCallbacks {
    static func runner(_ context: UnsafeMutableRawPointer?) -> RequestRunner? {
        context.map { Unmanaged<RequestRunner>.fromOpaque($0).takeUnretainedValue() }
    }

    static let table = pg_callbacks(
        start_response: { context, status, headers, excInfo in
            guard let runner = runner(context), let r = runner.current, let status, let headers else {
                return Py.raise(Int32(PG_RUNTIME_ERROR), "start_response() called outside a request")
            }
            if let excInfo, excInfo != Py.none {
                if r.response.headersSent {
                    pg_error_restore_from(excInfo)  // PEP 3333: too late to change the response
                    return nil
                }
            } else if r.response.status != nil {
                return Py.raise(Int32(PG_ASSERTION_ERROR), "start_response() called twice without exc_info")
            }
            if let problem = r.response.start(status: status, headers: headers) {
                return Py.raise(Int32(PG_VALUE_ERROR), "start_response(): \(problem)")
            }
            pg_incref(runner.interpreter.write)
            return runner.interpreter.write
        },
        write: { context, data in
            guard let r = runner(context)?.current, let data else {
                return Py.raise(Int32(PG_RUNTIME_ERROR), "write() called outside a request")
            }
            guard r.response.status != nil else {
                return Py.raise(Int32(PG_ASSERTION_ERROR), "write() before start_response()")
            }
            guard pg_is_bytes(data) != 0 else { return Py.raise(Int32(PG_TYPE_ERROR), "write() takes bytes") }
            let piece = UnsafeRawBufferPointer(start: pg_bytes_data(data), count: pg_bytes_size(data))
            let ok = r.response.headersSent ? r.response.sendBody(piece) : r.response.sendHead(knownLength: nil, first: piece)
            guard ok else { return Py.raise(Int32(PG_OS_ERROR), "client disconnected") }
            return Py.newNone()
        },
        read: { context, size in
            guard let runner = runner(context), let r = runner.current else {
                return Py.raise(Int32(PG_RUNTIME_ERROR), "wsgi.input read outside a request")
            }
            runner.sendContinueIfExpected(r)
            guard let bytes = r.body.read(max: size, from: r.conn, timeoutMs: runner.settings.socketTimeoutMs) else {
                return Py.raise(Int32(PG_OS_ERROR), "request body: \(r.body.error?.reason ?? "read failed")")
            }
            return Py.bytes(bytes)
        },
        log: { _, text, length in
            guard let text else { return }
            Log.info(String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self))
        },
        set_logvar: { context, key, value in
            guard let key, let value, let k = Py.text(key), let v = Py.text(value) else { return Py.newNone() }
            runner(context)?.current?.logvars[k] = v
            return Py.newNone()
        },
        set_procname: { _, name in
            if let name, let title = Py.text(name) { ProcessTitle.set(title) }
            return Py.newNone()
        },
        request_reload: { context in
            runner(context)?.onReloadRequest()
            return pg_true().map { pg_incref($0); return $0 }
        },
        api: ModuleServices.callback)
}
