import Glibc

/// Parses a request head strictly (RFC 9110/9112): anything ambiguous is
/// refused before an application could see it. Never traps on input.
public enum HTTPHeadParser {
    public enum Outcome {
        /// More bytes are needed.
        case incomplete
        /// A whole head: it used the first `consumed` bytes of the buffer.
        case complete(HTTPRequestHead, consumed: Int)
        case failed(HTTPError)
    }

    /// Looks for a complete head at the start of `buffer`. `limit` bounds the
    /// head (uWSGI's `buffer-size`): a longer request line is 414, a longer head 431.
    public static func parse(_ buffer: UnsafeBufferPointer<UInt8>, limit: Int) -> Outcome {
        // Empty lines before the request line are ignored (RFC 9112 §2.2).
        var start = 0
        while start < buffer.count, buffer[start] == HTTPBytes.cr || buffer[start] == HTTPBytes.lf {
            start += 1
            if start > 64 { return .failed(.bad("too many empty lines before the request")) }
        }
        guard let end = endOfHead(buffer, from: start) else {
            if buffer.count - start > limit {
                return .failed(firstLineLength(buffer, from: start, limit: limit) > limit
                    ? HTTPError(414, "request line longer than \(limit) bytes (buffer-size)")
                    : HTTPError(431, "request head longer than \(limit) bytes (buffer-size)"))
            }
            return .incomplete
        }
        if end - start > limit {
            return .failed(firstLineLength(buffer, from: start, limit: limit) > limit
                ? HTTPError(414, "request line longer than \(limit) bytes (buffer-size)")
                : HTTPError(431, "request head longer than \(limit) bytes (buffer-size)"))
        }
        let bytes = Array(buffer[start..<end])
        switch parseHead(bytes) {
        case .success(let head): return .complete(head, consumed: end)
        case .failure(let error): return .failed(error)
        }
    }

    public static func parse(_ bytes: [UInt8], limit: Int) -> Outcome {
        bytes.withUnsafeBufferPointer { parse($0, limit: limit) }
    }

    /// Index just past the empty line that ends the head, if present.
    static func endOfHead(_ b: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard let base = b.baseAddress else { return nil }
        var i = start
        while i < b.count {
            // memchr: the line's bytes are skipped a word at a time.
            guard let hit = memchr(base + i, Int32(HTTPBytes.lf), b.count - i) else { return nil }
            i = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            // LF LF, or LF CR LF
            if i + 1 < b.count, b[i + 1] == HTTPBytes.lf { return i + 2 }
            if i + 2 < b.count, b[i + 1] == HTTPBytes.cr, b[i + 2] == HTTPBytes.lf { return i + 3 }
            i += 1
        }
        return nil
    }

    static func firstLineLength(_ b: UnsafeBufferPointer<UInt8>, from start: Int, limit: Int) -> Int {
        var i = start
        while i < b.count && i - start <= limit {
            if b[i] == HTTPBytes.lf { return i - start }
            i += 1
        }
        return i - start
    }

    /// The line starting at `from` (CRLF or bare LF; a CR anywhere else is an
    /// error) and where the next one starts; nil past the last line.
    @inline(__always)
    static func line(_ b: UnsafeBufferPointer<UInt8>, from: Int) -> Result<(Range<Int>, next: Int), HTTPError>? {
        var i = from
        while i < b.count {
            let c = b[i]
            if c == HTTPBytes.lf { return .success((from..<i, i + 1)) }
            if c == HTTPBytes.cr {
                guard i + 1 < b.count, b[i + 1] == HTTPBytes.lf else { return .failure(.bad("a CR not followed by LF")) }
                return .success((from..<i, i + 2))
            }
            i += 1
        }
        return nil
    }

    static func parseHead(_ bytes: [UInt8]) -> Result<HTTPRequestHead, HTTPError> {
        bytes.withUnsafeBufferPointer { parseHead(bytes, $0) }
    }

