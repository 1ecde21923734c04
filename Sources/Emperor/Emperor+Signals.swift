#if canImport(Glibc)
import Glibc
#endif
import Shared

/// The emperor's signal table (docs/signals.md has it beside uWSGI's):
///
/// | signal       | effect                                                        |
/// |--------------|---------------------------------------------------------------|
/// | SIGHUP       | graceful reload of every instance                             |
/// | SIGTERM      | graceful stop of every instance, then exit                    |
/// | SIGINT/QUIT  | fast stop (immediate-stop message, SIGKILL after 3 s), exit   |
/// | SIGUSR1      | one log line per instance                                     |
/// | SIGURG       | forget every backoff: respawn throttled instances now         |
/// | SIGWINCH     | rescan now                                                    |
/// | SIGUSR2      | upgrade in place: re-exec from the binary's path, same pid    |
/// | SIGCHLD      | reap (instances and adopted orphans)                          |
extension Emperor {
    func handleSignal(_ sig: Int32) {
        switch sig {
        case SIGCHLD:
            for (pid, status) in ChildProcess.reapAll() { childExited(pid: pid, status: status) }
        case SIGHUP:
            guard shutdown == nil else { return }
            Log.info("SIGHUP: graceful reload of \(instances.count) instance(s)")
            notifier?.reloading()
            awaitingSystemdReady = true
            for instance in instances.values.sorted(by: { $0.name < $1.name }) {
                switch instance.state {
                case .starting, .ready, .reloading: reload(instance, cause: "SIGHUP")
                case .invalid, .throttled: instance.backoff.reset(); start(instance)
                case .stopping: break
                }
            }
        case SIGTERM:
            beginShutdown(.graceful, signal: sig)
        case SIGINT, SIGQUIT:
            beginShutdown(.fast, signal: sig)
        case SIGUSR1:
            logInstances()
        case SIGURG:
            Log.info("SIGURG: respawning throttled instances now")
            for instance in instances.values where instance.state == .throttled {
                instance.backoff.reset()
                start(instance)
            }
        case SIGWINCH:
            if shutdown == nil { scan() }
        case SIGUSR2:
            upgrade()
        default:
            break
        }
    }

    func beginShutdown(_ mode: ShutdownMode, signal sig: Int32) {
        if let current = shutdown, current == .fast || mode == .graceful {
            Log.info("\(SignalChannel.name(sig)): already stopping (\(current.rawValue)); \(instances.count) instance(s) left")
            return
        }
        shutdown = mode
        notifier?.stopping()
        let deadline = mode == .graceful ? settings.reloadMercySeconds : min(settings.reloadMercySeconds, 3)
        Log.info("\(SignalChannel.name(sig)): \(mode.rawValue) stop of \(instances.count) instance(s); SIGKILL after \(deadline) s")
        for instance in instances.values.sorted(by: { $0.name < $1.name }) {
            if instance.state == .stopping {
                instance.retiring = true
                instance.restartAfterExit = false
                if mode == .fast { stop(instance, mode: .fast) }
            } else {
                retire(instance, reason: "emperor stopping")
            }
        }
    }

    /// After the last instance: no adopted orphan may outlive the emperor.
    func finishShutdown() {
        let deadline = Host.monotonicNanoseconds() + 2_000_000_000
        while true {
            let strays = ChildProcess.children()
            if strays.isEmpty { break }
            for pid in strays { ChildProcess.signal(pid, SIGKILL) }
            for (pid, status) in ChildProcess.reapAll() { Log.info("killed leftover pid \(pid) (\(status))") }
            if Host.monotonicNanoseconds() > deadline { break }
            usleep(10_000)
        }
        if case .unix(let path) = settings.statsAddress { FileSystem.unlink(path) }
        if let pidfile = settings.pidfile { FileSystem.unlink(pidfile) }
        Log.info("emperor stopped")
    }

    func logInstances() {
        Log.info("SIGUSR1: \(instances.count) instance(s)")
        for instance in instances.values.sorted(by: { $0.name < $1.name }) {
            let pid = instance.pid.map(String.init) ?? "-"
            var line = "  \(instance.name): \(instance.state.rawValue), \(instance.kind?.rawValue ?? "?") pid \(pid), respawns \(instance.respawns)"
            if instance.accepting { line += ", accepting" }
            if let exit = instance.lastExit { line += ", last \(exit)" }
            if let problem = instance.lastProblem { line += ", problem: \(problem)" }
            Log.info(line)
        }
    }
}
