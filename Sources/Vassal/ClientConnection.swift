#if canImport(Glibc)
import Glibc
#endif
import Shared

/// A client connection while the vassal holds it: reading its next request
/// head (fresh, or parked after a worker handed it back), or queued with a
/// complete head until a worker is free. Once handed to a worker the vassal
/// keeps no copy.
final class ClientConnection {
    enum State: String {
        /// Waiting for (the rest of) a request head; in epoll.
        case reading
        /// Head complete, waiting for a free worker; out of epoll.
        case queued
    }

    let fd: FileDescriptor
    let remote: (host: String, port: Int)
    var token: UInt64 = 0
    var state = State.reading
    /// Registered in the vassal's epoll (only while reading).
    var inEpoll = false
    var buffer: [UInt8]
    /// Last byte received (reading) or when it was queued.
    var sinceNs: UInt64
    /// Requests served on it so far (0 for a fresh connection).
    var requests: UInt32

    init(fd: FileDescriptor, remote: (host: String, port: Int), buffered: [UInt8] = [], requests: UInt32 = 0) {
        self.fd = fd
        self.remote = remote
        buffer = buffered
        self.requests = requests
        sinceNs = Host.monotonicNanoseconds()
    }

    enum ReadOutcome {
        /// The head is complete: dispatch it.
        case complete
        /// Wait for more bytes.
        case incomplete
        /// Answer this (400/414/431) and close.
        case refuse(HTTPError)
        /// The peer closed or failed: close quietly.
        case gone
    }

    nonisolated(unsafe) static let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16384, alignment: 16)

    /// Reads what is available (non-blocking), then looks for a complete head.
    /// Reading stops at the head's end plus one chunk: the body is the worker's.
    func readHead(limit: Int) -> ReadOutcome {
        while true {
            let n = Glibc.read(fd.rawValue, Self.scratch.baseAddress, Self.scratch.count)
            if n > 0 {
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: Self.scratch[0..<n]))
                sinceNs = Host.monotonicNanoseconds()
                if n < Self.scratch.count || buffer.count > limit { break }
                continue
            }
            if n == 0 { return .gone }
            if errno == EINTR { continue }
            if errno == EAGAIN { break }
            return .gone
        }
        return examine(limit: limit)
    }

    /// Whether the buffered bytes hold a complete head.
    func examine(limit: Int) -> ReadOutcome {
        if buffer.isEmpty { return .incomplete }
        switch HTTPHeadParser.parse(buffer, limit: limit) {
        case .incomplete: return .incomplete
        case .complete: return .complete
        case .failed(let error): return .refuse(error)
        }
    }

    /// Best effort (the socket is non-blocking): an error response before closing.
    func refuse(_ error: HTTPError) {
        let bytes = HTTPResponseHead.simple(status: error.status, message: error.reason)
        _ = bytes.withUnsafeBytes { Glibc.write(fd.rawValue, $0.baseAddress, $0.count) }
    }

    /// 503 (with Retry-After) for a request no worker could take.
    func serviceUnavailable(reason: String) {
        let bytes = HTTPResponseHead.simple(status: 503, message: reason, extraHeaders: [("Retry-After", "1")])
        _ = bytes.withUnsafeBytes { Glibc.write(fd.rawValue, $0.baseAddress, $0.count) }
    }
}
