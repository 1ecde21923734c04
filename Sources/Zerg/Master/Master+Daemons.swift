#if canImport(Glibc)
import Glibc
#endif
import Shared

/// uWSGI's attached daemons (a Celery worker, a scheduler beside the site),
/// run by the zerg master:
///
/// - `attach-daemon = CMD`: `/bin/sh -c CMD`, a child of the master, started
///   again when it exits (1 s, doubling to 30 s while it keeps dying within 10 s);
/// - `smart-attach-daemon = PIDFILE CMD`: CMD daemonizes itself and writes
///   PIDFILE; the master starts it only while no live process is named there
///   (checked every second), so it survives the master's restarts;
/// - `attach-daemon2 = cmd=CMD[,pidfile=PATH][,stopsignal=N][,freq=SECONDS]`: the keyed form.
///
/// A rolling reload of the workers leaves them alone (never a duplicate); a
/// stop of the zerg sends each its stop signal (SIGTERM by default), then
/// SIGKILL after `reload-mercy`, and the master waits for its own children.
struct AttachedDaemon {
    let command: String
    /// Smart: the daemon's pid is read from here (it is not the master's child).
    let pidfile: String?
    let stopSignal: Int32
    /// Seconds between restarts at the least (`freq`, attach-daemon2).
    let minimumDelayMs: Int
    var pid: pid_t?
    var startedNs: UInt64 = 0
    var respawns = 0
    var backoff = Backoff(stepMs: 1000, capMs: 30_000, stableSeconds: 10)

    /// The daemons a configuration names; a malformed line is a problem with its file:line.
    static func all(in config: Configuration, problems: inout [ConfigDiagnostic]) -> [AttachedDaemon] {
        var daemons: [AttachedDaemon] = []
        for entry in config.occurrences("attach-daemon") {
            daemons.append(AttachedDaemon(command: entry.value, pidfile: nil, stopSignal: SIGTERM, minimumDelayMs: 0))
        }
        for entry in config.occurrences("smart-attach-daemon") {
            guard let (pidfile, command) = entry.value.splitOnce(" "), !command.isEmpty else {
                problems.append(ConfigDiagnostic(entry.origin, "`smart-attach-daemon = \(entry.value)`: expected `PIDFILE COMMAND`"))
                continue
            }
            daemons.append(AttachedDaemon(command: command, pidfile: pidfile, stopSignal: SIGTERM, minimumDelayMs: 0))
        }
        for entry in config.occurrences("attach-daemon2") {
            var keys: [String: String] = [:]
            for item in entry.value.split(separator: ",") {
                if let (k, v) = String(item).splitOnce("=") { keys[k.trimmed()] = v }
            }
            guard let command = keys["cmd"], !command.isEmpty else {
                problems.append(ConfigDiagnostic(entry.origin, "`attach-daemon2 = \(entry.value)`: expected `cmd=COMMAND[,pidfile=PATH][,stopsignal=N][,freq=SECONDS]`"))
                continue
            }
            let unknown = Set(keys.keys).subtracting(["cmd", "pidfile", "stopsignal", "freq"])
            if !unknown.isEmpty {
                problems.append(ConfigDiagnostic(entry.origin, "`attach-daemon2`: keys not offered here: \(unknown.sorted().joined(separator: ", "))"))
            }
            daemons.append(AttachedDaemon(command: command, pidfile: keys["pidfile"], stopSignal: keys["stopsignal"].flatMap { Int32($0) } ?? SIGTERM,
                                          minimumDelayMs: max(0, (keys["freq"].flatMap { Int($0) } ?? 0) * 1000)))
        }
        return daemons
    }

    /// A smart daemon's pid, from its pidfile, when that process lives.
    var livePidFromFile: pid_t? {
        guard let pidfile, let text = try? FileSystem.readText(pidfile),
              let pid = pid_t(text.trimmed()), pid > 0, kill(pid, 0) == 0 else { return nil }
        return pid
    }
}

