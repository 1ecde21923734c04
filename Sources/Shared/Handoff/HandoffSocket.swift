#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// The zerg-server transport: AF_UNIX SOCK_SEQPACKET, so each message arrives
/// whole and carries its connection fd (SCM_RIGHTS) with it.
extension FileDescriptor {
    /// socket(SOCK_SEQPACKET) + bind + listen on `path` (a stale file is replaced).
    public static func listenHandoff(path: String, backlog: Int32) throws -> FileDescriptor {
        FileDescriptor(rawValue: try Syscall.checked("bind", path) { cs_listen_seqpacket(path, backlog) })
    }

    /// A blocking SOCK_SEQPACKET connection to `path`.
    public static func connectHandoff(path: String) throws -> FileDescriptor {
        FileDescriptor(rawValue: try Syscall.checked("connect", path) { cs_connect_seqpacket(path) })
    }

    /// A connected SOCK_SEQPACKET pair (both ends CLOEXEC, non-blocking): what one
    /// end sends, whole packets with their fds, the other end receives.
    public static func seqpacketPair() throws -> (FileDescriptor, FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        try Syscall.checked("socketpair(SOCK_SEQPACKET)") { cs_seqpacket_pair(&fds) }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }

    /// sendmsg of one packet with `fds` as SCM_RIGHTS. Returns false when the
    /// socket buffer is full (only possible when `nonBlocking`).
    @discardableResult
    public func sendPacket(_ bytes: [UInt8], fds: [FileDescriptor] = [], nonBlocking: Bool = false) throws -> Bool {
        let raw = fds.map(\.rawValue)
        let n = bytes.withUnsafeBytes { b in
            raw.withUnsafeBufferPointer { f in
                cs_send_with_fds(rawValue, b.baseAddress, b.count, f.baseAddress, Int32(f.count), nonBlocking ? 1 : 0)
            }
        }
        if n == -Int(EAGAIN) { return false }
        if n < 0 { throw SystemError("sendmsg", description, errno: Int32(-n)) }
        return true
    }

    /// One received packet: its bytes and the fds it carried (CLOEXEC; the
    /// caller owns them). nil when nothing is waiting (`nonBlocking`); an empty
    /// packet with no fds means the peer closed.
    public func receivePacket(into buffer: UnsafeMutableRawBufferPointer, nonBlocking: Bool = false)
        throws -> (count: Int, fds: [FileDescriptor])?
    {
        var fds = [Int32](repeating: -1, count: 8)
        var nfds: Int32 = 0
        let n = fds.withUnsafeMutableBufferPointer { f in
            cs_recv_with_fds(rawValue, buffer.baseAddress, buffer.count, f.baseAddress, 8, &nfds, nonBlocking ? 1 : 0)
        }
        if n == -Int(EAGAIN) { return nil }
        if n < 0 { throw SystemError("recvmsg", description, errno: Int32(-n)) }
        return (n, fds[0..<Int(nfds)].map { FileDescriptor(rawValue: $0) })
    }

    /// SO_PEERCRED: who is at the other end of a unix socket.
    public func peerCredentials() throws -> (pid: pid_t, uid: uid_t, gid: gid_t) {
        var pid: Int32 = 0, uid: Int32 = 0, gid: Int32 = 0
        try Syscall.checked("getsockopt(SO_PEERCRED)", description) { cs_peer_credentials(rawValue, &pid, &uid, &gid) }
        return (pid, uid_t(bitPattern: uid), gid_t(bitPattern: gid))
    }
}
