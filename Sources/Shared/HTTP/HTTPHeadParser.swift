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
        var i = start
        while i < b.count {
            if b[i] == HTTPBytes.lf {
                // LF LF, or LF CR LF
                if i + 1 < b.count, b[i + 1] == HTTPBytes.lf { return i + 2 }
                if i + 2 < b.count, b[i + 1] == HTTPBytes.cr, b[i + 2] == HTTPBytes.lf { return i + 3 }
            }
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

    /// Splits into lines (CRLF or bare LF; a CR anywhere else is an error).
    static func lines(_ bytes: [UInt8]) -> Result<[Range<Int>], HTTPError> {
        var out: [Range<Int>] = []
        var lineStart = 0
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == HTTPBytes.lf {
                out.append(lineStart..<i)
                lineStart = i + 1
            } else if c == HTTPBytes.cr {
                guard i + 1 < bytes.count, bytes[i + 1] == HTTPBytes.lf else {
                    return .failure(.bad("a CR not followed by LF"))
                }
                out.append(lineStart..<i)
                i += 1
                lineStart = i + 1
            }
            i += 1
        }
        // The last line is the empty one that ends the head.
        if let last = out.last, last.isEmpty { out.removeLast() }
        return .success(out)
    }

    static func parseHead(_ bytes: [UInt8]) -> Result<HTTPRequestHead, HTTPError> {
        let lineRanges: [Range<Int>]
        switch lines(bytes) {
        case .success(let l): lineRanges = l
        case .failure(let e): return .failure(e)
        }
        guard let requestLine = lineRanges.first else { return .failure(.bad("empty request")) }

        // request-line = method SP request-target SP HTTP-version
        var i = requestLine.lowerBound
        let end = requestLine.upperBound
        let methodStart = i
        while i < end, HTTPBytes.isToken(bytes[i]) { i += 1 }
        guard i > methodStart, i < end, bytes[i] == HTTPBytes.space else {
            return .failure(.bad("malformed request line (method)"))
        }
        let method = methodStart..<i
        i += 1
        let targetStart = i
        while i < end, HTTPBytes.isTargetByte(bytes[i]) { i += 1 }
        guard i > targetStart, i < end, bytes[i] == HTTPBytes.space else {
            return .failure(.bad("malformed request line (target)"))
        }
        let target = targetStart..<i
        i += 1
        let version = Array(bytes[i..<end])
        let minor: Int
        if version.elementsEqual("HTTP/1.1".utf8) {
            minor = 1
        } else if version.elementsEqual("HTTP/1.0".utf8) {
            minor = 0
        } else if version.count == 8, version.starts(with: "HTTP/".utf8), version[6] == UInt8(ascii: "."),
                  (48...57).contains(version[5]), (48...57).contains(version[7]) {
            return .failure(HTTPError(505, "only HTTP/1.0 and HTTP/1.1 are served"))
        } else {
            return .failure(.bad("malformed request line (version)"))
        }

        // Header fields.
        var fields: [HTTPRequestHead.Field] = []
        fields.reserveCapacity(lineRanges.count - 1)
        for line in lineRanges.dropFirst() {
            guard !line.isEmpty else { continue }
            let first = bytes[line.lowerBound]
            if first == HTTPBytes.space || first == HTTPBytes.tab {
                return .failure(.bad("obsolete line folding in a header"))
            }
            var j = line.lowerBound
            while j < line.upperBound, HTTPBytes.isToken(bytes[j]) { j += 1 }
            guard j > line.lowerBound, j < line.upperBound else { return .failure(.bad("malformed header line")) }
            if bytes[j] == HTTPBytes.space || bytes[j] == HTTPBytes.tab {
                return .failure(.bad("whitespace between a header name and its colon"))
            }
            guard bytes[j] == HTTPBytes.colon else { return .failure(.bad("malformed header name")) }
            let name = line.lowerBound..<j
            var vs = j + 1
            var ve = line.upperBound
            while vs < ve, bytes[vs] == HTTPBytes.space || bytes[vs] == HTTPBytes.tab { vs += 1 }
            while ve > vs, bytes[ve - 1] == HTTPBytes.space || bytes[ve - 1] == HTTPBytes.tab { ve -= 1 }
            for k in vs..<ve where !HTTPBytes.isValueByte(bytes[k]) {
                return .failure(.bad(bytes[k] == 0 ? "NUL in a header value" : "control character in a header value"))
            }
            fields.append(.init(name: name, value: vs..<ve))
        }
        return interpret(bytes: bytes, method: method, target: target, minor: minor, fields: fields)
    }

    /// Framing, connection handling, expectations and the target's form.
    static func interpret(bytes: [UInt8], method: Range<Int>, target: Range<Int>, minor: Int,
                          fields: [HTTPRequestHead.Field]) -> Result<HTTPRequestHead, HTTPError> {
        var contentLength: Int?
        var transferCodings: [String]?
        var host: Range<Int>?
        var hostCount = 0
        var keepAlive = minor == 1
        var closeAsked = false
        var expectsContinue = false
        for field in fields {
            let name = bytes[field.name]
            let value = bytes[field.value]
            switch name.count {
            case 14 where HTTPBytes.equalsIgnoringCase(name, "content-length"):
                // A list of identical values is one value (RFC 9110 §8.6); anything else is refused.
                let parts = value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
                for part in parts {
                    let trimmed = Array(part).drop { $0 == HTTPBytes.space || $0 == HTTPBytes.tab }
                    let digits = Array(trimmed.reversed().drop { $0 == HTTPBytes.space || $0 == HTTPBytes.tab }.reversed())
                    guard let n = HTTPBytes.parseDecimal(digits) else {
                        return .failure(.bad("Content-Length is not a plain decimal number"))
                    }
                    if let existing = contentLength, existing != n {
                        return .failure(.bad("conflicting Content-Length values"))
                    }
                    contentLength = n
                }
            case 17 where HTTPBytes.equalsIgnoringCase(name, "transfer-encoding"):
                transferCodings = (transferCodings ?? []) + HTTPBytes.listElements(value)
            case 4 where HTTPBytes.equalsIgnoringCase(name, "host"):
                hostCount += 1
                host = field.value
            case 10 where HTTPBytes.equalsIgnoringCase(name, "connection"):
                for option in HTTPBytes.listElements(value) {
                    if option == "close" { closeAsked = true }
                    if option == "keep-alive" && minor == 0 { keepAlive = true }
                }
            case 6 where HTTPBytes.equalsIgnoringCase(name, "expect"):
                if HTTPBytes.equalsIgnoringCase(value, "100-continue") {
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
        if bytes[t] == UInt8(ascii: "/") {
            // origin-form
        } else if bytes[target].elementsEqual("*".utf8) {
            guard bytes[method].elementsEqual("OPTIONS".utf8) else { return .failure(.bad("`*` target on a method other than OPTIONS")) }
        } else if let schemeEnd = absoluteFormAuthorityStart(bytes, target) {
            var a = schemeEnd
            while a < target.upperBound, bytes[a] != UInt8(ascii: "/"), bytes[a] != UInt8(ascii: "?") { a += 1 }
            guard a > schemeEnd else { return .failure(.bad("absolute-form target without a host")) }
            host = schemeEnd..<a  // the target's authority overrides Host (RFC 9112 §3.2.2)
            t = a
            path = a..<target.upperBound
        } else {
            return .failure(.bad(bytes[method].elementsEqual("CONNECT".utf8) ? "CONNECT is not supported" : "malformed request target"))
        }
        if let q = bytes[t..<target.upperBound].firstIndex(of: UInt8(ascii: "?")) {
            path = path.lowerBound..<q
            query = (q + 1)..<target.upperBound
        }
        if let fragment = bytes[path].firstIndex(of: UInt8(ascii: "#")) { path = path.lowerBound..<fragment }

        return .success(HTTPRequestHead(
            bytes: bytes, method: method, target: target, path: path, query: query, minorVersion: minor,
            fields: fields, framing: framing, keepAlive: keepAlive, expectsContinue: expectsContinue, host: host))
    }

    /// For `http://` or `https://` targets (scheme case-insensitive), where the authority starts.
    static func absoluteFormAuthorityStart(_ bytes: [UInt8], _ target: Range<Int>) -> Int? {
        for scheme in ["http://", "https://"] where target.count > scheme.utf8.count {
            let prefix = bytes[target.lowerBound..<(target.lowerBound + scheme.utf8.count)]
            if HTTPBytes.equalsIgnoringCase(prefix, scheme) { return target.lowerBound + scheme.utf8.count }
        }
        return nil
    }
}