extension Master {
    /// Runs `/bin/sh -c command` as the master's child, in a process group of
    /// its own (a stop signal reaches what it started), its output in the
    /// zerg's log, without the emperor's or a worker's variables (daemons, cron).
    func startShellCommand(_ command: String) throws -> pid_t {
        var env = Host.environment()
        for key in EmperorLink.variables + ["NOTIFY_SOCKET", WorkerMain.roleVariable] { env[key] = nil }
        let devNull = try FileDescriptor.open("/dev/null", O_RDONLY)
        defer { devNull.close() }
        var spec = ChildProcess.Spec(executable: "/bin/sh", arguments: ["/bin/sh", "-c", command], environment: env,
                                     fdMap: [(devNull, 0), (Log.forChildren, 1), (Log.forChildren, 2)])
        spec.newProcessGroup = true
        return try ChildProcess.start(spec).pid
    }

    /// Starts every daemon not running (a smart one whose pidfile names a live process is running).
    func startDaemons() {
        for i in daemons.indices { startDaemon(i) }
        if daemons.contains(where: { $0.pidfile != nil }) { timers.schedule(afterMs: 1000, .checkDaemons) }
    }

    func startDaemon(_ i: Int) {
        guard stopping == nil, daemons[i].pid == nil else { return }
        if daemons[i].livePidFromFile != nil { return }  // a smart daemon still running
        do {
            let pid = try startShellCommand(daemons[i].command)
            // A smart daemon's shell exits once it has daemonized: only a legacy one is tracked by pid.
            daemons[i].pid = pid
            daemons[i].startedNs = Host.monotonicNanoseconds()
            Log.info("started daemon `\(daemons[i].command)` (pid \(pid))")
        } catch {
            Log.info("cannot start daemon `\(daemons[i].command)`: \(error)")
            scheduleDaemonRestart(i)
        }
    }

    /// A child that is a daemon exited (true), to be started again; false: not a daemon.
    func daemonExited(pid: pid_t, status: ExitStatus) -> Bool {
        guard let i = daemons.firstIndex(where: { $0.pid == pid }) else { return false }
        daemons[i].pid = nil
        if stopping != nil { return true }
        if daemons[i].pidfile != nil && daemons[i].livePidFromFile != nil { return true }  // daemonized: watched through its pidfile
        Log.info("daemon `\(daemons[i].command)` (pid \(pid)) exited (\(status))")
        scheduleDaemonRestart(i)
        return true
    }

    func scheduleDaemonRestart(_ i: Int) {
        let ranNs = daemons[i].startedNs == 0 ? 0 : Host.monotonicNanoseconds() - daemons[i].startedNs
        let delay = max(daemons[i].minimumDelayMs, daemons[i].backoff.nextDelayMs(ranNs: ranNs))
        daemons[i].respawns += 1
        if delay > 0 { Log.info("daemon `\(daemons[i].command)`: starting it again in \(delay) ms") }
        timers.schedule(afterMs: delay, .restartDaemon(i))
    }

    /// Every second: a smart daemon whose pidfile names no live process is started again.
    func checkSmartDaemons() {
        guard stopping == nil else { return }
        for i in daemons.indices where daemons[i].pidfile != nil && daemons[i].pid == nil && daemons[i].livePidFromFile == nil {
            Log.info("daemon `\(daemons[i].command)`: no live process in \(daemons[i].pidfile!); starting it")
            daemons[i].respawns += 1
            startDaemon(i)
        }
        timers.schedule(afterMs: 1000, .checkDaemons)
    }

    /// The zerg stops: each daemon gets its stop signal (its process group), SIGKILL after reload-mercy.
    func stopDaemons() {
        for d in daemons {
            guard let pid = d.pid ?? d.livePidFromFile else { continue }
            _ = ChildProcess.signalGroup(pid, d.stopSignal) || ChildProcess.signal(pid, d.stopSignal)
            if d.pid != nil { timers.schedule(afterMs: settings.reloadMercySeconds * 1000, .kill(pid: pid)) }
        }
    }

    /// Stats: each daemon's command, pid and restarts.
    var daemonsJSON: JSON {
        .array(daemons.map { d in
            .object([("cmd", .string(d.command)), ("pid", .number(Int(d.pid ?? d.livePidFromFile ?? 0))), ("respawns", .number(d.respawns)),
                     ("smart", .bool(d.pidfile != nil))])
        })
    }
}
