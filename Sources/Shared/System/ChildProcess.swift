#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// How a child ended, from waitpid's status.
public enum ExitStatus: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)
    /// It ended, but was not this process's child (adopted): no status to read.
    case unknown

    init(raw: Int32) {
        if cs_wifsignaled(raw) != 0 {
            self = .signaled(cs_wtermsig(raw))
        } else {
            self = .exited(cs_wexitstatus(raw))
        }
    }

    public var isSuccess: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .signaled(let sig): return "killed by \(SignalChannel.name(sig))"
        case .unknown: return "ended (not a child of this process: no exit status)"
        }
    }
}

/// Starting, signalling and reaping child processes. Children start with
/// fork+exec in C (CSupport's cs_spawn): no Swift code runs in the child, and
/// unlike posix_spawn it can set PR_SET_PDEATHSIG before exec.
public enum ChildProcess {
    public struct Spec {
        public var executable: String
        public var arguments: [String]  // argv, including argv[0]
        public var environment: [String: String]
        public var workingDirectory: String?
        /// (fd in this process, fd number in the child); 0, 1 and 2 must be listed to be kept.
        public var fdMap: [(FileDescriptor, Int32)]
        public var newProcessGroup = true
        /// A session of its own (setsid), detached from any terminal: `daemonize`.
        public var newSession = false
        public var deathSignal: Int32 = SIGKILL
        /// Exec'd instead when `executable` cannot be (missing, not executable):
        /// the running image (`OwnBinary.image`), so a bad upgrade never stops a respawn.
        public var fallbackImage: FileDescriptor?

        public init(executable: String, arguments: [String], environment: [String: String],
                    workingDirectory: String? = nil, fdMap: [(FileDescriptor, Int32)]) {
            self.executable = executable
            self.arguments = arguments
            self.environment = environment
            self.workingDirectory = workingDirectory
            self.fdMap = fdMap
        }
    }

    /// A started child.
    public struct Started {
        public let pid: pid_t
        /// Set when `executable` could not be exec'd and the fallback image runs instead.
        public let pathFailure: SystemError?
    }

    /// Starts the child; an exec failure (missing binary, no permission) is
    /// thrown here as a SystemError naming execve and the path.
    public static func spawn(_ spec: Spec) throws(SystemError) -> pid_t {
        try start(spec).pid
    }

    /// Starts the child, falling back to `spec.fallbackImage` when the path cannot be exec'd.
    public static func start(_ spec: Spec) throws(SystemError) -> Started {
        let argv = spec.arguments.map { strdup($0) } + [nil]
        let envp = spec.environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        let map = spec.fdMap.flatMap { [$0.0.rawValue, $0.1] }
        var errorPipe: Int32 = -1
        let pid = try Syscall.call("fork", spec.executable) {
            map.withUnsafeBufferPointer { mapBuf in
                cs_spawn(spec.executable, argv, envp, spec.workingDirectory, mapBuf.baseAddress, Int32(spec.fdMap.count),
                         spec.newSession ? 2 : spec.newProcessGroup ? 1 : 0, spec.deathSignal, spec.fallbackImage?.rawValue ?? -1, &errorPipe)
            }
        }
        // The child writes the errno of each exec that failed here; end of file
        // means the last one it tried ran (see cs_spawn).
        let pipe = FileDescriptor(rawValue: errorPipe)
        defer { pipe.close() }
        let report = (try? pipe.readToEnd(limit: 64)) ?? []
        let errnos = stride(from: 0, to: report.count - 3, by: 4).map { i in
            Int32(report[i]) | Int32(report[i + 1]) << 8 | Int32(report[i + 2]) << 16 | Int32(report[i + 3]) << 24
        }
        if errnos.isEmpty { return Started(pid: pid, pathFailure: nil) }
        let pathFailure = SystemError("execve", spec.executable, errno: errnos[0])
        if errnos.count == 1 && spec.fallbackImage != nil { return Started(pid: pid, pathFailure: pathFailure) }
        _ = wait(pid)
        if errnos.count > 1 { throw SystemError("execveat", "the running image, after \(pathFailure)", errno: errnos[1]) }
        throw pathFailure
    }

