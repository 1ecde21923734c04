#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// AF_UNIX SOCK_SEQPACKET sockets: each message arrives whole and may carry
/// fds (SCM_RIGHTS). The handoff protocol and the ready pool travel on them.
extension FileDescriptor {
    /// socket(SOCK_SEQPACKET) + bind + listen on `path` (a stale file is replaced).
    public static func listenPackets(path: String, backlog: Int32) throws(SystemError) -> FileDescriptor {
        try listen(on: .unix(path: path), type: SOCK_SEQPACKET, backlog: backlog, name: path)
    }

    /// A blocking SOCK_SEQPACKET connection to `path`.
    public static func connectPackets(path: String) throws(SystemError) -> FileDescriptor {
        try connect(to: .unix(path: path), type: SOCK_SEQPACKET, name: path)
    }

    /// A connected SOCK_SEQPACKET pair (both ends CLOEXEC and non-blocking).
    public static func packetPair() throws(SystemError) -> (FileDescriptor, FileDescriptor) {
        try socketPair(type: SOCK_SEQPACKET, nonBlocking: true)
    }

    /// sendmsg of one packet with `fds` as SCM_RIGHTS. `.wouldBlock` when the
    /// socket buffer is full (only with `nonBlocking`).
    public func sendPacket(_ bytes: [UInt8], fds: [FileDescriptor] = [], nonBlocking: Bool = false) throws(SystemError) -> IOResult<Void> {
        let raw = fds.map(\.rawValue)
        return try raw.withUnsafeBufferPointer { (f) throws(SystemError) in try sendPacket(bytes, raw: f, nonBlocking: nonBlocking) }
    }

    /// `sendPacket` with one fd or none, without an array (the vassal sends one per connection).
    public func sendPacket(_ bytes: [UInt8], fd: FileDescriptor?, nonBlocking: Bool = false) throws(SystemError) -> IOResult<Void> {
        var raw = fd?.rawValue ?? -1
        return try withUnsafePointer(to: &raw) { (p) throws(SystemError) in
            try sendPacket(bytes, raw: UnsafeBufferPointer(start: p, count: fd == nil ? 0 : 1), nonBlocking: nonBlocking)
        }
    }

    private func sendPacket(_ bytes: [UInt8], raw fds: UnsafeBufferPointer<Int32>, nonBlocking: Bool) throws(SystemError) -> IOResult<Void> {
        let result = try Syscall.nonBlocking("sendmsg", description) {
            bytes.withUnsafeBytes { b in
                cs_send_with_fds(rawValue, b.baseAddress, b.count, fds.baseAddress, Int32(fds.count), nonBlocking ? 1 : 0)
            }
        }
        guard case .completed = result else { return .wouldBlock }
        return .completed(())
    }

    /// One received packet: its length in `buffer`, the fds it carried
    /// (CLOEXEC; the caller owns them), and whether fds it carried were lost
    /// (this process is out of descriptors: MSG_CTRUNC). An empty packet with
    /// no fds means the peer closed.
    public func receivePacket(into buffer: UnsafeMutableRawBufferPointer, nonBlocking: Bool = false)
        throws(SystemError) -> IOResult<(count: Int, fds: [FileDescriptor], fdsLost: Bool)>
    {
        try withUnsafeTemporaryAllocation(of: Int32.self, capacity: 8) { (fds) throws(SystemError) in
            var nfds: Int32 = 0
            var lost: Int32 = 0
            let result = try Syscall.nonBlocking("recvmsg", description) {
                cs_recv_with_fds(rawValue, buffer.baseAddress, buffer.count, fds.baseAddress, 8, &nfds, &lost, nonBlocking ? 1 : 0)
            }
            guard case .completed(let n) = result else { return .wouldBlock }
            return .completed((n, fds[0..<Int(nfds)].map { FileDescriptor(rawValue: $0) }, lost != 0))
        }
    }
}
