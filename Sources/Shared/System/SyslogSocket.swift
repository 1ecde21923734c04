#if canImport(Glibc)
import Glibc
#endif

/// The local syslog daemon's socket (`/dev/log`, a unix datagram socket),
/// spoken to directly: one datagram per line, `<PRI>Mmm dd hh:mm:ss IDENT: line`
/// (what syslog(3) sends), priority info. Non-blocking: a line the daemon
/// cannot take now is dropped rather than stall the process.
public struct SyslogSocket: Sendable {
    public let fd: FileDescriptor
    let ident: String
    let facility: Int32

    public static let defaultPath = "/dev/log"
    /// Where the syslog daemon listens when it is not /dev/log (a container's
    /// mounted socket, a test's listener).
    public static let pathVariable = "HADJANGO_SYSLOG_SOCKET"

    public static func open(ident: String, facility: Int32, path: String = defaultPath) throws(SystemError) -> SyslogSocket {
        let fd = try FileDescriptor.connect(to: .unix(path: path), type: SOCK_DGRAM, name: path)
        try fd.setNonBlocking()
        return SyslogSocket(fd: fd, ident: ident, facility: facility)
    }

    public func send(_ line: Substring) {
        let stamp = Log.formattedDate("%b %e %H:%M:%S")  // syslog(3)'s: `Nov 29 19:40:06`
        let priority = facility * 8 + 6  // LOG_INFO
        _ = try? fd.writeAvailable(Array("<\(priority)>\(stamp) \(ident): \(line)".utf8), from: 0)
    }
}
