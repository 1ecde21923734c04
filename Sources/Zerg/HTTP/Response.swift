import PythonGlue
import Shared

/// The response side of one request: what the app passed to
/// start_response, and what has been written to the client.
final class Response {
    let conn: Connection
    let head: HTTPRequestHead
    let timeoutMs: Int32
    /// The worker's Date header cache.
    let clock: HTTPDate

    var status: [UInt8]?
    var statusCode = 0
    var headerBlock: [UInt8] = []
    var hasDate = false
    var appLength: Int?
    var headersSent = false
    var framing: ResponseFraming = .none
    var keepAlive: Bool
    var bodyBytes = 0
    var headBytes = 0
    var truncated = false

    init(conn: Connection, head: HTTPRequestHead, timeoutMs: Int32, clock: HTTPDate) {
        self.conn = conn
        self.head = head
        self.timeoutMs = timeoutMs
        self.clock = clock
        keepAlive = head.keepAlive
    }

    /// start_response(status, headers): checks everything PEP 3333 and HTTP
    /// require; a problem raises in the app (and so ends as a 500).
    func start(status statusObject: PyPtr, headers: PyPtr) -> String? {
        var holder: PyPtr?
        var length = 0
        guard let p = pg_latin1(statusObject, &length, &holder) else { return "status must be a latin-1 str" }
        let statusBytes = Array(UnsafeRawBufferPointer(start: p, count: length))
        pg_xdecref(holder)
        guard let code = statusBytes.withUnsafeBytes({ HTTPResponseHead.statusCode(of: $0) }) else {
            return "invalid status \(String(decoding: statusBytes, as: UTF8.self).debugDescription): expected `DDD reason`"
        }
        // A 1xx is never a final response (RFC 9110 §15.2): the client would wait for the real one.
        guard code >= 200 else {
            return "status \(String(decoding: statusBytes, as: UTF8.self).debugDescription) is informational (1xx), not a final response"
        }
        guard pg_is_list(headers) != 0 || pg_is_tuple(headers) != 0 else { return "headers must be a list of (name, value) tuples" }
        var block: [UInt8] = []
        block.reserveCapacity(512)  // one allocation for a typical app's headers
        var date = false
        var length_: Int?
        var close = false
        for i in 0..<pg_sequence_size(headers) {
            let item = pg_sequence_item(headers, i)!
            guard pg_is_tuple(item) != 0, pg_sequence_size(item) == 2 else { return "header \(i) is not a (name, value) tuple" }
            var nh: PyPtr?, vh: PyPtr?
            var nl = 0, vl = 0
            guard let np = pg_latin1(pg_sequence_item(item, 0), &nl, &nh) else { return "header \(i): name must be a latin-1 str" }
            defer { pg_xdecref(nh) }
            guard let vp = pg_latin1(pg_sequence_item(item, 1), &vl, &vh) else { return "header \(i): value must be a latin-1 str" }
            defer { pg_xdecref(vh) }
            let name = UnsafeRawBufferPointer(start: np, count: nl)
            let value = UnsafeRawBufferPointer(start: vp, count: vl)
            guard HTTPResponseHead.isValidName(name) else { return "invalid header name \(String(decoding: name, as: UTF8.self).debugDescription)" }
            guard HTTPResponseHead.isValidValue(value) else { return "header \(String(decoding: name, as: UTF8.self)): value holds a control character" }
            if HTTPBytes.equalsIgnoringCase(name, "content-length") {
                guard let n = HTTPBytes.parseDecimal(value) else { return "Content-Length is not a number" }
                length_ = n
            } else if HTTPBytes.equalsIgnoringCase(name, "connection") {
                // Hop-by-hop: the server owns it; "close" is honoured.
                if HTTPBytes.listElements(value).contains("close") { close = true }
                continue
            } else if HTTPBytes.equalsIgnoringCase(name, "transfer-encoding") {
                return "Transfer-Encoding is the server's to set (PEP 3333 hop-by-hop headers)"
            } else if HTTPBytes.equalsIgnoringCase(name, "date") {
                date = true
            }
            block.append(contentsOf: name)
            block += ": ".utf8
            block.append(contentsOf: value)
            block += "\r\n".utf8
        }
        self.status = statusBytes
        statusCode = code
        headerBlock = block
        hasDate = date
        appLength = length_
        if close { keepAlive = false }
        return nil
    }