    /// One pass over the head in `b` (the bytes of `bytes`): request line, then fields.
    static func parseHead(_ bytes: [UInt8], _ b: UnsafeBufferPointer<UInt8>) -> Result<HTTPRequestHead, HTTPError> {
        let requestLine: Range<Int>
        var next: Int
        switch line(b, from: 0) {
        case .none: return .failure(.bad("empty request"))
        case .failure(let e)?: return .failure(e)
        case .success(let (l, n))?: requestLine = l; next = n
        }
        if requestLine.isEmpty { return .failure(.bad("empty request")) }

        // request-line = method SP request-target SP HTTP-version
        var i = requestLine.lowerBound
        let end = requestLine.upperBound
        let methodStart = i
        while i < end, HTTPBytes.isToken(b[i]) { i += 1 }
        guard i > methodStart, i < end, b[i] == HTTPBytes.space else {
            return .failure(.bad("malformed request line (method)"))
        }
        let method = methodStart..<i
        i += 1
        let targetStart = i
        while i < end, HTTPBytes.isTargetByte(b[i]) { i += 1 }
        guard i > targetStart, i < end, b[i] == HTTPBytes.space else {
            return .failure(.bad("malformed request line (target)"))
        }
        let target = targetStart..<i
        i += 1
        let minor: Int
        if end - i == 8, b[i] == UInt8(ascii: "H"), b[i + 1] == UInt8(ascii: "T"), b[i + 2] == UInt8(ascii: "T"),
           b[i + 3] == UInt8(ascii: "P"), b[i + 4] == UInt8(ascii: "/"), b[i + 6] == UInt8(ascii: "."),
           (48...57).contains(b[i + 5]), (48...57).contains(b[i + 7]) {
            guard b[i + 5] == UInt8(ascii: "1"), b[i + 7] <= UInt8(ascii: "1") else {
                return .failure(HTTPError(505, "only HTTP/1.0 and HTTP/1.1 are served"))
            }
            minor = Int(b[i + 7] - 48)
        } else {
            return .failure(.bad("malformed request line (version)"))
        }

        // Header fields, up to the empty line that ends the head.
        var fields: [HTTPRequestHead.Field] = []
        fields.reserveCapacity(16)
        while true {
            let field: Range<Int>
            switch line(b, from: next) {
            case .none: break
            case .failure(let e)?: return .failure(e)
            case .success(let (l, n))?: field = l; next = n
                if field.isEmpty { break }
                let first = b[field.lowerBound]
                if first == HTTPBytes.space || first == HTTPBytes.tab {
                    return .failure(.bad("obsolete line folding in a header"))
                }
                var j = field.lowerBound
                while j < field.upperBound, HTTPBytes.isToken(b[j]) { j += 1 }
                guard j > field.lowerBound, j < field.upperBound else { return .failure(.bad("malformed header line")) }
                if b[j] == HTTPBytes.space || b[j] == HTTPBytes.tab {
                    return .failure(.bad("whitespace between a header name and its colon"))
                }
                guard b[j] == HTTPBytes.colon else { return .failure(.bad("malformed header name")) }
                let name = field.lowerBound..<j
                var vs = j + 1
                var ve = field.upperBound
                while vs < ve, b[vs] == HTTPBytes.space || b[vs] == HTTPBytes.tab { vs += 1 }
                while ve > vs, b[ve - 1] == HTTPBytes.space || b[ve - 1] == HTTPBytes.tab { ve -= 1 }
                var k = vs
                while k < ve {
                    guard HTTPBytes.isValueByte(b[k]) else {
                        return .failure(.bad(b[k] == 0 ? "NUL in a header value" : "control character in a header value"))
                    }
                    k += 1
                }
                fields.append(.init(name: name, value: vs..<ve))
                continue
            }
            break
        }
        return interpret(bytes: bytes, b, method: method, target: target, minor: minor, fields: fields)
    }

