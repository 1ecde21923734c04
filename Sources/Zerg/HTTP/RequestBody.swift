import Shared

/// The body of the request being served, read on demand from the
/// connection (Content-Length) or decoded up front (chunked).
final class RequestBody {
    enum Source {
        case none
        /// Bytes still to come from the connection.
        case length(remaining: Int)
        /// A chunked body, already decoded.
        case decoded([UInt8], offset: Int)
    }

    var source: Source
    /// Set when the body could not be read; answered instead of the app's response if nothing was sent yet.
    var error: HTTPError?
    /// The body's deadline and floor rate (`RequestDeadlines`), counted from the end of the head.
    let deadlines: RequestDeadlines
    let startNs: UInt64
    /// Body bytes taken from the connection so far (for the floor rate).
    private var received = 0
    /// The client sent it too slowly (past the body deadline, under the floor rate).
    private(set) var tooSlow = false

    /// Decoded chunked bodies above this are refused with 413.
    static let maxDecoded = 64 << 20

    init(_ framing: BodyFraming, deadlines: RequestDeadlines, startNs: UInt64) {
        self.deadlines = deadlines
        self.startNs = startNs
        switch framing {
        case .none, .chunked: source = .none
        case .length(let n): source = .length(remaining: n)
        }
    }

    /// Bytes not yet given to the app (for a Content-Length body).
    var unread: Int {
        switch source {
        case .none: return 0
        case .length(let remaining): return remaining
        case .decoded(let bytes, let offset): return bytes.count - offset
        }
    }

    /// Waits for more of the body: false when the client closed, went silent
    /// for `timeoutMs`, or is past the body deadline below the floor rate.
    private func readMore(_ conn: Connection, timeoutMs: Int32) -> Bool {
        if deadlines.bodyOverrun(startNs: startNs, nowNs: Host.monotonicNanoseconds(), bytes: received) {
            tooSlow = true
            Log.info("\(conn.remote.host):\(conn.remote.port): request body too slow (http-body-timeout, http-body-min-rate)")
            return false
        }
        let before = conn.pending
        guard conn.readMore(timeoutMs: timeoutMs) else { return false }
        received += conn.pending - before
        return true
    }

    /// Decodes a whole chunked body before the app is called, so a malformed
    /// one is refused with 400 before the app runs.
    func decodeChunked(from conn: Connection, timeoutMs: Int32) -> Result<[UInt8], HTTPError> {
        var decoder = ChunkedDecoder()
        var out: [UInt8] = []
        while true {
            do {
                let used = try conn.buffer.withUnsafeBufferPointer { buf in
                    try decoder.decode(UnsafeBufferPointer(rebasing: buf[conn.start...]), into: &out)
                }
                conn.start += used
            } catch let error as HTTPError {
                return .failure(error)
            } catch {
                return .failure(HTTPError(400, "\(error)"))
            }
            if decoder.isDone { return .success(out) }
            if out.count > Self.maxDecoded { return .failure(HTTPError(413, "chunked body larger than \(Self.maxDecoded) bytes")) }
            conn.compact()
            guard readMore(conn, timeoutMs: timeoutMs) else {
                return .failure(HTTPError(400, "chunked body incomplete (no final chunk before the timeout or close)"))
            }
        }
    }

    /// Up to `max` bytes (all that remains when `max` < 0); empty at the end.
    /// nil when the client stopped sending (then `error` says why).
    func read(max: Int, from conn: Connection, timeoutMs: Int32) -> [UInt8]? {
        switch source {
        case .none:
            return []
        case .decoded(let bytes, let offset):
            let n = max < 0 ? bytes.count - offset : min(max, bytes.count - offset)
            source = .decoded(bytes, offset: offset + n)
            return Array(bytes[offset..<(offset + n)])
        case .length(let remaining):
            if remaining == 0 { return [] }
            let want = max < 0 ? remaining : min(max, remaining)
            var out: [UInt8] = []
            out.reserveCapacity(Swift.min(want, 1 << 20))
            while out.count < want {
                if conn.pending == 0 {
                    conn.compact()
                    guard readMore(conn, timeoutMs: timeoutMs) else {
                        error = HTTPError(400, "request body shorter than its Content-Length (timeout or close)")
                        source = .length(remaining: remaining - out.count)
                        return nil
                    }
                }
                let n = Swift.min(want - out.count, conn.pending)
                out += conn.buffer[conn.start..<(conn.start + n)]
                conn.start += n
                // A bounded read returns what is there rather than waiting for all of it.
                if max >= 0 && !out.isEmpty && conn.pending == 0 { break }
            }
            source = .length(remaining: remaining - out.count)
            return out
        }
    }

    /// After the response: drops what the app did not read, if it is already
    /// here (the vassal buffers bodies up to `post-buffering`, so in zerg mode
    /// it is); false when more is still to come: the connection must close,
    /// since waiting for it would have the worker wait at the client's pace.
    func discardRest(from conn: Connection) -> Bool {
        guard case .length(var remaining) = source, remaining > 0 else { return true }
        while remaining > 0 {
            if conn.pending == 0 {
                conn.compact()
                guard let n = conn.readAvailable(), n > 0 else { break }
            }
            let n = min(remaining, conn.pending)
            conn.start += n
            remaining -= n
        }
        source = .length(remaining: remaining)
        return remaining == 0
    }
}
