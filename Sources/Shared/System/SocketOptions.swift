#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// Socket options and the per-connection calls the servers make.
extension FileDescriptor {
    /// setsockopt(2) of an int option.
    public func setOption(_ level: Int32, _ option: Int32, _ value: Int32, _ name: String) throws(SystemError) {
        var v = value
        try Syscall.call("setsockopt(\(name))", description) { setsockopt(rawValue, level, option, &v, socklen_t(MemoryLayout<Int32>.size)) }
    }

    /// TCP_NODELAY: responses go out as soon as they are written. Set on a
    /// listening socket, accepted connections inherit it (Linux).
    public func setNoDelay() throws(SystemError) {
        try setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1, "TCP_NODELAY")
    }

    /// TCP_DEFER_ACCEPT on a listener: the kernel completes the handshake but
    /// queues the connection for accept(2) only once the client's first bytes
    /// are in (or `seconds` later), so a woken worker finds its request there.
    /// uWSGI sets it on every TCP socket unless `no-defer-accept`.
    public func deferAccept(seconds: Int32) throws(SystemError) {
        try setOption(Int32(IPPROTO_TCP), TCP_DEFER_ACCEPT, seconds, "TCP_DEFER_ACCEPT")
    }

    /// Connections waiting in this TCP listener's accept queue (Linux reports
    /// it as tcpi_unacked of TCP_INFO on a listener); 0 for other sockets.
    public func acceptBacklog() -> Int {
        var info = tcp_info()
        var length = socklen_t(MemoryLayout<tcp_info>.size)
        let ok = (try? Syscall.call("getsockopt(TCP_INFO)", description) {
            getsockopt(rawValue, Int32(IPPROTO_TCP), TCP_INFO, &info, &length)
        }) != nil
        return ok ? Int(info.tcpi_unacked) : 0
    }

    /// A TCP connection's totals, whichever process did the I/O: bytes ever
    /// written to it and ever read from it. nil for other sockets.
    public func tcpTotals() -> (written: Int64, read: Int64)? {
        var written: Int64 = 0, read: Int64 = 0
        guard (try? Syscall.call("getsockopt(TCP_INFO)", description) { cs_tcp_totals(rawValue, &written, &read) }) != nil else { return nil }
        return (written, read)
    }

    /// SO_PEERCRED: who is at the other end of a unix socket.
    public func peerCredentials() throws(SystemError) -> (pid: pid_t, uid: uid_t, gid: gid_t) {
        var pid: Int32 = 0, uid: Int32 = 0, gid: Int32 = 0
        try Syscall.call("getsockopt(SO_PEERCRED)", description) { cs_peer_credentials(rawValue, &pid, &uid, &gid) }
        return (pid, uid_t(bitPattern: uid), gid_t(bitPattern: gid))
    }

    /// shutdown(SHUT_WR): the peer sees end of file while we can still read.
    /// A peer already gone (ENOTCONN) is not an error worth reporting.
    public func shutdownWrite() {
        _ = try? Syscall.call("shutdown", description) { shutdown(rawValue, Int32(SHUT_WR)) }
    }

    /// sendfile(2) from `file` at `offset` (advanced): bytes sent (0 at end of file).
    public func sendFile(from file: FileDescriptor, offset: inout Int64, count: Int) throws(SystemError) -> IOResult<Int> {
        var off = off_t(offset)
        let result = try Syscall.nonBlocking("sendfile", description) { Glibc.sendfile(rawValue, file.rawValue, &off, count) }
        offset = Int64(off)
        return result
    }
}

/// The title `ps` shows for this process (uWSGI's procname options): the
/// comm name (prctl) and the argv area, overwritten in place.
public enum ProcessTitle {
    public static func set(_ title: String) {
        _ = try? Syscall.call("prctl(PR_SET_NAME)", title) { cs_set_process_name(title) }
        let argc = Int(CommandLine.argc)
        let argv = CommandLine.unsafeArgv
        guard argc >= 1, let start = argv[0], let last = argv[argc - 1] else { return }
        // The argv strings are contiguous: overwrite them, NUL-padded.
        let end = last + strlen(last)
        let room = end - start
        let bytes = Array(title.utf8.prefix(room))
        for (i, b) in bytes.enumerated() { start[i] = CChar(bitPattern: b) }
        for i in bytes.count...room { start[i] = 0 }
        for i in 1..<argc { argv[i] = start + room }  // empty strings
    }
}

extension FileDescriptor {
    /// Best effort, for a client being turned away (503, 408, 400): writes
    /// `answer` (what fits now), ends our side (FIN), drops what the client
    /// sent that is already here, and closes. Closing with unread bytes would
    /// send a reset instead, and the client could lose the answer.
    public func answerAndClose(_ answer: [UInt8]) {
        answerAndEnd(answer)
        close()
    }

    /// `answerAndClose` without the close (the owner closes it later).
    public func answerAndEnd(_ answer: [UInt8]) {
        _ = try? writeAvailable(answer, from: 0)
        shutdownWrite()
        withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 8) { scratch in
            for _ in 0..<16 {
                guard case .completed(let n)? = try? read(into: scratch), n > 0 else { return }
            }
        }
    }
}
