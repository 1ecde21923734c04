import PythonGlue
import Shared

/// Builds PEP 3333 environ dicts. Keys are interned once; values are made
/// straight from the request's bytes.
struct EnvironBuilder {
    /// Interned keys, as fields: the per-request path does no string hashing to find them.
    struct Keys {
        let method = Py.interned("REQUEST_METHOD")
        let pathInfo = Py.interned("PATH_INFO")
        let queryString = Py.interned("QUERY_STRING")
        let requestURI = Py.interned("REQUEST_URI")
        let contentType = Py.interned("CONTENT_TYPE")
        let contentLength = Py.interned("CONTENT_LENGTH")
        let serverName = Py.interned("SERVER_NAME")
        let serverPort = Py.interned("SERVER_PORT")
        let serverProtocol = Py.interned("SERVER_PROTOCOL")
        let remoteAddr = Py.interned("REMOTE_ADDR")
        let remotePort = Py.interned("REMOTE_PORT")
        let input = Py.interned("wsgi.input")
        let urlScheme = Py.interned("wsgi.url_scheme")
        let scriptName = Py.interned("SCRIPT_NAME")
    }

    let keys = Keys()
    /// The entries every environ has (wsgi.version, wsgi.errors...): each
    /// request's environ starts as a copy of this dict.
    let constants: PyPtr
    /// Headers named with `_` are passed (`http-allow-underscore-headers`);
    /// else dropped, since `X_A` and `X-A` would both become `HTTP_X_A`.
    let allowUnderscoreHeaders: Bool

    init(interpreter: Interpreter, allowUnderscoreHeaders: Bool, multithread: Bool) {
        self.allowUnderscoreHeaders = allowUnderscoreHeaders
        let version = pg_tuple_new(2)!
        pg_tuple_set(version, 0, Py.int(1))
        pg_tuple_set(version, 1, Py.int(0))
        let threaded = multithread ? pg_true()! : pg_false()!
        pg_incref(threaded); pg_incref(pg_true()); pg_incref(pg_false()); pg_incref(pg_true())
        pg_incref(interpreter.errors)
        pg_incref(interpreter.fileWrapperType)
        let entries: [(PyPtr, PyPtr)] = [
            (Py.interned("wsgi.version"), version),
            (Py.interned("wsgi.url_scheme"), Py.string("http")),
            (Py.interned("wsgi.multithread"), threaded),
            (Py.interned("wsgi.multiprocess"), pg_true()),
            (Py.interned("wsgi.run_once"), pg_false()),
            (Py.interned("wsgi.input_terminated"), pg_true()),
            (Py.interned("wsgi.errors"), interpreter.errors),
            (Py.interned("wsgi.file_wrapper"), interpreter.fileWrapperType),
            (Py.interned("SCRIPT_NAME"), Py.string("")),
        ]
        constants = pg_dict_new()!
        for (key, value) in entries { pg_dict_set(constants, key, value) }
    }

