#if canImport(Glibc)
import Glibc
#endif
import Shared

/// The master's part of worker lifecycles: recycling (a replacement is ready
/// before the old worker drains), harakiri, lifetime and memory limits, touch files.
extension Master {
    /// Starts a replacement for `p`; `p` keeps serving until it is ready, then drains.
    func recycle(_ p: WorkerProcess, because reason: String) {
        guard stopping == nil, p.state == .ready, !p.recycling else { return }
        p.recycling = true
        Log.info("worker \(p.id) pid \(p.pid) recycled: \(reason); starting its replacement")
        spawn(id: p.id, replacing: p.pid)
    }

    /// Every 250 ms: harakiri, max-worker-lifetime, evil-reload-on-rss/as.
    func checkWorkers() {
        let life = settings.lifecycle
        let now = Host.monotonicNanoseconds()
        for p in Array(processes.values) {
            if life.harakiriSeconds > 0 && !p.harakiriSent {
                let start = UInt64(max(0, scoreboard[p.row, .requestStart]))
                if start != 0 && now > start && now - start > UInt64(life.harakiriSeconds) * 1_000_000_000 {
                    harakiri(p, runningNs: now - start)
                    continue
                }
            }
            if let limit = life.lifetimeLimitSeconds(workerID: p.id), now - p.startedNs > UInt64(limit) * 1_000_000_000 {
                recycle(p, because: "max-worker-lifetime (\(limit) s)")
            }
            if life.evilReloadOnRSS > 0 || life.evilReloadOnAS > 0, p.state != .stopping,
               let (rss, vsz) = ChildProcess.memory(p.pid) {
                if (life.evilReloadOnRSS > 0 && rss > life.evilReloadOnRSS) || (life.evilReloadOnAS > 0 && vsz > life.evilReloadOnAS) {
                    Log.info("worker \(p.id) pid \(p.pid) uses \(rss >> 20) MB resident, \(vsz >> 20) MB address space: over evil-reload-on-*; SIGKILL")
                    p.state = .stopping
                    ChildProcess.signal(p.pid, SIGKILL)
                    spawn(id: p.id)
                }
            }
        }
    }

    /// A request ran past `harakiri`: the worker is killed (gracefully first
    /// with `harakiri-graceful-timeout`) and replaced when it is reaped.
    func harakiri(_ p: WorkerProcess, runningNs: UInt64) {
        let life = settings.lifecycle
        p.harakiriSent = true
        harakiriCount += 1
        let request = scoreboard.requestText(row: p.row)
        Log.info("HARAKIRI: worker \(p.id) pid \(p.pid) ran \"\(request)\" for \(runningNs / 1_000_000) ms "
                 + "(harakiri \(life.harakiriSeconds) s); killing it (harakiri #\(harakiriCount))")
        if life.harakiriGracefulSeconds > 0 {
            ChildProcess.signal(p.pid, life.harakiriGracefulSignal)
            timers.schedule(afterMs: life.harakiriGracefulSeconds * 1000, .kill(pid: p.pid))
        } else {
            ChildProcess.signal(p.pid, SIGKILL)
        }
    }

    func touched(_ action: TouchAction) {
        switch action {
        case .reload:
            Log.info("touch file changed: rolling reload")
            startReload()
        case .logReopen:
            if let path = settings.logto ?? settings.logger {
                do { try Log.reopen(path) } catch { Log.info("cannot reopen \(path): \(error)") }
            }
            Log.info("touch-logreopen: log reopened")
            for p in processes.values { try? p.control.writeAll("l") }
        }
    }
}
