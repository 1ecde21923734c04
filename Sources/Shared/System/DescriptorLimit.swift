#if canImport(Glibc)
import Glibc
#endif

/// The open-file limit (RLIMIT_NOFILE). The usual soft limit (1,024) is
/// reached by ~1,000 idle clients; the hard one is what an administrator
/// allows. Every binary raises the soft limit to the hard one at start (as
/// nginx's `worker_rlimit_nofile` and systemd services routinely do), and
/// says so in one line.
public enum DescriptorLimit {
    /// The soft limit now.
    public static var current: Int {
        var limit = rlimit()
        guard (try? Syscall.call("getrlimit", "RLIMIT_NOFILE") { getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }) != nil else { return 1024 }
        return Int(clamping: limit.rlim_cur)  // RLIM_INFINITY clamps to Int.max
    }

    /// Raises the soft limit to the hard one; returns both values before
    /// (for the log line) and the soft limit after.
    @discardableResult
    public static func raiseToHard() -> (soft: Int, hard: Int, now: Int) {
        var limit = rlimit()
        guard (try? Syscall.call("getrlimit", "RLIMIT_NOFILE") { getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) }) != nil else { return (0, 0, current) }
        let soft = Int(clamping: limit.rlim_cur), hard = Int(clamping: limit.rlim_max)
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            _ = try? Syscall.call("setrlimit", "RLIMIT_NOFILE") { setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &raised) }
        }
        return (soft, hard, current)
    }

    /// The line a process logs at start.
    public static func raiseAndDescribe() -> String {
        let (soft, hard, now) = raiseToHard()
        return soft == now ? "open files: limit \(now) (hard limit \(hard))" : "open files: limit raised from \(soft) to \(now) (the hard limit)"
    }
}

/// One descriptor kept in reserve, so that a process out of descriptors can
/// still answer a waiting client (with a 503) instead of leaving it, and its
/// listener, stuck: the reserve is closed, one connection accepted, answered
/// and closed, and the reserve taken back.
public final class ReserveDescriptor {
    private var fd: FileDescriptor?

    public init() { fd = try? FileDescriptor.open("/dev/null", O_RDONLY) }

    /// Whether an accept error means "out of descriptors".
    public static func isExhaustion(_ error: SystemError) -> Bool {
        error.errno == EMFILE || error.errno == ENFILE || error.errno == ENOBUFS || error.errno == ENOMEM
    }

    /// Accepts one connection from `listener` on the reserve, writes `answer`
    /// (best effort) and closes it. False when none was waiting, or no
    /// descriptor could be freed.
    public func shed(from listener: FileDescriptor, answer: [UInt8]) -> Bool {
        fd?.close()
        fd = nil
        defer { fd = try? FileDescriptor.open("/dev/null", O_RDONLY) }
        guard case .completed(let accepted)? = try? listener.accept() else { return false }
        accepted.fd.answerAndClose(answer)
        return true
    }
}
