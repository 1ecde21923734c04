import Shared

/// How far the vassal has read the request of a connection it holds, and the
/// deadlines that apply to it. A hostile client must not hold anything for
/// long by sending slowly, and a worker must never wait on one:
///
///     idle ── first byte ──▶ head ──┬── complete, no body to buffer ────────────▶ complete
///     (parked: http-timeout)        ├── Content-Length ≤ post-buffering ─▶ body ─▶ complete
///                                   └── chunked ─▶ chunked ── final chunk, or
///                                                  post-buffering bytes seen ───▶ complete
///
/// - the head must be complete within `http-headers-timeout` of its first byte
///   (of the accept, for a fresh connection): every byte resetting a timer is
///   what lets slowloris clients stay forever;
/// - a body being buffered must be complete within `http-body-timeout`, unless
///   it keeps arriving at `http-body-min-rate` bytes per second or faster.
///
/// A body larger than `post-buffering`, and any body whose client expects
/// `100 Continue` (it sends nothing before the answer), goes to the worker as
/// it streams.
public struct RequestReading: Sendable {
    public struct Limits: Sendable {
        /// The longest head (`buffer-size`).
        public var headLimit: Int
        /// The largest body read here before the handoff (`post-buffering`; 0: none).
        public var postBuffering: Int

        public init(headLimit: Int, postBuffering: Int) {
            self.headLimit = headLimit
            self.postBuffering = postBuffering
        }
    }

    public enum Outcome {
        case incomplete
        /// `retryable`: a GET/HEAD/OPTIONS without a body (see `HandedConnection`).
        case complete(retryable: Bool)
        case failed(HTTPError)
    }

    enum Phase: Sendable {
        case idle
        case head
        /// `needed`: the bytes of head and body together.
        case body(headEnd: Int, needed: Int, retryable: Bool)
        /// The chunked body is checked as it comes; `scanned`: bytes of the buffer fed so far.
        case chunked(ChunkedDecoder, headEnd: Int, scanned: Int)
        case complete(retryable: Bool)
    }

    private(set) var phase = Phase.idle
    /// When the request's first byte came (a fresh connection: its accept).
    public private(set) var startNs: UInt64 = 0
    /// When its head was complete (the body's clock).
    public private(set) var bodyStartNs: UInt64 = 0

    public init() {}

    /// Whether a request has begun (a parked connection is idle until its next byte).
    public var isStarted: Bool {
        if case .idle = phase { return false }
        return true
    }

    public mutating func started(atNs now: UInt64) {
        guard case .idle = phase else { return }
        phase = .head
        startNs = now
    }

    /// How many bytes of the buffer reading may stop at.
    public func readLimit(_ limits: Limits) -> Int {
        switch phase {
        case .body(_, let needed, _): return needed
        case .chunked(_, let headEnd, _): return headEnd + limits.postBuffering
        default: return limits.headLimit
        }
    }

    /// Looks at the buffered bytes again (the buffer only ever grows while
    /// the vassal holds the request).
    public mutating func examine(_ buffer: [UInt8], limits: Limits, nowNs: UInt64 = Host.monotonicNanoseconds()) -> Outcome {
        if case .idle = phase { started(atNs: nowNs) }
        if case .head = phase {
            switch HTTPHeadParser.parse(buffer, limit: limits.headLimit) {
            case .incomplete: return .incomplete
            case .failed(let error): return .failed(error)
            case .complete(let head, let consumed):
                bodyStartNs = nowNs
                let retryable = head.isRetryable
                switch head.framing {
                case .length(let n) where n <= limits.postBuffering && !head.expectsContinue:
                    phase = .body(headEnd: consumed, needed: consumed + n, retryable: retryable)
                case .chunked where limits.postBuffering > 0 && !head.expectsContinue:
                    phase = .chunked(ChunkedDecoder(), headEnd: consumed, scanned: consumed)
                default:
                    phase = .complete(retryable: retryable)
                }
            }
        }
        switch phase {
        case .body(_, let needed, let retryable):
            if buffer.count >= needed { phase = .complete(retryable: retryable) }
        case .chunked(var decoder, let headEnd, let scanned):
            if buffer.count > scanned {
                var discarded: [UInt8] = []
                do {
                    let used = try buffer.withUnsafeBufferPointer { b in
                        try decoder.decode(UnsafeBufferPointer(rebasing: b[scanned...]), into: &discarded)
                    }
                    phase = .chunked(decoder, headEnd: headEnd, scanned: scanned + used)
                } catch let error as HTTPError {
                    return .failed(error)
                } catch {
                    return .failed(HTTPError(400, "\(error)"))
                }
            }
            if case .chunked(let d, _, let s) = phase, d.isDone || s - headEnd >= limits.postBuffering {
                phase = .complete(retryable: false)
            }
        default:
            break
        }
        if case .complete(let retryable) = phase { return .complete(retryable: retryable) }
        return .incomplete
    }

    /// What a request still being read has overrun, if anything.
    public enum Overrun: Equatable, Sendable {
        case head
        case body
    }

    /// `buffered`: the bytes held for this request (the body's share is what
    /// came after its head).
    public func overrun(nowNs now: UInt64, buffered: Int, _ deadlines: RequestDeadlines) -> Overrun? {
        switch phase {
        case .head:
            return deadlines.headOverrun(startNs: startNs, nowNs: now) ? .head : nil
        case .body(let headEnd, _, _), .chunked(_, let headEnd, _):
            return deadlines.bodyOverrun(startNs: bodyStartNs, nowNs: now, bytes: max(0, buffered - headEnd)) ? .body : nil
        default:
            return nil
        }
    }
}
