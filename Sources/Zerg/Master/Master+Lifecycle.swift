#if canImport(Glibc)
import Glibc
#endif
import Shared
import ZergCore

/// The master's part of worker lifecycles: recycling (a replacement is ready
/// before the old worker drains), harakiri, lifetime and memory limits, touch files.
extension Master {
    /// A worker passed a recycling limit it checks itself (max-requests, reload-on-rss/as).
    func recycle(_ p: WorkerProcess, reason: RecycleReason, detail: String) {
        recycle(p, option: reason.option, because: "\(reason.option) (\(detail))")
    }

    /// Starts a replacement for `p`; `p` keeps serving until it is ready, then drains.
    func recycle(_ p: WorkerProcess, option: String, because reason: String) {
        guard stopping == nil, p.state == .ready, !p.recycling else { return }
        p.recycling = true
        slotHistory[p.id, default: SlotHistory()].recycles[option, default: 0] += 1
        Log.info("worker \(p.id) pid \(p.pid) recycled: \(reason); starting its replacement")
        spawn(id: p.id, replacing: p.pid)
    }

    /// Every 250 ms: harakiri, max-worker-lifetime, evil-reload-on-rss/as.
    func checkWorkers() {
        let life = settings.lifecycle
        let now = Host.monotonicNanoseconds()
        for p in Array(processes.values) {
            if life.harakiriSeconds > 0 && !p.harakiriSent {
                // Any core past the limit: the whole process goes, as in uWSGI.
                if let (row, start) = scoreboard.oldestRequest(p.rows), now > start, now - start > UInt64(life.harakiriSeconds) * 1_000_000_000 {
                    harakiri(p, row: row, runningNs: now - start)
                    continue
                }
            }
            if let limit = life.lifetimeLimitSeconds(workerID: p.id), now > p.startedNs, now - p.startedNs > UInt64(limit) * 1_000_000_000 {
                recycle(p, option: "max-worker-lifetime", because: "max-worker-lifetime (\(limit) s)")
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
    func harakiri(_ p: WorkerProcess, row: Int, runningNs: UInt64) {
        let life = settings.lifecycle
        p.harakiriSent = true
        harakiriCount += 1
        slotHistory[p.id, default: SlotHistory()].harakiri += 1
        let request = scoreboard.requestText(row: row)
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
            Log.info("touch file changed: reload")
            startReload()
        case .workersReload:
            Log.info("touch file changed: rolling reload of the workers")
            startReload(configuration: false)
        case .logReopen:
            reopenLogs()
            Log.info("touch-logreopen: log reopened")
        }
    }

    /// The log file opened again by the master and every worker (their request logs too).
    func reopenLogs() {
        Log.reopenFiles()
        for p in processes.values { p.order(.reopenLog) }
    }

    /// `log-maxsize`: past it, the log file is renamed to `log-backupname`
    /// (default: the file's name and the time, `zerg.log.1732900000`) and every
    /// process opens it again.
    func checkLogSize() {
        defer { timers.schedule(afterMs: 1000, .checkLogSize) }
        guard let path = settings.rotatedLog, let size = (try? FileSystem.status(path))?.size,
              size > Int64(settings.logMaxSize) else { return }
        let backup = settings.logBackupName ?? "\(path).\(Timestamp.now().seconds)"
        do {
            try FileSystem.rename(path, to: backup)
        } catch {
            Log.info("log-maxsize: cannot rename \(path): \(error)")
            return
        }
        reopenLogs()
        Log.info("log-maxsize: \(path) passed \(settings.logMaxSize) bytes; the rest is in \(backup)")
    }
}

/// The adaptive worker count (`cheaper`): the master samples, `Cheaper` decides.
extension Master {
    static func nowSeconds() -> Double { Double(Host.monotonicNanoseconds()) / 1e9 }

    /// Requests waiting for a worker: the vassal's queue (zerg mode, as the
    /// workers last saw it) or the listening sockets' accept queues.
    var backlog: Int {
        if listeners.isEmpty {
            return Int(processes.values.map { scoreboard.sum($0.rows, .backlog) / Int64($0.rows.count) }.max() ?? 0)
        }
        return listeners.reduce(0) { $0 + $1.acceptBacklog() }
    }

    func adjustWorkerCount() {
        guard var c = cheaper, stopping == nil, !reloadInProgress else { return }
        let active = processes.values.filter { $0.state != .stopping && !cheapedSlots.contains($0.id) }
        let samples = active.map { p in
            // Per core: a worker is busy when every thread is in a request, and its
            // busy time is the average of its threads' (busyness counts threads).
            Cheaper.Sample(id: p.id, busy: p.rows.allSatisfy { scoreboard[$0, .requestStart] != 0 },
                           busyMicros: scoreboard.sum(p.rows, .busyMicros) / Int64(p.rows.count))
        }
        let queued = backlog
        let n = c.decide(nowS: Self.nowSeconds(), active: samples, backlog: queued, freeSlots: cheapedSlots.count)
        cheaper = c
        if n > 0 {
            for id in cheapedSlots.sorted().prefix(n) {
                cheapedSlots.remove(id)
                Log.info("cheaper (\(c.settings.algorithm.rawValue)): busyness \(c.lastAverage)%, backlog \(queued): starting worker \(id) (\(settings.workers - cheapedSlots.count) of \(settings.workers))")
                spawn(id: id)
            }
        } else if n < 0 {
            // The oldest idle worker goes, through the same drain as a graceful stop.
            let idle = active.filter { $0.state == .ready && $0.replaces == nil && !$0.recycling && scoreboard.oldestRequest($0.rows) == nil }
            guard let victim = idle.min(by: { $0.startedNs < $1.startedNs }) else { return }
            cheapedSlots.insert(victim.id)
            Log.info("cheaper (\(c.settings.algorithm.rawValue)): busyness \(c.lastAverage)%, backlog \(queued): retiring idle worker \(victim.id) pid \(victim.pid) (\(settings.workers - cheapedSlots.count) of \(settings.workers))")
            stopWorker(victim)
        }
    }
}
