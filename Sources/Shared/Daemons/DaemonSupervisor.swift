#if canImport(Glibc)
import Glibc
#endif

/// Runs a configuration's attached daemons for a zerg master or a vassal:
/// starts them, starts again the ones that exit (with backoff), watches smart
/// daemons' pidfiles, and stops them with their supervisor (stop signal to
/// the daemon's process group, SIGKILL after `mercySeconds`). It keeps its
/// own timers; the owner's loop waits at most `timeoutMs` and calls `fireDue`,
/// and hands it every child that ended (`exited`). A reload of the owner
/// (workers rolled, a vassal re-exec'd) never starts one twice: the running
/// daemons go across a re-exec with their commands (`adopt`), and one the new
/// configuration no longer names is stopped.
public final class DaemonSupervisor {
    enum Timer {
        case restart(Int)
        /// Every second: smart daemons' pidfiles, `touch` files.
        case check
        case kill(pid_t)
    }

    /// What a child's end was to the supervisor.
    public enum Exit: Equatable {
        case notADaemon
        case daemon
        /// A control daemon (`attach-control-daemon`) ended: its owner stops.
        case controlDaemonEnded(String)
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
        self.hiddenVariables = EmperorLink.variables + SystemdNotify.childHidden + hiddenVariables
    }

    /// Daemons the configuration no longer names, stopped and waited for.
    private var leftovers: [pid_t] = []

    /// The daemons a re-exec'd owner's previous image started (still its
    /// children), matched by command; the others are stopped.
    public func adopt(_ running: [(command: String, pid: pid_t)]) {
        for (command, pid) in running {
            if let i = daemons.firstIndex(where: { $0.command == command && $0.pid == nil }) {
                daemons[i].pid = pid
            } else {
                Log.info("daemon `\(command)` (pid \(pid)) is no longer configured; stopping it")
                _ = ChildProcess.signalGroup(pid, SIGTERM) || ChildProcess.signal(pid, SIGTERM)
                leftovers.append(pid)
                timers.schedule(afterMs: mercySeconds * 1000, .kill(pid))
            }
        }
    }

    /// The daemons running as children, for the image that replaces the owner.
    public var running: [(command: String, pid: pid_t)] { daemons.compactMap { d in d.pid.map { (d.command, $0) } } }

    /// Every child pid this supervisor waits for (an owner that reaps only these).
    public var childPids: [pid_t] { daemons.compactMap(\.pid) + leftovers }

    /// A child of the owner is still running (the owner waits for it before exiting).
    public var hasChildren: Bool { !childPids.isEmpty }

    /// Runs `/bin/sh -c command` as the owner's child, in a process group of
    /// its own (a stop signal reaches what it started), its output in the
    /// owner's log (`Log.forChildren`), without the hidden variables (daemons, cron).
    public func startShellCommand(_ command: String, in directory: String? = nil, outliving: Bool = false) throws -> pid_t {
        var env = Host.environment()
        for key in hiddenVariables { env[key] = nil }
        let devNull = try FileDescriptor.open("/dev/null", O_RDONLY)
        defer { devNull.close() }
        var spec = ChildProcess.Spec(executable: "/bin/sh", arguments: ["/bin/sh", "-c", command], environment: env,
                                     fdMap: Log.childStdio(stdin: devNull))
        spec.newProcessGroup = true
        spec.workingDirectory = directory
        if outliving { spec.deathSignal = 0 }
        return try ChildProcess.start(spec).pid
    }

    /// Starts every daemon not running (a smart one whose pidfile names a live process is running).
    public func startAll() {
        for i in daemons.indices { start(i) }
        if daemons.contains(where: { $0.pidfile != nil || !$0.touchFiles.isEmpty }) { timers.schedule(afterMs: 1000, .check) }
    }

    private func start(_ i: Int) {
        guard !stopping, daemons[i].pid == nil else { return }
        if daemons[i].livePidFromFile != nil { return }  // a smart daemon still running
        do {
            let d = daemons[i]
            let pid = try startShellCommand(d.command, in: d.directory, outliving: d.writesPidfile)
            // A smart daemon's shell exits once it has daemonized: then its pidfile is watched.
            daemons[i].pid = pid
            if d.writesPidfile, let pidfile = d.pidfile {
                do { try FileSystem.writeFileAtomically(pidfile, "\(pid)\n") } catch { Log.info("daemon `\(d.command)`: cannot write \(pidfile): \(error)") }
            }
            daemons[i].startedNs = Host.monotonicNanoseconds()
            Log.info("started daemon `\(daemons[i].command)` (pid \(pid))")
        } catch {
            Log.info("cannot start daemon `\(daemons[i].command)`: \(error)")
            scheduleRestart(i)
        }
    }

    /// A child of the owner ended: a daemon is started again (unless
    /// stopping); a control daemon's end stops the owner.
    public func exited(pid: pid_t, status: ExitStatus) -> Exit {
        if let k = leftovers.firstIndex(of: pid) {
            leftovers.remove(at: k)
            return .daemon
        }
        guard let i = daemons.firstIndex(where: { $0.pid == pid }) else { return .notADaemon }
        daemons[i].pid = nil
        if stopping { return .daemon }
        if daemons[i].pidfile != nil && daemons[i].livePidFromFile != nil { return .daemon }  // daemonized: watched through its pidfile
        Log.info("daemon `\(daemons[i].command)` (pid \(pid)) exited (\(status))")
        if daemons[i].control { return .controlDaemonEnded(daemons[i].command) }
        scheduleRestart(i)
        return .daemon
    }

    private func scheduleRestart(_ i: Int) {
        let ranNs = daemons[i].startedNs == 0 ? 0 : Host.monotonicNanoseconds() - daemons[i].startedNs
        let delay = daemons[i].restartNow ? 0 : max(daemons[i].minimumDelayMs, daemons[i].backoff.nextDelayMs(ranNs: ranNs))
        daemons[i].restartNow = false
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

    /// Runs what is due at `now` (the owner's loop passes the time it read anyway).
    public func fireDue(now: UInt64) {
        guard let next = timers.nextDeadline, next <= now else { return }
        for timer in timers.popDue(now: now) {
            switch timer {
            case .restart(let i):
                start(i)
            case .check:
                guard !stopping else { continue }
                for i in daemons.indices where daemons[i].touched() {
                    guard let pid = daemons[i].pid ?? daemons[i].livePidFromFile else { continue }
                    Log.info("daemon `\(daemons[i].command)`: \(daemons[i].touchFiles.joined(separator: ", ")) touched; restarting it (pid \(pid))")
                    daemons[i].restartNow = true
                    _ = ChildProcess.signalGroup(pid, daemons[i].stopSignal) || ChildProcess.signal(pid, daemons[i].stopSignal)
                }
                for i in daemons.indices where daemons[i].pidfile != nil && daemons[i].pid == nil && daemons[i].livePidFromFile == nil {
                    Log.info("daemon `\(daemons[i].command)`: no live process in \(daemons[i].pidfile!); starting it")
                    daemons[i].respawns += 1
                    start(i)
                }
                timers.schedule(afterMs: 1000, .check)
            case .kill(let pid):
                guard let name = daemons.first(where: { $0.pid == pid })?.command ?? (leftovers.contains(pid) ? "no longer configured" : nil) else { continue }
                Log.info("daemon `\(name)` (pid \(pid)) did not stop in time; SIGKILL")
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
