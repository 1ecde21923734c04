/// A request in uWSGI's binary protocol (what nginx's `uwsgi_pass` sends): a
/// 4-byte header (modifier1, the size of the vars as 16 bits little-endian,
/// modifier2), then the vars, each a 16-bit little-endian key length, the key,
/// a 16-bit value length, the value; the request body follows. The vars are
/// the CGI environ itself (REQUEST_METHOD, PATH_INFO, HTTP_HOST…): the app
/// gets them as sent. A connection carries one request; the response is
/// written as HTTP (status line, headers, body) and the connection closed.
public struct UWSGIRequest: Sendable {
    /// The header and the vars, as received.
    public let bytes: [UInt8]
    public let modifier1: UInt8
    public let modifier2: UInt8
    /// Each var as byte ranges into `bytes`, in the order sent.
    public let vars: [(key: Range<Int>, value: Range<Int>)]
    /// The same request as an HTTP head (method, target, Host, the HTTP_*
    /// headers, Content-Length), for what serves both protocols alike: the
    /// body's framing, the log line, retries. HTTP/1.0 without keep-alive: the
    /// response is delimited by the close, as uWSGI does.
    public let head: HTTPRequestHead

    /// The header's size.
    public static let headerSize = 4
    /// modifier1 of a WSGI request (the only one served here).
    public static let wsgiModifier: UInt8 = 0

    public func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }

    /// The value of a var, if sent.
    public func value(_ key: String) -> String? { Self.value(key, bytes, vars) }

    static func value(_ key: String, _ bytes: [UInt8], _ vars: [(key: Range<Int>, value: Range<Int>)]) -> String? {
        vars.first { bytes[$0.key].elementsEqual(key.utf8) }.map { String(decoding: bytes[$0.value], as: UTF8.self) }
    }

    public enum Outcome {
        case incomplete
        /// A whole packet: it used the first `consumed` bytes of the buffer.
        case complete(UWSGIRequest, consumed: Int)
        case failed(HTTPError)
    }

    /// Looks for a whole packet at the start of `buffer`; `limit` bounds its
    /// size (uWSGI's `buffer-size`: nginx's large headers need it raised).
    public static func parse(_ buffer: UnsafeBufferPointer<UInt8>, limit: Int) -> Outcome {
        guard buffer.count >= headerSize else { return .incomplete }
        let size = Int(buffer[1]) | Int(buffer[2]) << 8
        if headerSize + size > limit {
            return .failed(HTTPError(431, "uwsgi request of \(headerSize + size) bytes is larger than buffer-size (\(limit)); raise buffer-size"))
        }
        guard buffer.count >= headerSize + size else { return .incomplete }
        let bytes = Array(buffer[0..<(headerSize + size)])
        var vars: [(key: Range<Int>, value: Range<Int>)] = []
        var i = headerSize
        func field() -> Range<Int>? {
            guard i + 2 <= bytes.count else { return nil }
            let n = Int(bytes[i]) | Int(bytes[i + 1]) << 8
            guard i + 2 + n <= bytes.count else { return nil }
            defer { i += 2 + n }
            return (i + 2)..<(i + 2 + n)
        }
        while i < bytes.count {
            guard let key = field(), let value = field(), !key.isEmpty else {
                return .failed(HTTPError(400, "malformed uwsgi vars (a length runs past the packet)"))
            }
            vars.append((key, value))
        }
        switch httpHead(bytes, vars) {
        case .success(let head):
            return .complete(UWSGIRequest(bytes: bytes, modifier1: buffer[0], modifier2: buffer[3], vars: vars, head: head),
                             consumed: bytes.count)
        case .failure(let error):
            return .failed(error)
        }
    }

    public static func parse(_ bytes: [UInt8], limit: Int) -> Outcome {
        bytes.withUnsafeBufferPointer { parse($0, limit: limit) }
    }

    /// The HTTP head the vars describe (checked like any HTTP head).
    static func httpHead(_ bytes: [UInt8], _ vars: [(key: Range<Int>, value: Range<Int>)]) -> Result<HTTPRequestHead, HTTPError> {
        func value(_ key: String) -> String? { Self.value(key, bytes, vars) }
        let method = value("REQUEST_METHOD") ?? "GET"
        var target = value("REQUEST_URI") ?? ""
        if target.isEmpty {
            let path = value("PATH_INFO") ?? "/"
            let query = value("QUERY_STRING") ?? ""
            target = (path.isEmpty ? "/" : path) + (query.isEmpty ? "" : "?" + query)
        }
        var text = "\(method) \(target) HTTP/1.0\r\n"
        var hasHost = false
        for (key, value) in vars {
            let k = bytes[key]
            guard k.starts(with: "HTTP_".utf8), k.count > 5 else { continue }
            let name = String(decoding: k.dropFirst(5).map { $0 == UInt8(ascii: "_") ? UInt8(ascii: "-") : $0 }, as: UTF8.self)
            let lower = name.lowercased()
            // Framing is the server's: the body is the CONTENT_LENGTH bytes that follow.
            if lower == "content-length" || lower == "transfer-encoding" || lower == "connection" || lower == "expect" { continue }
            if lower == "host" { hasHost = true }
            if bytes[value].contains(where: { $0 == HTTPBytes.cr || $0 == HTTPBytes.lf }) {
                return .failure(HTTPError(400, "uwsgi var \(String(decoding: k, as: UTF8.self)) holds a line break"))
            }
            text += "\(name): \(String(decoding: bytes[value], as: UTF8.self))\r\n"
        }
        if !hasHost, let server = value("SERVER_NAME"), !server.isEmpty { text += "Host: \(server)\r\n" }
        if let length = value("CONTENT_LENGTH"), !length.isEmpty {
            guard HTTPBytes.parseDecimal(Array(length.utf8)) != nil else {
                return .failure(HTTPError(400, "uwsgi CONTENT_LENGTH \(length.debugDescription) is not a number"))
            }
            text += "Content-Length: \(length)\r\n"
        }
        text += "\r\n"
        switch HTTPHeadParser.parse(Array(text.utf8), limit: Int.max) {
        case .complete(var head, _):
            head.keepAlive = false
            return .success(head)
        case .failed(let error):
            return .failure(HTTPError(error.status, "uwsgi vars: \(error.reason)"))
        case .incomplete:
            return .failure(HTTPError(400, "uwsgi vars do not make a request"))
        }
    }
}
