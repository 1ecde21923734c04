#if canImport(Glibc)
import Glibc
#endif
import CSupport
import Shared

/// One client connection owned by a worker: its socket, the bytes read but
/// not yet consumed, and blocking-with-timeout I/O for the request in progress.
final class Connection {
    let fd: FileDescriptor
    let remote: (host: String, port: Int)
    /// Our end's address: asked for only when a request has no Host header.
    lazy var local: (host: String, port: Int) = fd.socketAddress(local: true)
    /// 0 until the connection is registered with the worker's epoll (only
    /// connections that stay open are: a one-request connection costs no epoll calls).
    var token: UInt64 = 0
    /// Received bytes; `start` is where the unconsumed part begins.
    var buffer: [UInt8] = []
    var start = 0
    var lastActiveNs: UInt64
    /// The peer went away or a write failed: close after the current request.
    var broken = false
    var requestsServed = 0

    static let readChunk = 65536

    init(fd: FileDescriptor, remote: (host: String, port: Int)) {
        self.fd = fd
        self.remote = remote
        lastActiveNs = Host.monotonicNanoseconds()
    }

    var pending: Int { buffer.count - start }

    /// Drops consumed bytes (keeps the buffer small across keep-alive requests).
    func compact() {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 0 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
    }

    /// One read buffer for the whole worker (it serves one connection at a time).
    nonisolated(unsafe) static let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: readChunk, alignment: 16)

    /// Reads what is available without blocking. Returns bytes read; 0 means
    /// the peer closed (or reset); nil means nothing available now.
    func readAvailable() -> Int? {
        let n = Glibc.read(fd.rawValue, Self.scratch.baseAddress, Self.scratch.count)
        if n > 0 {
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: Self.scratch[0..<n]))
            lastActiveNs = Host.monotonicNanoseconds()
            return n
        }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return nil }
        return 0
    }

    /// Reads at least one more byte, waiting up to `timeoutMs`; false on
    /// timeout, close or error.
    func readMore(timeoutMs: Int32) -> Bool {
        while true {
            switch readAvailable() {
            case .some(let n):
                return n > 0
            case .none:
                guard (try? fd.wait(timeoutMs: timeoutMs)) == true else { return false }
            }
        }
    }

    /// Writes everything, waiting for the peer up to `timeoutMs` per stall.
    /// False (and `broken`) when the peer is gone or too slow.
    @discardableResult
    func write(_ bytes: [UInt8], timeoutMs: Int32) -> Bool {
        bytes.withUnsafeBytes { write(head: [], body: $0, timeoutMs: timeoutMs) }
    }

    /// Writes `head` then `body` (writev: the body is not copied), waiting
    /// like `write`. False (and `broken`) when the peer is gone or too slow.
    @discardableResult
    func write(head: [UInt8], body: UnsafeRawBufferPointer, timeoutMs: Int32) -> Bool {
        guard !broken else { return false }
        var sent = 0
        let total = head.count + body.count
        while sent < total {
            let n: Int = head.withUnsafeBytes { h in
                if sent < head.count {
                    return cs_writev2(fd.rawValue, h.baseAddress! + sent, head.count - sent, body.baseAddress, body.count)
                }
                let off = sent - head.count
                return cs_writev2(fd.rawValue, body.baseAddress! + off, body.count - off, nil, 0)
            }
            if n > 0 {
                sent += n
            } else if n == -Int(EAGAIN) {
                guard (try? fd.wait(writable: true, timeoutMs: timeoutMs)) == true else {
                    broken = true
                    return false
                }
            } else {
                broken = true
                return false
            }
        }
        lastActiveNs = Host.monotonicNanoseconds()
        return true
    }

    func close() { fd.close() }
}