    /// Framing, connection handling, expectations and the target's form.
    static func interpret(bytes: [UInt8], _ b: UnsafeBufferPointer<UInt8>, method: Range<Int>, target: Range<Int>, minor: Int,
                          fields: [HTTPRequestHead.Field]) -> Result<HTTPRequestHead, HTTPError> {
        var contentLength: Int?
        var transferCodings: [String]?
        var host: Range<Int>?
        var hostCount = 0
        var keepAlive = minor == 1
        var closeAsked = false
        var expectsContinue = false
        for field in fields {
            let name = field.name
            let value = field.value
            switch name.count {
            case 14 where HTTPBytes.equalsIgnoringCase(b, name, "content-length"):
                // A list of identical values is one value (RFC 9110 §8.6); anything else is refused.
                var problem: HTTPError?
                HTTPBytes.forEachListElement(b, value, keepEmpty: true) { element in
                    guard problem == nil else { return }
                    guard let n = HTTPBytes.parseDecimal(UnsafeBufferPointer(rebasing: b[element])) else {
                        return problem = .bad("Content-Length is not a plain decimal number")
                    }
                    if let existing = contentLength, existing != n { return problem = .bad("conflicting Content-Length values") }
                    contentLength = n
                }
                if let problem { return .failure(problem) }
            case 17 where HTTPBytes.equalsIgnoringCase(b, name, "transfer-encoding"):
                transferCodings = (transferCodings ?? []) + HTTPBytes.listElements(b[value])
            case 4 where HTTPBytes.equalsIgnoringCase(b, name, "host"):
                hostCount += 1
                host = value
            case 10 where HTTPBytes.equalsIgnoringCase(b, name, "connection"):
                HTTPBytes.forEachListElement(b, value) { option in
                    if HTTPBytes.equalsIgnoringCase(b, option, "close") { closeAsked = true }
                    if minor == 0 && HTTPBytes.equalsIgnoringCase(b, option, "keep-alive") { keepAlive = true }
                }
            case 6 where HTTPBytes.equalsIgnoringCase(b, name, "expect"):
                if HTTPBytes.equalsIgnoringCase(b, value, "100-continue") {
                    expectsContinue = minor == 1
                } else {
                    return .failure(HTTPError(417, "unsupported expectation"))
                }
            default:
                break
            }
        }
        // Connection: close wins over keep-alive whatever their order.
        if closeAsked { keepAlive = false }

        var framing = BodyFraming.none
        if let codings = transferCodings {
            if contentLength != nil { return .failure(.bad("both Content-Length and Transfer-Encoding")) }
            if minor == 0 { return .failure(.bad("Transfer-Encoding in an HTTP/1.0 request")) }
            guard codings.last == "chunked" else {
                return .failure(.bad("Transfer-Encoding does not end in chunked"))
            }
            if codings.count > 1 {
                let other = codings.first { $0 != "chunked" } ?? "chunked"
                return .failure(HTTPError(501, other == "chunked" ? "chunked applied twice" : "transfer coding `\(other)` is not supported"))
            }
            framing = .chunked
        } else if let n = contentLength, n > 0 {
            framing = .length(n)
        }
        if minor == 1 && hostCount == 0 { return .failure(.bad("HTTP/1.1 request without a Host header")) }
        if hostCount > 1 { return .failure(.bad("more than one Host header")) }

        // The target: origin-form, absolute-form, or * for OPTIONS.
        var path = target
        var query = target.upperBound..<target.upperBound
        var t = target.lowerBound
        if b[t] == UInt8(ascii: "/") {
            // origin-form
        } else if target.count == 1 && b[t] == UInt8(ascii: "*") {
            guard HTTPBytes.equals(b, method, "OPTIONS") else { return .failure(.bad("`*` target on a method other than OPTIONS")) }
        } else if let schemeEnd = absoluteFormAuthorityStart(b, target) {
            var a = schemeEnd
            while a < target.upperBound, b[a] != UInt8(ascii: "/"), b[a] != UInt8(ascii: "?") { a += 1 }
            guard a > schemeEnd else { return .failure(.bad("absolute-form target without a host")) }
            host = schemeEnd..<a  // the target's authority overrides Host (RFC 9112 §3.2.2)
            t = a
            path = a..<target.upperBound
        } else {
            return .failure(.bad(HTTPBytes.equals(b, method, "CONNECT") ? "CONNECT is not supported" : "malformed request target"))
        }
        var q = t
        while q < target.upperBound && b[q] != UInt8(ascii: "?") { q += 1 }
        if q < target.upperBound {
            path = path.lowerBound..<q
            query = (q + 1)..<target.upperBound
        }
        var f = path.lowerBound
        while f < path.upperBound && b[f] != UInt8(ascii: "#") { f += 1 }
        path = path.lowerBound..<f

        return .success(HTTPRequestHead(
            bytes: bytes, method: method, target: target, path: path, query: query, minorVersion: minor,
            fields: fields, framing: framing, keepAlive: keepAlive, expectsContinue: expectsContinue, host: host))
    }

    /// For `http://` or `https://` targets (scheme case-insensitive), where the authority starts.
    static func absoluteFormAuthorityStart(_ b: UnsafeBufferPointer<UInt8>, _ target: Range<Int>) -> Int? {
        for scheme: StaticString in ["http://", "https://"] where target.count > scheme.utf8CodeUnitCount {
            let prefix = target.lowerBound..<(target.lowerBound + scheme.utf8CodeUnitCount)
            if HTTPBytes.equalsIgnoringCase(b, prefix, scheme) { return prefix.upperBound }
        }
        return nil
    }
}
