#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// Where a stats or status server listens: uWSGI's syntax, a path for a unix
/// socket or `[host]:port` for TCP.
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

    /// socket + bind + listen, CLOEXEC and non-blocking. A TCP listener gets
    /// TCP_DEFER_ACCEPT when `deferAcceptSeconds` > 0.
    public func listen(backlog: Int32 = 128, deferAcceptSeconds: Int32 = 0) throws -> FileDescriptor {
        switch self {
        case .unix(let path):
            return FileDescriptor(rawValue: try Syscall.checked("bind", path) { cs_listen_unix(path, backlog) })
        case .tcp(let host, let port):
            let fd = FileDescriptor(rawValue: try Syscall.checked("bind", description) {
                cs_listen_tcp(host, Int32(port), backlog)
            })
            if deferAcceptSeconds > 0 { fd.deferAccept(seconds: deferAcceptSeconds) }
            return fd
        }
    }
}

extension FileDescriptor {
    /// The local TCP port of a bound socket.
    public func localPort() throws -> Int {
        Int(try Syscall.checked("getsockname", description) { cs_local_port(rawValue) })
    }
}

extension FileDescriptor {
    /// A blocking client connection to a unix stream socket.
    public static func connect(unixPath path: String) throws -> FileDescriptor {
        FileDescriptor(rawValue: try Syscall.checked("connect", path) { cs_connect_unix(path) })
    }

    /// A blocking TCP client connection (IPv4).
    public static func connect(host: String, port: Int) throws -> FileDescriptor {
        FileDescriptor(rawValue: try Syscall.checked("connect", "\(host):\(port)") { cs_connect_tcp(host, Int32(port)) })
    }
}
