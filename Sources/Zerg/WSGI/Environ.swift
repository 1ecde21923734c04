import PythonGlue
import Shared

/// Builds PEP 3333 environ dicts. Keys are interned once; values are made
/// straight from the request's bytes.
struct EnvironBuilder {
    let keys: [String: PyPtr]
    let constants: [(PyPtr, PyPtr)]
    let serverSoftware: PyPtr

    init(interpreter: Interpreter) {
        var k: [String: PyPtr] = [:]
        for name in ["REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "REQUEST_URI", "CONTENT_TYPE",
                     "CONTENT_LENGTH", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT",
                     "wsgi.input", "HTTP_HOST", "uwsgi.node"] {
            k[name] = Py.interned(name)
        }
        keys = k
        let version = pg_tuple_new(2)!
        pg_tuple_set(version, 0, Py.int(1))
        pg_tuple_set(version, 1, Py.int(0))
        pg_incref(pg_false()); pg_incref(pg_true()); pg_incref(pg_false()); pg_incref(pg_true())
        pg_incref(interpreter.errors)
        pg_incref(interpreter.fileWrapperType)
        constants = [
            (Py.interned("wsgi.version"), version),
            (Py.interned("wsgi.url_scheme"), Py.string("http")),
            (Py.interned("wsgi.multithread"), pg_false()),
            (Py.interned("wsgi.multiprocess"), pg_true()),
            (Py.interned("wsgi.run_once"), pg_false()),
            (Py.interned("wsgi.input_terminated"), pg_true()),
            (Py.interned("wsgi.errors"), interpreter.errors),
            (Py.interned("wsgi.file_wrapper"), interpreter.fileWrapperType),
            (Py.interned("SCRIPT_NAME"), Py.string("")),
        ]
        serverSoftware = Py.interned("SERVER_SOFTWARE")
    }

    /// A new environ for the request. `contentLength` overrides the header
    /// (a decoded chunked body's length).
    func build(head: HTTPRequestHead, conn: Connection, input: PyPtr, contentLength: Int?) -> PyPtr {
        let env = pg_dict_new()!
        for (key, value) in constants { pg_dict_set(env, key, value) }
        head.bytes.withUnsafeBufferPointer { b in
            func slice(_ r: Range<Int>) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: b[r]) }
            Py.setStealing(env, keys["REQUEST_METHOD"]!, Py.latin1(slice(head.method)))
            let path = head.path.isEmpty ? [UInt8(ascii: "/")] : EnvironBuilder.percentDecoded(slice(head.path))
            Py.setStealing(env, keys["PATH_INFO"]!, path.withUnsafeBufferPointer { Py.latin1($0) })
            Py.setStealing(env, keys["QUERY_STRING"]!, Py.latin1(slice(head.query)))
            Py.setStealing(env, keys["REQUEST_URI"]!, Py.latin1(slice(head.target)))
            Py.setStealing(env, keys["SERVER_PROTOCOL"]!, Py.string(head.protocolText))

            // SERVER_NAME/PORT from Host (or the absolute-form authority), else the socket.
            if let host = head.host, !host.isEmpty {
                let hb = slice(host)
                // [v6]:port or name:port
                var colon: Int?
                if let close = hb.lastIndex(of: UInt8(ascii: "]")) {
                    if close + 1 < hb.count, hb[close + 1] == UInt8(ascii: ":") { colon = close + 1 }
                } else {
                    colon = hb.lastIndex(of: UInt8(ascii: ":"))
                }
                if let c = colon {
                    Py.setStealing(env, keys["SERVER_NAME"]!, Py.latin1(UnsafeBufferPointer(rebasing: hb[0..<c])))
                    Py.setStealing(env, keys["SERVER_PORT"]!, Py.latin1(UnsafeBufferPointer(rebasing: hb[(c + 1)...])))
                } else {
                    Py.setStealing(env, keys["SERVER_NAME"]!, Py.latin1(hb))
                    Py.setStealing(env, keys["SERVER_PORT"]!, Py.string(String(conn.local.port)))
                }
            } else {
                Py.setStealing(env, keys["SERVER_NAME"]!, Py.string(conn.local.host.isEmpty ? "localhost" : conn.local.host))
                Py.setStealing(env, keys["SERVER_PORT"]!, Py.string(String(conn.local.port)))
            }
            Py.setStealing(env, keys["REMOTE_ADDR"]!, Py.string(conn.remote.host))
            Py.setStealing(env, keys["REMOTE_PORT"]!, Py.string(String(conn.remote.port)))

            // Headers: CONTENT_TYPE/CONTENT_LENGTH bare, the rest as HTTP_*, repeats joined.
            var name: [UInt8] = []
            for field in head.fields {
                let n = slice(field.name)
                if HTTPBytes.equalsIgnoringCase(n, "content-length") {
                    if contentLength == nil {
                        Py.setStealing(env, keys["CONTENT_LENGTH"]!, Py.latin1(slice(field.value)))
                    }
                    continue
                }
                if HTTPBytes.equalsIgnoringCase(n, "content-type") {
                    Py.setStealing(env, keys["CONTENT_TYPE"]!, Py.latin1(slice(field.value)))
                    continue
                }
                if HTTPBytes.equalsIgnoringCase(n, "transfer-encoding") { continue }
                name.removeAll(keepingCapacity: true)
                name += "HTTP_".utf8
                for c in n { name.append(c == UInt8(ascii: "-") ? UInt8(ascii: "_") : (c >= 97 && c <= 122 ? c - 32 : c)) }
                let key = name.withUnsafeBufferPointer { Py.latin1($0) }
                let value = Py.latin1(slice(field.value))
                if let existing = pg_dict_get(env, key) {
                    // A repeated header: one value, joined as RFC 9110 §5.3 allows ("; " for cookies).
                    let separator = HTTPBytes.equalsIgnoringCase(n, "cookie") ? "; " : ", "
                    let joined = EnvironBuilder.join(existing, separator, value)
                    pg_decref(value)
                    Py.setStealing(env, key, joined)
                } else {
                    Py.setStealing(env, key, value)
                }
                pg_decref(key)
            }
        }
        if let length = contentLength {
            Py.setStealing(env, keys["CONTENT_LENGTH"]!, Py.string(String(length)))
        }
        pg_dict_set(env, keys["wsgi.input"]!, input)
        return env
    }

    static func join(_ a: PyPtr, _ separator: String, _ b: PyPtr) -> PyPtr {
        let sep = Py.string(separator)
        let list = pg_list_new(0)!
        pg_list_append(list, a)
        pg_list_append(list, b)
        let joined = pg_unicode_join(sep, list)!
        pg_decref(list)
        pg_decref(sep)
        return joined
    }

    /// %XX sequences decoded to bytes (PATH_INFO is the decoded path, as latin-1).
    static func percentDecoded(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        guard bytes.contains(UInt8(ascii: "%")) else { return Array(bytes) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
               let h = ChunkedDecoder.hexValue(bytes[i + 1]), let l = ChunkedDecoder.hexValue(bytes[i + 2]) {
                out.append(UInt8(h << 4 | l))
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }
}