    var bodyAllowed: Bool { HTTPResponseHead.bodyAllowed(status: statusCode, isHead: head.isHead) }

    /// Chooses the framing: the app's Content-Length; else `knownLength`
    /// (a list body); else chunked on 1.1; else close-delimited.
    func chooseFraming(knownLength: Int?) {
        if let n = appLength {
            framing = .length(n)
        } else if !bodyAllowed {
            // HEAD of a list body: the length GET would send; 204/304/1xx: nothing.
            framing = head.isHead && knownLength != nil && statusCode >= 200 ? .length(knownLength!) : .none
        } else if let n = knownLength {
            framing = .length(n)
        } else if head.minorVersion == 1 {
            framing = .chunked
        } else {
            framing = .close
            keepAlive = false
        }
    }

    /// Writes the head, followed by `first` in the same write when given.
    @discardableResult
    func sendHead(knownLength: Int?, first: UnsafeRawBufferPointer? = nil) -> Bool {
        chooseFraming(knownLength: knownLength)
        var out: [UInt8] = []
        HTTPResponseHead.serialize(
            status: status!, headerBlock: headerBlock, date: hasDate ? nil : clock.now(), minorVersion: head.minorVersion,
            framing: framing, keepAlive: keepAlive, appSetLength: appLength != nil, into: &out)
        headBytes = out.count
        headersSent = true
        if let first, bodyAllowed, case .length(let n) = framing, first.count <= n, !first.isEmpty {
            // The common case (a whole body of known length): head and body in one writev.
            bodyBytes += first.count
            return conn.write(head: out, body: first, timeoutMs: timeoutMs)
        }
        if let first { appendBody(first, to: &out) }
        return conn.write(out, timeoutMs: timeoutMs)
    }

    /// Writes a body piece with the chosen framing; a Content-Length is never exceeded.
    @discardableResult
    func sendBody(_ data: UnsafeRawBufferPointer) -> Bool {
        guard !data.isEmpty else { return !conn.broken }
        var out: [UInt8] = []
        appendBody(data, to: &out)
        return out.isEmpty ? !conn.broken : conn.write(out, timeoutMs: timeoutMs)
    }

    private func appendBody(_ data: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        guard bodyAllowed, !data.isEmpty else { return }
        switch framing {
        case .length(let n):
            let room = n - bodyBytes
            if data.count > room {
                if !truncated { Log.info("the app sent more than its Content-Length (\(n)); extra bytes dropped") }
                truncated = true
            }
            let take = Swift.max(0, Swift.min(room, data.count))
            out.append(contentsOf: data[0..<take])
            bodyBytes += take
        case .chunked:
            out += String(data.count, radix: 16).utf8
            out += "\r\n".utf8
            out.append(contentsOf: data)
            out += "\r\n".utf8
            bodyBytes += data.count
        case .close:
            out.append(contentsOf: data)
            bodyBytes += data.count
        case .none:
            break
        }
    }

    /// Ends the body: the last chunk, or a close when a Content-Length was not met.
    func finish() {
        switch framing {
        case .chunked where bodyAllowed:
            conn.write(Array("0\r\n\r\n".utf8), timeoutMs: timeoutMs)
        case .length(let n) where bodyAllowed && bodyBytes < n:
            keepAlive = false  // the client waits for bytes that will never come: close to end it
        case .close:
            keepAlive = false
        default:
            break
        }
    }

    /// Writes a response the server makes itself (errors), when nothing was sent yet.
    func sendError(_ status: Int, _ message: String) {
        statusCode = status
        keepAlive = false
        let bytes = HTTPResponseHead.simple(status: status, message: message, minorVersion: head.minorVersion)
        headBytes = bytes.count
        headersSent = true
        conn.write(bytes, timeoutMs: timeoutMs)
    }
}