    /// Every child that has ended, without blocking (waitpid(-1, WNOHANG) until 0/ECHILD).
    public static func reapAll() -> [(pid: pid_t, status: ExitStatus)] {
        var out: [(pid_t, ExitStatus)] = []
        while true {
            var raw: Int32 = 0
            // ECHILD (no children left) ends the loop like "none ended yet".
            let pid = try? Syscall.call("waitpid", "any child") { waitpid(-1, &raw, WNOHANG) }
            guard let pid, pid > 0 else { return out }
            out.append((pid, ExitStatus(raw: raw)))
        }
    }

    /// waitpid(pid, WNOHANG): that child's status once it has ended; nil while
    /// it runs (or when it is not a child).
    public static func reap(_ pid: pid_t) -> ExitStatus? {
        var raw: Int32 = 0
        guard let got = try? Syscall.call("waitpid", "\(pid)", { waitpid(pid, &raw, WNOHANG) }), got == pid else { return nil }
        return ExitStatus(raw: raw)
    }

    /// pidfd_open(2): an fd that turns readable when `pid` ends, whoever its parent is.
    public static func pidfd(_ pid: pid_t) throws(SystemError) -> FileDescriptor {
        FileDescriptor(rawValue: try Syscall.call("pidfd_open", "\(pid)") { cs_pidfd_open(pid) })
    }

    /// kill(2); false when the process is already gone.
    @discardableResult
    public static func signal(_ pid: pid_t, _ sig: Int32) -> Bool {
        (try? Syscall.call("kill", "\(pid)") { kill(pid, sig) }) != nil
    }

    /// killpg(2) on the child's own process group, which reaches its workers too.
    @discardableResult
    public static func signalGroup(_ pgid: pid_t, _ sig: Int32) -> Bool {
        (try? Syscall.call("killpg", "\(pgid)") { kill(-pgid, sig) }) != nil
    }

    /// Direct children of this process according to /proc (adopted orphans included).
    public static func children(of parent: pid_t = getpid()) -> [pid_t] {
        guard let entries = try? FileSystem.list("/proc") else { return [] }
        var out: [pid_t] = []
        for name in entries {
            if let pid = pid_t(name), ProcStat.read(pid)?.parent == parent { out.append(pid) }
        }
        return out
    }

    /// Marks this process as a subreaper: orphaned descendants are reparented
    /// to it (so it can reap them) instead of to PID 1.
    public static func becomeSubreaper() {
        _ = try? Syscall.call("prctl(PR_SET_CHILD_SUBREAPER)") { cs_set_child_subreaper() }
    }

    /// Resident set size of a process in bytes, from /proc/PID/statm.
    public static func residentBytes(_ pid: pid_t) -> Int? {
        memory(pid).map { Int($0.rss) }
    }

    /// Resident and virtual size in bytes, from /proc/PID/statm (`self` for this process).
    public static func memory(_ pid: pid_t?) -> (rss: Int64, vsz: Int64)? {
        guard let text = try? FileSystem.readText("/proc/\(pid.map(String.init) ?? "self")/statm") else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let size = Int64(fields[0]), let resident = Int64(fields[1]) else { return nil }
        let page = Int64(sysconf(Int32(_SC_PAGESIZE)))
        return (resident * page, size * page)
    }
}

extension ChildProcess {
    /// Waits up to `timeoutMs` for that one child; then SIGKILLs its group and
    /// reaps it, returning nil (it did not end by itself in time).
    public static func wait(_ pid: pid_t, timeoutMs: Int32) -> ExitStatus? {
        let deadline = Host.monotonicNanoseconds() + UInt64(max(0, timeoutMs)) * 1_000_000
        while true {
            var raw: Int32 = 0
            let got = try? Syscall.call("waitpid", "\(pid)") { waitpid(pid, &raw, WNOHANG) }
            if let got, got == pid { return ExitStatus(raw: raw) }
            if got == nil { return nil }  // not our child (any more)
            if Host.monotonicNanoseconds() >= deadline {
                signalGroup(pid, SIGKILL)
                signal(pid, SIGKILL)
                _ = wait(pid)
                return nil
            }
            usleep(5_000)
        }
    }

    /// waitpid(pid, 0): blocks until that one child ends (for short helper commands).
    public static func wait(_ pid: pid_t) -> ExitStatus? {
        var raw: Int32 = 0
        guard (try? Syscall.call("waitpid", "\(pid)") { waitpid(pid, &raw, 0) }) != nil else { return nil }
        return ExitStatus(raw: raw)
    }
}