    /// A new environ for the request. `contentLength` overrides the header
    /// (a decoded chunked body's length); otherwise CONTENT_LENGTH is the
    /// parsed length (`5, 5` is 5), never the raw header.
    func build(head: HTTPRequestHead, conn: Connection, input: PyPtr, contentLength: Int?, mountpoint: String? = nil) -> PyPtr {
        let env = pg_dict_copy(constants)!
        head.bytes.withUnsafeBufferPointer { b in
            func slice(_ r: Range<Int>) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: b[r]) }
            Py.setStealing(env, keys.method, Py.latin1(slice(head.method)))
            var path = head.path.isEmpty ? [UInt8(ascii: "/")] : HTTPBytes.percentDecoded(slice(head.path))
            if let mountpoint, !mountpoint.isEmpty {
                // manage-script-name: the mountpoint moves from PATH_INFO to SCRIPT_NAME.
                Py.setStealing(env, keys.scriptName, Py.string(mountpoint))
                path.removeFirst(min(path.count, mountpoint.utf8.count))
            }
            Py.setStealing(env, keys.pathInfo, path.withUnsafeBufferPointer { Py.latin1($0) })
            Py.setStealing(env, keys.queryString, Py.latin1(slice(head.query)))
            Py.setStealing(env, keys.requestURI, Py.latin1(slice(head.target)))
            Py.setStealing(env, keys.serverProtocol, Py.string(head.protocolText))

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
                    Py.setStealing(env, keys.serverName, Py.latin1(UnsafeBufferPointer(rebasing: hb[0..<c])))
                    Py.setStealing(env, keys.serverPort, Py.latin1(UnsafeBufferPointer(rebasing: hb[(c + 1)...])))
                } else {
                    Py.setStealing(env, keys.serverName, Py.latin1(hb))
                    Py.setStealing(env, keys.serverPort, Py.string(String(conn.local.port)))
                }
            } else {
                Py.setStealing(env, keys.serverName, Py.string(conn.local.host.isEmpty ? "localhost" : conn.local.host))
                Py.setStealing(env, keys.serverPort, Py.string(String(conn.local.port)))
            }
            Py.setStealing(env, keys.remoteAddr, Py.string(conn.remote.host))
            Py.setStealing(env, keys.remotePort, Py.string(String(conn.remote.port)))

            // Headers: CONTENT_TYPE/CONTENT_LENGTH bare, the rest as HTTP_*, repeats joined.
            var name: [UInt8] = []
            for field in head.fields {
                let n = slice(field.name)
                if HTTPBytes.equalsIgnoringCase(n, "content-length") {
                    if contentLength == nil {
                        let length: Int
                        if case .length(let n) = head.framing { length = n } else { length = 0 }
                        Py.setStealing(env, keys.contentLength, Py.string(String(length)))
                    }
                    continue
                }
                if HTTPBytes.equalsIgnoringCase(n, "content-type") {
                    Py.setStealing(env, keys.contentType, Py.latin1(slice(field.value)))
                    continue
                }
                if HTTPBytes.equalsIgnoringCase(n, "transfer-encoding") { continue }
                if !allowUnderscoreHeaders && n.contains(UInt8(ascii: "_")) { continue }
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
            Py.setStealing(env, keys.contentLength, Py.string(String(length)))
        }
        pg_dict_set(env, keys.input, input)
        return env
    }

    /// A new environ for a uwsgi-protocol request: its vars as sent (nginx's
    /// `uwsgi_params` and any `uwsgi_param`), as uWSGI passes them, except
    /// HTTP_CONTENT_TYPE and HTTP_CONTENT_LENGTH (nginx passes every header as
    /// HTTP_*; PEP 3333 has them only as CONTENT_TYPE and CONTENT_LENGTH).
    /// `HTTPS` (`on`/`1`) or `UWSGI_SCHEME` set `wsgi.url_scheme`.
    func build(uwsgi request: UWSGIRequest, input: PyPtr, mountpoint: String? = nil) -> PyPtr {
        let env = pg_dict_copy(constants)!
        request.bytes.withUnsafeBufferPointer { b in
            for (key, value) in request.vars {
                let k = b[key]
                if k.elementsEqual("HTTP_CONTENT_TYPE".utf8) || k.elementsEqual("HTTP_CONTENT_LENGTH".utf8) { continue }
                let name = Py.latin1(UnsafeBufferPointer(rebasing: k))
                Py.setStealing(env, name, Py.latin1(UnsafeBufferPointer(rebasing: b[value])))
                pg_decref(name)
            }
        }
        if let mountpoint, !mountpoint.isEmpty, let pathInfo = request.value("PATH_INFO") {
            Py.setStealing(env, keys.scriptName, Py.string(mountpoint))
            Py.setStealing(env, keys.pathInfo, Py.string(String(pathInfo.dropFirst(mountpoint.count))))
        }
        if let scheme = request.value("UWSGI_SCHEME"), scheme == "http" || scheme == "https" {
            Py.setStealing(env, keys.urlScheme, Py.string(scheme))
        } else if let https = request.value("HTTPS"), https.lowercased() == "on" || https == "1" {
            Py.setStealing(env, keys.urlScheme, Py.string("https"))
        }
        pg_dict_set(env, keys.input, input)
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
}
