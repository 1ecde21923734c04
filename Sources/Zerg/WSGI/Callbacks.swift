import PythonGlue
import Shared

/// The native side of `_hadjango`: plain C function pointers that reach the
/// worker through `Worker.shared` (a worker serves one request at a time).
enum Callbacks {
    static func make() -> pg_callbacks {
        pg_callbacks(
            start_response: { status, headers, excInfo in
                guard let w = Worker.shared, let r = w.request, let status, let headers else {
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
                pg_incref(w.interpreter.write)
                return w.interpreter.write
            },
            write: { data in
                guard let w = Worker.shared, let r = w.request, let data else {
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
            read: { size in
                guard let w = Worker.shared, let r = w.request else {
                    return Py.raise(Int32(PG_RUNTIME_ERROR), "wsgi.input read outside a request")
                }
                w.sendContinueIfExpected(r)
                guard let bytes = r.body.read(max: size, from: r.conn, timeoutMs: w.settings.socketTimeoutMs) else {
                    return Py.raise(Int32(PG_OS_ERROR), "request body: \(r.body.error?.reason ?? "read failed")")
                }
                return Py.bytes(bytes)
            },
            log: { text, length in
                guard let text else { return }
                Log.info(String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self))
            },
            set_logvar: { key, value in
                guard let key, let value, let k = Py.text(key), let v = Py.text(value) else { return Py.newNone() }
                Worker.shared?.request?.logvars[k] = v
                return Py.newNone()
            },
            set_procname: { name in
                if let name, let title = Py.text(name) { ProcessTitle.set(title) }
                return Py.newNone()
            },
            request_reload: {
                Worker.shared?.tellMaster("reload")
                return pg_true().map { pg_incref($0); return $0 }
            })
    }
}
