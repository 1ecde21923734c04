#if canImport(Glibc)
import Glibc
#endif

/// One line per event: local time with milliseconds, the program name and pid, the message.
/// `2026-11-26 15:40:01.123 emperor[812]: builds/a/vassal.ini pid 123 exited with status 1; respawn in 2 s`
public enum Log {
    nonisolated(unsafe) private static var fd = FileDescriptor.standardError
    nonisolated(unsafe) private static var program = "hadjango"

    public static func setProgram(_ name: String) { program = name }

    /// Appends to `path` (uWSGI's `logto`) instead of stderr.
    public static func redirect(toFile path: String) throws {
        fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_APPEND, mode: 0o640)
    }

    /// Opens `path` again (touch-logreopen, after a rotation) and points this
    /// process's stdout and stderr at it too (what embedded code prints).
    public static func reopen(_ path: String) throws {
        let fresh = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_APPEND, mode: 0o640)
        try? fresh.duplicate(onto: .standardOutput)
        try? fresh.duplicate(onto: .standardError)
        let old = fd
        if old.rawValue > 2, (try? fresh.duplicate(onto: old)) != nil {
            // The same fd number now names the fresh file: a thread writing a line
            // meanwhile (a worker with `threads`) never meets a closed descriptor.
            fresh.close()
        } else {
            fd = fresh
        }
    }

    /// The fd log lines go to (children may inherit it as their stdout/stderr).
    public static var destination: FileDescriptor { fd }

    public static func info(_ message: String, terminator: String = "\n") {
        let line = "\(timestamp()) \(program)[\(getpid())]: \(message)\(terminator)"
        try? fd.writeAll(line)
    }

    /// Local time as `YYYY-MM-DD HH:MM:SS.mmm`.
    public static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var parts = tm()
        localtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int = 2) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday)) "
            + "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec)).\(pad(Int32(ts.tv_nsec / 1_000_000), 3))"
    }
}
