import Shared

/// One client connection owned by a worker: its socket, the bytes read but
/// not yet consumed, and blocking-with-timeout I/O for the request in progress.
final class Connection {
    let fd: FileDescriptor
    let remote: (host: String, port: Int)
    /// What the client speaks: HTTP, or the uwsgi protocol (one request, then close).
    let wire: WireProtocol
    /// Our end's address: asked for only when a request has no Host header.
    lazy var local: (host: String, port: Int) = fd.socketAddress(local: true)
    /// Its registration while parked in the worker's epoll (only connections
    /// that stay open are parked: a one-request connection costs no epoll calls).
    var eventToken: EventToken?
    /// Received bytes; `start` is where the unconsumed part begins.
    var buffer: [UInt8] = []
    var start = 0
    var lastActiveNs: UInt64
    /// When the request being read began: its first byte, or the accept (the
    /// head deadline's start, `RequestDeadlines`).
    var requestStartNs: UInt64
    /// The peer went away or a write failed: close after the current request.
    var broken = false
    var requestsServed = 0
    /// Bytes this worker wrote to and read from the socket (reported to the
    /// vassal with the connection, so it knows the connection's totals).
    var written: Int64 = 0
    var read: Int64 = 0
    /// Zerg mode: its number on the link it came by (`Worker.takenIDs`; 0 standalone).
    var handoffID: UInt32 = 0
    /// `requestsServed` when its bytes were last copied to the worker's seat (-1: never).
    var seatedAt = -1

    /// Where reads land before they are appended to `buffer`: one per worker
    /// (it serves one connection at a time), handed to each connection.
    let scratch: UnsafeMutableRawBufferPointer

    init(fd: FileDescriptor, remote: (host: String, port: Int), wire: WireProtocol = .http, scratch: UnsafeMutableRawBufferPointer) {
        self.fd = fd
        self.remote = remote
        self.wire = wire
        self.scratch = scratch
        lastActiveNs = Host.monotonicNanoseconds()
        requestStartNs = lastActiveNs
    }

    /// A read buffer for `scratch` (allocated once per worker, never freed).
    static func makeScratch() -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
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

    /// Reads what is available without blocking. Returns bytes read; 0 means
    /// the peer closed (or reset); nil means nothing available now. `landing`:
    /// where the kernel puts the bytes (by default the worker's scratch).
    func readAvailable(landing: UnsafeMutableRawBufferPointer? = nil) -> Int? {
        let into = landing ?? scratch
        switch try? fd.read(into: into) {
        case .completed(let n)? where n > 0:
            read += Int64(n)
            lastActiveNs = Host.monotonicNanoseconds()
            if start == buffer.count { requestStartNs = lastActiveNs }  // a request's first bytes
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: into[0..<n]))
            return n
        case .wouldBlock?:
            return nil
        default:
            return 0  // end of file, or an error (a reset): the peer is gone
        }
    }

    /// Reads at least one more byte, waiting up to `timeoutMs`; false on
    /// timeout, close or error.
    func readMore(timeoutMs: Int32) -> Bool {
        while true {
            switch readAvailable() {
            case .some(let n):
                return n > 0
            case .none:
                guard waitWithoutGIL(writable: false, timeoutMs: timeoutMs) else { return false }
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
            let result = head.withUnsafeBytes { h in
                if sent < head.count {
                    return try? fd.write(UnsafeRawBufferPointer(rebasing: h[sent...]), body)
                }
                return try? fd.write(UnsafeRawBufferPointer(rebasing: body[(sent - head.count)...]))
            }
            switch result {
            case .completed(let n)? where n > 0:
                sent += n
                written += Int64(n)
            case .wouldBlock?:
                guard waitWithoutGIL(writable: true, timeoutMs: timeoutMs) else {
                    broken = true
                    return false
                }
            case .completed?, nil:
                broken = true  // the peer is gone (EPIPE, a reset), or wrote nothing
                return false
            }
        }
        lastActiveNs = Host.monotonicNanoseconds()
        return true
    }

    /// Sends `count` bytes of `file` from `offset` with sendfile(2), waiting
    /// for the peer like `write`; returns the bytes sent (fewer when the file
    /// is shorter than it was, or the peer is gone: then `broken`).
    func sendFile(_ file: FileDescriptor, offset: inout Int64, count: Int, timeoutMs: Int32) -> Int {
        var remaining = count
        while remaining > 0 && !broken {
            switch try? fd.sendFile(from: file, offset: &offset, count: remaining) {
            case .completed(0)?:
                return count - remaining  // the file is shorter than it was: what was promised cannot be sent
            case .completed(let sent)?:
                remaining -= sent
                written += Int64(sent)
            case .wouldBlock?:
                if !waitWithoutGIL(writable: true, timeoutMs: timeoutMs) { broken = true }
            case nil:
                broken = true
            }
        }
        if remaining == 0 { lastActiveNs = Host.monotonicNanoseconds() }
        return count - remaining
    }

    /// Waits for the peer with the GIL released: the app's other threads (and,
    /// with `threads`, the worker's other requests) run meanwhile.
    func waitWithoutGIL(writable: Bool, timeoutMs: Int32) -> Bool {
        Interpreter.withoutGIL { (try? fd.wait(writable: writable, timeoutMs: timeoutMs)) == true }
    }

    /// Closed here (a connection may be closed on two paths when the vassal's link is lost mid-request).
    private(set) var isClosed = false

    func close() {
        guard !isClosed else { return }
        isClosed = true
        fd.close()
    }
}
