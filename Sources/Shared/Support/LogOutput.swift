#if canImport(Glibc)
import Glibc
#endif

/// An open `LogTarget`: a file (or standard error, `path` nil) or syslog.
public enum LogOutput {
    case file(path: String?, fd: FileDescriptor)
    case syslog(SyslogSocket)

    public static func open(_ target: LogTarget) throws -> LogOutput {
        switch target {
        case .stdio: return .file(path: nil, fd: .standardError)
        case .file(let path): return .file(path: path, fd: try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_APPEND, mode: 0o640))
        case .syslog(let ident, let facility):
            let path = Host.environment()[SyslogSocket.pathVariable] ?? SyslogSocket.defaultPath
            return .syslog(try SyslogSocket.open(ident: ident, facility: facility, path: path))
        }
    }

    /// Lines, each ending in "\n": one write to a file; to syslog, a datagram
    /// per non-empty line (without its newline).
    public func write(_ lines: String) {
        switch self {
        case .file(_, let fd): try? fd.writeAll(lines)
        case .syslog(let socket):
            for line in lines.split(separator: "\n", omittingEmptySubsequences: true) { socket.send(line) }
        }
    }

    /// A file opened again onto the same descriptor number (a thread writing
    /// meanwhile never meets a closed one); other outputs stay as they are.
    public func reopen() throws {
        guard case .file(let path?, let fd) = self, fd.rawValue > 2 else { return }
        try fd.reopenAppending(path)
    }
}
