import Shared
import VassalCore

/// A client connection while the vassal holds it: reading its next request
/// (fresh, or parked after a worker handed it back), or queued with a
/// complete request until a worker is free. Once handed to a worker the vassal
/// keeps its copy, out of epoll, until the worker answers for it (`HandedConnection`).
///
/// "Complete" means the head, and the body too when it is small enough to buffer
/// (`post-buffering`, see `RequestReading`): a worker never waits on a slow
/// client for a body the vassal could have collected.
final class ClientConnection {
    typealias State = ClientState

    let fd: FileDescriptor
    let remote: (host: String, port: Int)
    /// What the client speaks: HTTP, or the uwsgi protocol (a `socket` listener: one request, never parked).
    let wire: WireProtocol
    /// The vassal's name for it (the key of `Vassal.clients` and the queue).
    var id: UInt64 = 0
    var state = State.reading
    /// Its registration in the vassal's epoll (only while reading).
    var eventToken: EventToken?
    var buffer: [UInt8]
    /// Last byte received (reading) or when it was queued.
    var sinceNs: UInt64
    /// How far the request being read has come, and since when (its deadlines).
    var reading = RequestReading()
    /// Requests served on it so far (0 for a fresh connection).
    var requests: UInt32
    /// Its complete head may be sent to another worker if the first dies
    /// before answering (GET/HEAD/OPTIONS without a body).
    var retryable = false
    /// It was sent again once already: a second death is answered 502.
    var retried = false
    /// Bytes ever written to and read from the socket, by the vassal and the
    /// workers (`returned`); nil once unknown (a worker that said `back`).
    var totals: (written: Int64, read: Int64)? = (0, 0)

    init(fd: FileDescriptor, remote: (host: String, port: Int), wire: WireProtocol = .http, buffered: [UInt8] = [], requests: UInt32 = 0) {
        self.fd = fd
        self.remote = remote
        self.wire = wire
        buffer = buffered
        self.requests = requests
        sinceNs = Host.monotonicNanoseconds()
        // A fresh connection's request starts now; a parked one's with its first byte.
        if requests == 0 || !buffered.isEmpty { reading.started(atNs: sinceNs) }
    }

    enum ReadOutcome {
        /// The request is complete (head, and the body when buffered): dispatch it.
        case complete
        /// Wait for more bytes.
        case incomplete
        /// Answer this (400/413/414/431) and close.
        case refuse(HTTPError)
        /// The peer closed or failed: close quietly.
        case gone
    }

    /// Reads what is available (non-blocking, through the vassal's `scratch`
    /// buffer), then looks for a complete request. Reading stops where the
    /// request's buffering ends, plus one chunk: the rest is the worker's.
    func readRequest(limits: RequestReading.Limits, scratch: UnsafeMutableRawBufferPointer) -> ReadOutcome {
        reading: while true {
            switch try? fd.read(into: scratch) {
            case .completed(let n)? where n > 0:
                totals?.read += Int64(n)
                let now = Host.monotonicNanoseconds()
                if buffer.isEmpty && !reading.isStarted { reading.started(atNs: now) }
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                sinceNs = now
                if n < scratch.count || buffer.count >= reading.readLimit(limits) { break reading }
            case .wouldBlock?:
                break reading
            default:
                // Closed (or reset): a whole request sent before a half-close is still served.
                if case .complete = examine(limits: limits) { return .complete }
                return .gone
            }
        }
        return examine(limits: limits)
    }

    /// Whether the buffered bytes hold a complete request.
    func examine(limits: RequestReading.Limits) -> ReadOutcome {
        if buffer.isEmpty { return .incomplete }
        if wire == .uwsgi {
            // The packet is the head; its body (which nginx has buffered already) is the worker's to read.
            switch UWSGIRequest.parse(buffer, limit: limits.headLimit) {
            case .incomplete: return .incomplete
            case .complete(let request, _):
                retryable = request.head.isRetryable
                return .complete
            case .failed(let error): return .refuse(error)
            }
        }
        switch reading.examine(buffer, limits: limits) {
        case .incomplete: return .incomplete
        case .complete(let retryable):
            self.retryable = retryable
            return .complete
        case .failed(let error): return .refuse(error)
        }
    }

    /// Best effort (the socket is non-blocking): an error response, then our
    /// side ends (the caller closes; see `answerAndEnd`).
    func refuse(_ error: HTTPError) {
        fd.answerAndEnd(HTTPResponseHead.simple(status: error.status, message: error.reason, minorVersion: minorVersion))
    }

    /// The HTTP version of what the vassal answers itself: 1.0 to a uwsgi client (delimited by the close).
    var minorVersion: Int { wire == .uwsgi ? 0 : 1 }

    /// 502 for a request whose worker died before answering it, when it may not be sent again.
    func badGateway() {
        fd.answerAndEnd(HTTPResponseHead.simple(status: 502, message: "the worker serving this request died before answering", minorVersion: minorVersion))
    }

    /// 503 (with Retry-After) for a request no worker could take.
    func serviceUnavailable(reason: String) {
        fd.answerAndEnd(HTTPResponseHead.simple(status: 503, message: reason, minorVersion: minorVersion, extraHeaders: [("Retry-After", "1")]))
    }
}
