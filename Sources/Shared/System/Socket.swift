#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// A connection accept(2) returned, with its peer's address.
public struct AcceptedConnection {
    @inlinable public init(fd: FileDescriptor, host: String, port: Int) {
        self.fd = fd
        self.host = host
        self.port = port
    }

    public let fd: FileDescriptor
    public let host: String
    public let port: Int
}

/// Creating, binding, connecting and accepting sockets; every new socket is CLOEXEC.
extension FileDescriptor {
    /// socket(2), CLOEXEC, non-blocking when asked.
    public static func socket(family: Int32, type: __socket_type, nonBlocking: Bool) throws(SystemError) -> FileDescriptor {
        var flags = type.rawValue | SOCK_CLOEXEC.rawValue
        if nonBlocking { flags |= SOCK_NONBLOCK.rawValue }
        return FileDescriptor(rawValue: try Syscall.call("socket") { Glibc.socket(family, Int32(flags), 0) })
    }

    /// socket + bind + listen, CLOEXEC and non-blocking. A unix path's stale
    /// socket file from an earlier run is replaced (see `claimUnixPath`). TCP
    /// sockets get SO_REUSEADDR.
    public static func listen(on address: SocketAddress, type: __socket_type = SOCK_STREAM, backlog: Int32,
                              name: String) throws(SystemError) -> FileDescriptor {
        if case .unix(let path) = address { try claimUnixPath(path, type: type) }
        let fd = try socket(family: address.family, type: type, nonBlocking: true)
        do {
            if case .unix = address {
                // claimed above
            } else {
                try fd.setOption(SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR")
            }
            try address.check("bind")
            try Syscall.call("bind", name) { address.withSockAddr { Glibc.bind(fd.rawValue, $0, $1) } }
            try Syscall.call("listen", name) { Glibc.listen(fd.rawValue, backlog) }
            return fd
        } catch {
            fd.close()
            throw error
        }
    }

    /// Makes `path` free for a bind. Nothing there: fine. A socket nobody
    /// answers on (left by a process that died): removed. A socket a live
    /// process answers on (another vassal given the same `zerg-server`, say):
    /// EADDRINUSE naming the owner's pid, and it is left alone. Anything
    /// else (a regular file, a directory): EEXIST, and it is never deleted.
    static func claimUnixPath(_ path: String, type: __socket_type) throws(SystemError) {
        guard let status = try? FileSystem.status(path, followSymlinks: false) else { return }
        guard status.isSocket else {
            throw SystemError("bind", path, errno: EEXIST, note: "not a socket; it is left in place")
        }
        // Non-blocking: a live listener with a full backlog says EAGAIN instead of holding us.
        let address = SocketAddress.unix(path: path)
        let probe = try socket(family: address.family, type: type, nonBlocking: true)
        defer { probe.close() }
        do {
            try Syscall.call("connect", path) { address.withSockAddr { Glibc.connect(probe.rawValue, $0, $1) } }
        } catch where error.errno == ECONNREFUSED {
            FileSystem.unlink(path)  // nobody listens any more: a stale file
            return
        } catch where error.errno == ENOENT {
            return  // gone meanwhile
        } catch where error.errno == EAGAIN {
            throw SystemError("bind", path, errno: EADDRINUSE, note: "a running process listens there")
        } catch {
            // Another user's socket, another kind of socket...: it may be live; it stays.
            throw SystemError("bind", path, errno: EADDRINUSE, note: "a socket is there and it cannot be told whether it is live (connect: \(error.reason)); remove it if it is stale")
        }
        let owner = (try? probe.peerCredentials()).map { "pid \($0.pid)" } ?? "a running process"
        throw SystemError("bind", path, errno: EADDRINUSE, note: "\(owner) listens there")
    }

    /// A blocking client connection of `type` to `address`.
    public static func connect(to address: SocketAddress, type: __socket_type = SOCK_STREAM, name: String) throws(SystemError) -> FileDescriptor {
        let fd = try socket(family: address.family, type: type, nonBlocking: false)
        do {
            try address.check("connect")
            try Syscall.call("connect", name) { address.withSockAddr { Glibc.connect(fd.rawValue, $0, $1) } }
            return fd
        } catch {
            fd.close()
            throw error
        }
    }

    /// A non-blocking client connection to `address`. A TCP connect may still
    /// be under way when it returns (EINPROGRESS): reads wait for it, and its
    /// failure is theirs. A unix socket whose backlog is full fails at once (EAGAIN).
    public static func connectNonBlocking(to address: SocketAddress, name: String) throws(SystemError) -> FileDescriptor {
        let fd = try socket(family: address.family, type: SOCK_STREAM, nonBlocking: true)
        do {
            try address.check("connect")
            try Syscall.call("connect", name) { address.withSockAddr { Glibc.connect(fd.rawValue, $0, $1) } }
        } catch where error.errno == EINPROGRESS {
            return fd
        } catch {
            fd.close()
            throw error
        }
        return fd
    }

    /// A blocking client connection to a unix stream socket.
    public static func connect(unixPath path: String) throws(SystemError) -> FileDescriptor {
        try connect(to: .unix(path: path), name: path)
    }

    /// A blocking TCP client connection.
    public static func connect(host: String, port: Int) throws(SystemError) -> FileDescriptor {
        guard let address = SocketAddress(host: host, port: port) else { throw SystemError("connect", "\(host):\(port)", errno: EINVAL) }
        return try connect(to: address, name: "\(host):\(port)")
    }

    /// A connected AF_UNIX pair of `type`, both ends CLOEXEC.
    public static func socketPair(type: __socket_type = SOCK_STREAM, nonBlocking: Bool = false) throws(SystemError) -> (FileDescriptor, FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        var flags = type.rawValue | SOCK_CLOEXEC.rawValue
        if nonBlocking { flags |= SOCK_NONBLOCK.rawValue }
        try Syscall.call("socketpair") { socketpair(AF_UNIX, Int32(flags), 0, &fds) }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }

    /// accept4(2), CLOEXEC and non-blocking, with the peer's address.
    @inlinable
    public func accept() throws(SystemError) -> IOResult<AcceptedConnection> {
        // The address lands on the stack: accepting allocates only the host text.
        try withUnsafeTemporaryAllocation(byteCount: MemoryLayout<sockaddr_storage>.size, alignment: 8) { (storage) throws(SystemError) in
            var length = UInt32(storage.count)
            let result = try Syscall.nonBlocking("accept4", description) { cs_accept(rawValue, storage.baseAddress, &length) }
            guard case .completed(let raw) = result else { return .wouldBlock }
            let (host, port) = SocketAddress.describe(storage.baseAddress!)
            return .completed(AcceptedConnection(fd: FileDescriptor(rawValue: raw), host: host, port: port))
        }
    }

    /// getpeername/getsockname as ("127.0.0.1", 51234); ("", 0) for unix sockets or on error.
    public func socketAddress(local: Bool = false) -> (host: String, port: Int) {
        withUnsafeTemporaryAllocation(byteCount: MemoryLayout<sockaddr_storage>.size, alignment: 8) { storage in
            var length = socklen_t(storage.count)
            let sa = storage.baseAddress!.assumingMemoryBound(to: sockaddr.self)
            let ok = (try? Syscall.call(local ? "getsockname" : "getpeername", description) {
                local ? getsockname(rawValue, sa, &length) : getpeername(rawValue, sa, &length)
            }) != nil
            return ok ? SocketAddress.describe(storage.baseAddress!) : ("", 0)
        }
    }

    /// What a socket is bound to (getsockname), in the kernel's form: an IPv4
    /// or IPv6 address and port, or a unix path (`@name` for an abstract one).
    public func boundAddress() -> SocketAddress? {
        withUnsafeTemporaryAllocation(byteCount: MemoryLayout<sockaddr_storage>.size, alignment: 8) { storage -> SocketAddress? in
            var length = socklen_t(storage.count)
            let sa = storage.baseAddress!.assumingMemoryBound(to: sockaddr.self)
            guard (try? Syscall.call("getsockname", description) { getsockname(rawValue, sa, &length) }) != nil else { return nil }
            switch Int32(sa.pointee.sa_family) {
            case AF_INET: return .ipv4(storage.baseAddress!.load(as: sockaddr_in.self))
            case AF_INET6: return .ipv6(storage.baseAddress!.load(as: sockaddr_in6.self))
            case AF_UNIX:
                let offset = MemoryLayout<sa_family_t>.size
                var bytes = Array(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(storage)[offset..<max(offset, Int(length))]))
                if bytes.first == 0 {
                    bytes[0] = UInt8(ascii: "@")  // abstract
                } else if let end = bytes.firstIndex(of: 0) {
                    bytes.removeSubrange(end...)
                }
                return .unix(path: String(decoding: bytes, as: UTF8.self))
            default: return nil
            }
        }
    }

    /// A listening stream socket (SO_ACCEPTCONN), as systemd passes them.
    public var isListeningStream: Bool {
        func option(_ name: Int32) -> Int32? {
            var value: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            return (try? Syscall.call("getsockopt", description) { getsockopt(rawValue, SOL_SOCKET, name, &value, &size) }).map { _ in value }
        }
        return option(SO_TYPE) == Int32(SOCK_STREAM.rawValue) && (option(SO_ACCEPTCONN) ?? 0) != 0
    }

    /// The local port of a bound TCP socket.
    public func localPort() throws(SystemError) -> Int {
        let address = socketAddress(local: true)
        guard address.port > 0 else { throw SystemError("getsockname", description, errno: EINVAL) }
        return address.port
    }
}
