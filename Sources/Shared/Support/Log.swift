#if canImport(Glibc)
import Glibc
#endif

/// One line per event: local time with milliseconds, the program name and pid, the message.
/// `2026-11-26 15:40:01.123 emperor[812]: builds/a/vassal.ini pid 123 exited with status 1; respawn in 2 s`
///
/// Lines go to standard error, or to the process's `LogTarget`s (`configure`):
/// files, standard error, syslog, each line to every one.
public enum Log {
    nonisolated(unsafe) private static var outputs: [LogOutput] = [.file(path: nil, fd: .standardError)]
    nonisolated(unsafe) private static var program = "hadjango"
    /// `log-date`: a strftime format for the time (nil: ours; "": uWSGI's ctime style).
    nonisolated(unsafe) private static var dateFormat: String?
    /// What children get as stdout/stderr instead of `destination` (a master's log pipe).
    nonisolated(unsafe) public static var childOutput: FileDescriptor?

    public static func setProgram(_ name: String) { program = name }

    /// uWSGI's `log-date`: `true` (or empty) for its ctime-style date, else a strftime format.
    public static func setDateFormat(_ format: String?) {
        guard let format, OptionSpec.parseBool(format) != false else { return dateFormat = nil }  // `false`, `0`, `no`, `off`: none
        dateFormat = OptionSpec.parseBool(format) == true || format.isEmpty ? "" : format
    }

    /// Appends to `path` (uWSGI's `logto`) instead of stderr.
    public static func redirect(toFile path: String) throws {
        try configure([.file(path)])
    }

    /// Every line goes to each of `targets` (none: standard error, as before).
    public static func configure(_ targets: [LogTarget]) throws {
        guard !targets.isEmpty else { return }
        outputs = try targets.map(LogOutput.open)
    }

    /// Opens `path` again (touch-logreopen, after a rotation) onto the same
    /// descriptor number; when it is the process's log (`destination`, or the
    /// inherited stderr of a worker), its stdout and stderr point at it too
    /// (what embedded code prints).
    public static func reopen(_ path: String) throws {
        let i = outputs.firstIndex { if case .file(path, _) = $0 { return true } else { return false } }
        let old: FileDescriptor
        if let i, case .file(_, let fd) = outputs[i] { old = fd } else { old = destination }
        let processLog = old.rawValue == destination.rawValue
        if old.rawValue > 2 {
            try old.reopenAppending(path)
            // A new path on the old fd (a reload changed `logto`): later reopens use it.
            if let j = outputs.firstIndex(where: { if case .file(_, old) = $0 { return true } else { return false } }) {
                outputs[j] = .file(path: path, fd: old)
            }
            if processLog {
                try? old.duplicate(onto: .standardOutput)
                try? old.duplicate(onto: .standardError)
            }
        } else {
            // A worker's log is its inherited stderr: stdout and stderr take the fresh file.
            try FileDescriptor.standardError.reopenAppending(path)
            try? FileDescriptor.standardError.duplicate(onto: .standardOutput)
        }
    }

    /// Every file output opened again (a master writing its log pipe's lines).
    public static func reopenFiles() {
        for case .file(let path?, _) in outputs {
            do { try reopen(path) } catch { info("cannot reopen \(path): \(error)") }
        }
    }

    /// The fd this process's lines go to first; children inherit `childOutput` if set, else this.
    public static var destination: FileDescriptor {
        for case .file(_, let fd) in outputs { return fd }
        return .standardError
    }

    /// What a child's stdout and stderr should be.
    public static var forChildren: FileDescriptor { childOutput ?? destination }

    /// A child's fds 0, 1 and 2: `stdin` and this process's log (`forChildren`).
    public static func childStdio(stdin: FileDescriptor) -> [(FileDescriptor, Int32)] {
        [(stdin, 0), (forChildren, 1), (forChildren, 2)]
    }

    public static func info(_ message: String, terminator: String = "\n") {
        let stamp = dateFormat.map(formattedDate).map { "\($0) -" } ?? timestamp()
        write("\(stamp) \(program)[\(getpid())]: \(message)\(terminator)")
    }

    /// A finished line (a child's, read from a log pipe) to every output.
    public static func write(_ line: String) {
        for output in outputs { output.write(line) }
    }

    /// Local time by `log-date`'s format ("": `Sun Nov 29 19:40:06 2026`, as uWSGI's ctime).
    static func formattedDate(_ format: String) -> String {
        var t = time(nil)
        var parts = tm()
        localtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 256)
        let n = strftime(&buffer, buffer.count, format.isEmpty ? "%a %b %e %H:%M:%S %Y" : format, &parts)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
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
