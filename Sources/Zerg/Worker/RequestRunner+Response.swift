import PythonGlue
import Shared

/// The response side of running a request: what the app returned, iterated
/// and sent (a list at once, an iterator piece by piece, a file with sendfile),
/// and the iterable's close().
extension RequestRunner {
    /// Sends what the app returned.
    func emit(_ result: PyPtr, _ r: RequestState) {
        let response = r.response
        if pg_is_list(result) != 0 || pg_is_tuple(result) != 0 {
            let count = pg_sequence_size(result)
            var total = 0
            for i in 0..<count {
                let item = pg_sequence_item(result, i)!
                guard pg_is_bytes(item) != 0 else {
                    pg_set_error(Int32(PG_TYPE_ERROR), "the app's response iterable yielded a non-bytes item (item \(i))")
                    return appFailed(r)
                }
                total += pg_bytes_size(item)
            }
            guard response.status != nil else {
                pg_set_error(Int32(PG_ASSERTION_ERROR), "the app returned without calling start_response()")
                return appFailed(r)
            }
            for i in 0..<count {
                let item = pg_sequence_item(result, i)!
                let piece = UnsafeRawBufferPointer(start: pg_bytes_data(item), count: pg_bytes_size(item))
                let ok = response.headersSent ? response.sendBody(piece) : response.sendHead(knownLength: total, first: piece)
                if !ok { return }
            }
            if !response.headersSent { response.sendHead(knownLength: 0) }
            return
        }
        if pg_is_instance(result, interpreter.fileWrapperType) != 0, sendFile(result, r) { return }
        guard let iterator = pg_iter(result) else { return appFailed(r) }
        defer { pg_decref(iterator) }
        while let item = pg_next(iterator) {
            defer { pg_decref(item) }
            guard pg_is_bytes(item) != 0 else {
                pg_set_error(Int32(PG_TYPE_ERROR), "the app's response iterable yielded a non-bytes item")
                return appFailed(r)
            }
            guard response.status != nil else {
                pg_set_error(Int32(PG_ASSERTION_ERROR), "the app yielded a body before calling start_response()")
                return appFailed(r)
            }
            let piece = UnsafeRawBufferPointer(start: pg_bytes_data(item), count: pg_bytes_size(item))
            if piece.isEmpty && !response.headersSent { continue }  // PEP 3333: empty strings do not start the response
            let ok = response.headersSent ? response.sendBody(piece) : response.sendHead(knownLength: nil, first: piece)
            if !ok { return }  // the client is gone: stop iterating (close() is still called)
        }
        if pg_error_pending() != 0 { return appFailed(r) }
        guard response.status != nil else {
            pg_set_error(Int32(PG_ASSERTION_ERROR), "the app returned without calling start_response()")
            return appFailed(r)
        }
        if !response.headersSent { response.sendHead(knownLength: 0) }
    }

    /// wsgi.file_wrapper over a real file: sendfile(2) from its current offset.
    func sendFile(_ wrapper: PyPtr, _ r: RequestState) -> Bool {
        guard r.response.status != nil, let filelike = pg_getattr(wrapper, "filelike") else { pg_error_clear(); return false }
        defer { pg_decref(filelike) }
        guard pg_hasattr(filelike, "fileno") != 0, let number = pg_call_method0(filelike, "fileno") else { pg_error_clear(); return false }
        let raw = Int32(truncatingIfNeeded: pg_long_value(number))
        pg_decref(number)
        if pg_error_pending() != 0 { pg_error_clear(); return false }
        guard let st = try? FileSystem.status("/proc/self/fd/\(raw)"), st.isRegularFile else { return false }
        let file = FileDescriptor(rawValue: raw)  // the app's: not closed here
        guard file.isReadableFile else { return false }  // iterated instead
        var offset = (try? file.offset()) ?? 0
        let length = Int(max(0, st.size - offset))
        let response = r.response
        guard response.sendHead(knownLength: length) else { return true }
        guard response.bodyAllowed else { return true }
        var count = length
        if case .length(let n) = response.framing { count = min(n, length) }
        response.bodyBytes += r.conn.sendFile(file, offset: &offset, count: count, timeoutMs: settings.socketTimeoutMs)
        return true
    }

    /// The iterable's close() is always called, whatever happened.
    func callClose(_ result: PyPtr) {
        if pg_call_close(result) < 0, let e = Py.fetchException() {
            Log.info("the response iterable's close() raised \(e.summary)\n\(e.traceback)")
        }
    }
}
