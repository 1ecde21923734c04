#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// Socket calls the servers need beyond accept/listen.
extension FileDescriptor {
    /// getpeername/getsockname as ("127.0.0.1", 51234); ("", 0) for unix sockets.
    public func socketAddress(local: Bool = false) -> (host: String, port: Int) {
        var host = [CChar](repeating: 0, count: 64)
        var port: Int32 = 0
        guard cs_socket_name(rawValue, local ? 1 : 0, &host, 64, &port) == 0 else { return ("", 0) }
        return (String(cString: host), Int(port))
    }

    /// accept4 (CLOEXEC, non-blocking) with the peer's address; nil when nothing is pending.
    public func acceptWithPeer() throws -> (FileDescriptor, host: String, port: Int)? {
        // The address text goes to a stack buffer: accepting allocates nothing but the string.
        try withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { host in
            host[0] = 0
            var port: Int32 = 0
            let fd = cs_accept_peer(rawValue, host.baseAddress, 64, &port)
            if fd == -EAGAIN { return nil }
            if fd < 0 { throw SystemError("accept4", description, errno: -fd) }
            return (FileDescriptor(rawValue: fd), String(cString: host.baseAddress!), Int(port))
        }
    }

    /// Connections waiting in this TCP listener's accept queue (0 for other sockets).
    public func acceptBacklog() -> Int { max(0, Int(cs_listen_backlog(rawValue))) }

    /// TCP_NODELAY: responses go out as soon as they are written. Set on a
    /// listening socket, accepted connections inherit it (Linux).
    public func setNoDelay() { _ = cs_set_nodelay(rawValue) }

    /// TCP_DEFER_ACCEPT on a listener: the kernel completes the handshake but
    /// queues the connection for accept(2) only once the client's first bytes
    /// are in (or `seconds` later), so a woken worker finds its request there.
    /// uWSGI sets it on every TCP socket unless `no-defer-accept`.
    public func deferAccept(seconds: Int32) { _ = cs_defer_accept(rawValue, seconds) }

    /// Waits until readable (or writable); false on timeout. A negative timeout waits forever.
    public func wait(writable: Bool = false, timeoutMs: Int32) throws -> Bool {
        try Syscall.checked("poll", description) { cs_poll_one(rawValue, writable ? 1 : 0, timeoutMs) } > 0
    }

    /// shutdown(SHUT_WR): the peer sees end of file while we can still read.
    public func shutdownWrite() { _ = cs_shutdown_write(rawValue) }

    /// sendfile(2) from `file` at `offset`; returns bytes sent (0 at end of file), nil on EAGAIN.
    public func sendFile(from file: FileDescriptor, offset: inout Int64, count: Int) throws -> Int? {
        var off = offset
        let n = cs_sendfile(rawValue, file.rawValue, &off, count)
        if n == -Int(EAGAIN) { return nil }
        if n < 0 { throw SystemError("sendfile", description, errno: Int32(-n)) }
        offset = off
        return n
    }
}

extension Epoll {
    /// Registers a listening socket shared with other processes: EPOLLEXCLUSIVE
    /// wakes one waiter per connection instead of all of them.
    public func addExclusive(_ target: FileDescriptor, token: UInt64) throws {
        try Syscall.checked("epoll_ctl", target.description) { cs_epoll_add_exclusive(fd.rawValue, target.rawValue, token) }
    }
}

/// The title `ps` shows for this process (uWSGI's procname options).
public enum ProcessTitle {
    public static func set(_ title: String) {
        cs_set_process_title(CommandLine.argc, CommandLine.unsafeArgv, title)
    }
}
