#if canImport(Glibc)
import Glibc
#endif

/// Runs a configuration's attached daemons for a zerg master or a vassal:
/// starts them, starts again the ones that exit (with backoff), watches smart
/// daemons' pidfiles, and stops them with their supervisor (stop signal to
/// the daemon's process group, SIGKILL after `mercySeconds`). It keeps its
/// own timers; the owner's loop waits at most `timeoutMs` and calls `fireDue`,
/// and hands it every child that ended (`exited`). A reload of the owner
/// (workers rolled, a vassal re-exec'd) never starts one twice: the pids go
/// across a re-exec (`adopt`).
public final class DaemonSupervisor {
    enum Timer {
        case restart(Int)
        case checkPidfiles
        case kill(pid_t)
    }

    public private(set) var daemons: [AttachedDaemon]
    private var timers = TimerQueue<Timer>()
    private let mercySeconds: Int
    private var stopping = false
    /// Variables the daemons must not inherit (the emperor's link, a worker's role).
    private let hiddenVariables: [String]

    public init(_ daemons: [AttachedDaemon], mercySeconds: Int, hiding hiddenVariables: [String]) {
        self.daemons = daemons
        self.mercySeconds = mercySeconds
        self.hiddenVariables = EmperorLink.variables + ["NOTIFY_SOCKET"] + hiddenVariables
    }

    /// The pids a re-exec'd owner's previous image started (still its children), by position.
    public func adopt(pids: [pid_t?]) {
        for (i, pid) in pids.enumerated() where i < daemons.count { daemons[i].pid = pid }
    }

    /// Each daemon's pid (nil: not a child now), for the image that replaces the owner.
    public var pids: [pid_t?] { daemons.map(\.pid) }

    /// A child of the owner is still running (the owner waits for it before exiting).
    public var hasChildren: Bool { daemons.contains { $0.pid != nil } }

    /// Runs `/bin/sh -c command` as the owner's child, in a process group of
    /// its own (a stop signal reaches what it started), its output in the
    /// owner's log (`Log.forChildren`), without the hidden variables (daemons, cron).
    public func startShellCommand(_ command: String) throws -> pid_t {
        var env = Host.environment()
        for key in hiddenVariables { env[key] = nil }
        let devNull = try FileDescriptor.open("/dev/null", O_RDONLY)
        defer { devNull.close() }
        var spec = ChildProcess.Spec(executable: "/bin/sh", arguments: ["/bin/sh", "-c", command], environment: env,
                                     fdMap: [(devNull, 0), (Log.forChildren, 1), (Log.forChildren, 2)])
        spec.newProcessGroup = true
        return try ChildProcess.start(spec).pid
    }

    /// Starts every daemon not running (a smart one whose pidfile names a live process is running).
    public func startAll() {
        for i in daemons.indices { start(i) }
        if daemons.contains(where: { $0.pidfile != nil }) { timers.schedule(afterMs: 1000, .checkPidfiles) }
    }

    private func start(_ i: Int) {
        guard !stopping, daemons[i].pid == nil else { return }
        if daemons[i].livePidFromFile != nil { return }  // a smart daemon still running
        do {
            let pid = try startShellCommand(daemons[i].command)
            // A smart daemon's shell exits once it has daemonized: then its pidfile is watched.
            daemons[i].pid = pid
            daemons[i].startedNs = Host.monotonicNanoseconds()
            Log.info("started daemon `\(daemons[i].command)` (pid \(pid))")
        } catch {
            Log.info("cannot start daemon `\(daemons[i].command)`: \(error)")
            scheduleRestart(i)
        }
    }

    /// A child of the owner ended: true when it was a daemon (started again
    /// unless stopping); false: not one of these.
    public func exited(pid: pid_t, status: ExitStatus) -> Bool {
        guard let i = daemons.firstIndex(where: { $0.pid == pid }) else { return false }
        daemons[i].pid = nil
        if stopping { return true }
        if daemons[i].pidfile != nil && daemons[i].livePidFromFile != nil { return true }  // daemonized: watched through its pidfile
        Log.info("daemon `\(daemons[i].command)` (pid \(pid)) exited (\(status))")
        scheduleRestart(i)
        return true
    }

    private func scheduleRestart(_ i: Int) {
        let ranNs = daemons[i].startedNs == 0 ? 0 : Host.monotonicNanoseconds() - daemons[i].startedNs
        let delay = max(daemons[i].minimumDelayMs, daemons[i].backoff.nextDelayMs(ranNs: ranNs))
        daemons[i].respawns += 1
        if delay > 0 { Log.info("daemon `\(daemons[i].command)`: starting it again in \(delay) ms") }
        timers.schedule(afterMs: delay, .restart(i))
    }

    /// The owner stops: each daemon gets its stop signal (its process group), SIGKILL after the mercy.
    public func stopAll() {
        stopping = true
        for d in daemons {
            guard let pid = d.pid ?? d.livePidFromFile else { continue }
            _ = ChildProcess.signalGroup(pid, d.stopSignal) || ChildProcess.signal(pid, d.stopSignal)
            if d.pid != nil { timers.schedule(afterMs: mercySeconds * 1000, .kill(pid)) }
        }
    }

    /// An immediate stop: SIGKILL to every daemon's group now.
    public func killAll() {
        stopping = true
        for d in daemons {
            guard let pid = d.pid ?? d.livePidFromFile else { continue }
            _ = ChildProcess.signalGroup(pid, SIGKILL) || ChildProcess.signal(pid, SIGKILL)
        }
    }

    /// How long the owner's loop may wait before `fireDue` has work.
    public func timeoutMs(otherwise: Int32) -> Int32 { timers.timeoutMs(otherwise: otherwise) }

    public func fireDue() {
        for timer in timers.popDue() {
            switch timer {
            case .restart(let i):
                start(i)
            case .checkPidfiles:
                guard !stopping else { continue }
                for i in daemons.indices where daemons[i].pidfile != nil && daemons[i].pid == nil && daemons[i].livePidFromFile == nil {
                    Log.info("daemon `\(daemons[i].command)`: no live process in \(daemons[i].pidfile!); starting it")
                    daemons[i].respawns += 1
                    start(i)
                }
                timers.schedule(afterMs: 1000, .checkPidfiles)
            case .kill(let pid):
                guard let d = daemons.first(where: { $0.pid == pid }) else { continue }
                Log.info("daemon `\(d.command)` (pid \(pid)) did not stop in time; SIGKILL")
                _ = ChildProcess.signalGroup(pid, SIGKILL) || ChildProcess.signal(pid, SIGKILL)
            }
        }
    }

    /// Stats: each daemon's command, pid and restarts.
    public var json: JSON {
        .array(daemons.map { d in
            .object([("cmd", .string(d.command)), ("pid", .number(Int(d.pid ?? d.livePidFromFile ?? 0))), ("respawns", .number(d.respawns)),
                     ("smart", .bool(d.pidfile != nil))])
        })
    }
}
