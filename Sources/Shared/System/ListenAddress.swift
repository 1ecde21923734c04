#if canImport(Glibc)
import Glibc
#endif

/// Where a server listens, in uWSGI's syntax: a path for a unix socket, or
/// `[host]:port` for TCP.
public enum ListenAddress: Equatable, CustomStringConvertible {
    case unix(String)
    case tcp(host: String, port: Int)

    /// `:9191`, `127.0.0.1:9191` and `localhost:0` are TCP; anything else is a path.
    public init?(parsing text: String) {
        let t = text.trimmed()
        if t.isEmpty { return nil }
        if let colon = t.lastIndex(of: ":"), !t.contains("/") {
            let host = String(t[..<colon])
            guard let port = Int(t[t.index(after: colon)...]), (0...65535).contains(port) else { return nil }
            self = .tcp(host: host, port: port)
        } else {
            self = .unix(t)
        }
    }

    public var description: String {
        switch self {
        case .unix(let path): return path
        case .tcp(let host, let port): return "\(host):\(port)"
        }
    }

    /// The kernel's form of the address; EINVAL for a host that is not an IP literal or localhost.
    public func socketAddress() throws(SystemError) -> SocketAddress {
        switch self {
        case .unix(let path): return .unix(path: path)
        case .tcp(let host, let port):
            guard let address = SocketAddress(host: host, port: port) else { throw SystemError("bind", description, errno: EINVAL) }
            return address
        }
    }

    /// socket + bind + listen, CLOEXEC and non-blocking. A TCP listener gets
    /// TCP_DEFER_ACCEPT when `deferAcceptSeconds` > 0.
    public func listen(backlog: Int32 = 128, deferAcceptSeconds: Int32 = 0) throws(SystemError) -> FileDescriptor {
        let fd = try FileDescriptor.listen(on: socketAddress(), backlog: backlog, name: description)
        if case .tcp = self, deferAcceptSeconds > 0 {
            do {
                try fd.deferAccept(seconds: deferAcceptSeconds)
            } catch {
                fd.close()
                throw error
            }
        }
        return fd
    }

    /// A blocking client connection to this address (`:port` means this machine).
    public func connect() throws(SystemError) -> FileDescriptor {
        switch self {
        case .unix(let path): return try FileDescriptor.connect(unixPath: path)
        case .tcp(let host, let port): return try FileDescriptor.connect(host: host.isEmpty ? "127.0.0.1" : host, port: port)
        }
    }
}
