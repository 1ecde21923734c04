import Shared

/// Several log targets, or syslog (`ZergSettings.logFansOut`): what the
/// workers, attached daemons and the router vassal write (their stdout and
/// stderr: log lines, request lines, the app's prints and tracebacks) goes
/// into this pipe; the master reads it and sends each line to every target,
/// as uWSGI's master logger does. Writes up to PIPE_BUF (4 KiB) are atomic, so
/// lines of different processes do not mix. The master holds both ends: a
/// worker started later gets the write end, and the pipe outlives a re-exec.
final class LogPipe {
    let reader: FileDescriptor
    let writer: FileDescriptor
    private var partial: [UInt8] = []
    /// A line longer than this is passed on in pieces.
    static let longestLine = 64 * 1024

    init(reader: FileDescriptor, writer: FileDescriptor) throws {
        self.reader = reader
        self.writer = writer
        try reader.setNonBlocking()
    }

    static func create() throws -> LogPipe {
        let (r, w) = try Pipe.make()
        return try LogPipe(reader: r, writer: w)
    }

    /// Reads what is there (at most `readsPerWake` times: the master's other
    /// work is not starved by a chatty app) and passes on the complete lines,
    /// one write per target for each read.
    func drain(all: Bool = false) {
        var reads = 0
        while all || reads < Self.readsPerWake, case .completed(let bytes)? = try? reader.readAvailable(max: 65536), !bytes.isEmpty {
            reads += 1
            partial += bytes
            guard let last = partial.lastIndex(of: UInt8(ascii: "\n")) else {
                if partial.count > Self.longestLine { flush() }
                continue
            }
            Log.write(String(decoding: partial[...last], as: UTF8.self))
            partial.removeFirst(last + 1)
        }
    }

    static let readsPerWake = 16

    /// What is left of an unfinished line (at exit, or past `longestLine`).
    func flush() {
        guard !partial.isEmpty else { return }
        Log.write(String(decoding: partial, as: UTF8.self) + "\n")
        partial = []
    }
}
