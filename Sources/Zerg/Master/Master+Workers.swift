#if canImport(Glibc)
import Glibc
#endif
import Shared

/// The master's side of its workers: their reports, retiring them, their
/// exits, rolling reloads, stops, signals and the emperor's commands.
extension Master {
    /// The worker's reports. A closed channel needs nothing: the exit is reaped.
    func readWorker(_ p: WorkerProcess) {
        switch p.control.receive() {
        case .closed(let error):
            if let token = p.eventToken { sources.remove(p.control.fd, token) }
            p.eventToken = nil
            if let error {
                // A worker the master cannot hear cannot be managed: it is replaced.
                Log.info("worker \(p.id) pid \(p.pid): control channel: \(error); SIGKILL")
                ChildProcess.signal(p.pid, SIGKILL)
            }
        case .messages(let reports):
            for report in reports { received(report, from: p) }
        }
    }

    func received(_ report: WorkerReport, from p: WorkerProcess) {
        switch report {
        case .ready(let totalMs, let appMs, let warmupMs):
            p.state = .ready
            appEverLoaded = true
            if lastFailure != nil {
                Log.info("app loaded again (worker \(p.id))")
                lastFailure = nil
            }
            backoff.reset()
            if paused { p.order(.pause) }
            p.readyMs = Int(totalMs)
            if warmupMs != 0 {
                Log.info("worker \(p.id) pid \(p.pid) ready in \(totalMs) ms (app \(appMs) ms, warm-up \(warmupMs) ms)")
            } else {
                Log.info("worker \(p.id) pid \(p.pid) ready (app loaded in \(totalMs) ms)")
            }
            if let old = p.replaces {
                p.replaces = nil
                if let o = processes[old] { stopWorker(o) }
                continueReload()
                if reloadInProgress && reloadQueue.isEmpty && !processes.values.contains(where: { $0.replaces != nil }) {
                    finishReload()
                }
            }
            updateUnavailable()
            let target = settings.workers - cheapedSlots.count
            if !announcedReady && processes.values.filter({ $0.state == .ready }).count >= target {
                announcedReady = true
                Log.info("\(target) worker(s) serving on \(boundAddresses.joined(separator: ", "))")
                tellEmperor(.ready)
                tellEmperor(.accepting)
            }
        case .failed(let why, let detail):
            p.failure = (why, detail)
        case .recycle(let reason, let detail):
            recycle(p, reason: reason, detail: detail)
        case .reloadRequested:
            Log.info("worker \(p.id) asked for a reload")
            startReload()
        case .registerSignal, .raiseSignal, .addTimer, .addCron:
            received(signalReport: report, from: p)
        }
    }

    func stopWorker(_ p: WorkerProcess) {
        guard p.state != .stopping else { return }
        p.state = .stopping
        // A worker retired while the zerg goes on (reload, recycle, cheaper) hands
        // its idle keep-alive connections to the others through the ready pool;
        // on a stop of the whole zerg it closes them.
        p.order(stopping == nil && readyPool != nil ? .retire : .stop)
        timers.schedule(afterMs: settings.workerReloadMercySeconds * 1000, .kill(pid: p.pid))
    }

    func reaped(pid: pid_t, status: ExitStatus) {
        guard let p = processes.removeValue(forKey: pid) else { return }
        var h = slotHistory[p.id, default: SlotHistory()]
        h.requests += scoreboard.sum(p.rows, .requests)
        h.exceptions += scoreboard.sum(p.rows, .exceptions)
        h.busyMicros += scoreboard.sum(p.rows, .busyMicros)
        h.tx += scoreboard.sum(p.rows, .tx)
        slotHistory[p.id] = h
        for row in p.rows { scoreboard.clear(row: row) }
        if let token = p.eventToken { sources.remove(p.control.fd, token) }
        p.control.fd.close()
        if stopping != nil { return }
        if p.state == .stopping { return }  // retired by a reload
        if let (why, failure) = p.failure {
            if settings.needApp && why == .appLoad && !appEverLoaded {
                // uWSGI's need-app: no app at start is a failed start, not a wait.
                Log.info("need-app: the app failed to load: \(failure); exiting with status \(Self.appLoadFailedStatus)")
                exitStatus = Self.appLoadFailedStatus
                stop(.immediate)
                return
            }
            let delay = backoff.nextDelayMs(ranNs: 0)
            let source = settings.mounts.apps.map(\.source).joined(separator: ", ")
            if failure != lastFailure {
                switch why {
                case .attachRefused: Log.info("cannot attach: \(failure); retrying with backoff")
                case .appLoad, .startup: Log.info("app failed to load: \(failure) (\(source)); retrying with backoff")
                }
                lastFailure = failure
                // Nothing serves: the emperor (and systemd through it) must not wait for `ready`.
                if !processes.values.contains(where: { $0.state == .ready }) { tellEmperor(.appFailing) }
            }
            updateUnavailable()
            timers.schedule(afterMs: delay, .respawn(id: p.id))
            if let old = p.replaces {
                Log.info("reload abandoned: the new worker \(p.id) did not load; pid \(old) keeps serving")
                reloadQueue.removeAll()
                reloadInProgress = false
                tellEmperor(.ready)  // still serving, with the previous code
            }
            return
        }
        Log.info("worker \(p.id) pid \(pid) \(status); respawning")
        // A replacement with a cause like the others (harakiri has its own count).
        if !p.harakiriSent { slotHistory[p.id, default: SlotHistory()].recycles["died", default: 0] += 1 }
        spawn(id: p.id)
    }

    func fire(_ action: TimerAction) {
        switch action {
        case .respawn(let id):
            if !cheapedSlots.contains(id) && !processes.values.contains(where: { $0.id == id && $0.state != .stopping }) { spawn(id: id) }
        case .cheaper:
            adjustWorkerCount()
            timers.schedule(afterMs: 1000, .cheaper)
        case .check:
            checkWorkers()
            timers.schedule(afterMs: 250, .check)
        case .kill(let pid):
            if processes[pid] != nil {
                Log.info("worker pid \(pid) did not stop in time; SIGKILL")
                ChildProcess.signal(pid, SIGKILL)
            } else if pid == router?.pid {
                Log.info("the vassal pid \(pid) did not stop in time; SIGKILL")
                ChildProcess.signal(pid, SIGKILL)
            }
        case .checkLogSize:
            checkLogSize()
        case .cron:
            runCron()
        case .signalTimer(let number, let generation):
            signalTimerFired(number, generation: generation)
        case .watchdog:
            notifier?.watchdog()
            if let ms = notifier?.watchdogIntervalMs { timers.schedule(afterMs: ms, .watchdog) }
        case .restartRouter:
            startRouter()
        }
    }

    // MARK: reloads and stops

    /// Rolling reload: one worker at a time, each replacement ready before the old one stops.
    /// `configuration`: load the configuration again first (a reload of the
    /// zerg); without it, only the workers are replaced (touch-workers-reload).
    func startReload(configuration: Bool = true) {
        guard stopping == nil else { return }
        guard reloadQueue.isEmpty else {
            Log.info("a rolling reload is already under way; this one is skipped")
            return
        }
        if configuration && !reloadConfiguration() {
            tellEmperor(.ready)  // still serving, with the running configuration
            tellEmperor(.accepting)
            return
        }
        // An upgraded binary: the master itself moves onto it first (and then rolls the workers).
        if configuration { reexecIfUpgraded() }
        notifier?.reloading()
        let running = Set(processes.values.filter { $0.state != .stopping }.map(\.id))
        // Fewer workers now: the extra ones drain; more: the new ones start.
        for p in processes.values where p.state != .stopping && p.id > settings.workers { stopWorker(p) }
        for id in 1...settings.workers where !running.contains(id) && !cheapedSlots.contains(id) { spawn(id: id) }
        reloadQueue = running.filter { $0 <= settings.workers }.sorted()
        Log.info("rolling reload of \(reloadQueue.count) worker(s)")
        reloadInProgress = true
        if reloadQueue.isEmpty {
            finishReload()
        } else {
            continueReload()
        }
    }

    func finishReload() {
        reloadInProgress = false
        Log.info("rolling reload done")
        tellEmperor(.ready)
        tellEmperor(.accepting)
    }

    func continueReload() {
        guard stopping == nil, !reloadQueue.isEmpty else { return }
        let id = reloadQueue.removeFirst()
        guard let old = processes.values.first(where: { $0.id == id && $0.state != .stopping }) else {
            return continueReload()
        }
        spawn(id: id, replacing: old.pid)
    }

    func stop(_ how: Stop) {
        if stopping == .immediate { return }
        stopping = how
        notifier?.stopping()
        updateUnavailable()
        Log.info("\(how.rawValue) stop of \(processes.count) worker(s)")
        daemons.stopAll()
        if router?.pid != nil {
            stopRouter(how)
            // The vassal stops taking clients and hands out what it holds first.
            if how == .graceful {
                workersStopAfterRouter = true
                return
            }
        }
        for p in processes.values {
            switch how {
            case .graceful:
                stopWorker(p)
            case .immediate:
                ChildProcess.signal(p.pid, SIGKILL)
            }
        }
    }

    /// A child ended: the router's vassal, a daemon, a cron run, or a worker.
    func childEnded(pid: pid_t, status: ExitStatus) {
        if pid == router?.pid { return routerExited(status: status) }
        switch daemons.exited(pid: pid, status: status) {
        case .daemon:
            break
        case .controlDaemonEnded(let command):
            Log.info("control daemon `\(command)` ended: the zerg stops")
            stop(.graceful)
        case .notADaemon:
            if !cronExited(pid: pid, status: status) { reaped(pid: pid, status: status) }
        }
    }

    func handle(signal sig: Int32) {
        switch sig {
        case SIGCHLD:
            for (pid, status) in ChildProcess.reapAll() { childEnded(pid: pid, status: status) }
        case SIGHUP: startReload()
        case SIGTERM: stop(.graceful)
        case SIGINT, SIGQUIT: stop(.immediate)
        case SIGUSR2:
            // What every worker is doing now.
            let now = Host.monotonicNanoseconds()
            for p in processes.values.sorted(by: { $0.id < $1.id }) {
                let running = p.rows.filter { scoreboard[$0, .requestStart] > 0 }
                if running.isEmpty { Log.info("worker \(p.id) pid \(p.pid): idle") }
                for row in running {
                    let start = UInt64(max(0, scoreboard[row, .requestStart]))
                    let core = p.rows.count > 1 ? " core \(row - p.row)" : ""
                    Log.info("worker \(p.id) pid \(p.pid)\(core): \(scoreboard.requestText(row: row)) for \((now &- start) / 1_000_000) ms")
                }
            }
        case SIGUSR1:
            Log.info("\(processes.count) worker process(es), \(cheapedSlots.count) slot(s) cheaped, harakiri \(harakiriCount)\(paused ? ", paused" : "")")
            for p in processes.values.sorted(by: { $0.id < $1.id }) {
                Log.info("worker \(p.id) pid \(p.pid): \(p.state.rawValue), \(scoreboard.sum(p.rows, .requests)) requests, "
                         + "\(scoreboard.sum(p.rows, .exceptions)) exceptions, \(scoreboard.sum(p.rows, .busyMicros) / 1000) ms busy, "
                         + "rss \((ChildProcess.memory(p.pid)?.rss ?? 0) >> 20) MB")
            }
        case SIGTSTP:
            paused.toggle()
            Log.info(paused ? "SIGTSTP: pausing every worker (no new connections)" : "SIGTSTP: resuming every worker")
            for p in processes.values { p.order(paused ? .pause : .resume) }
        default: break
        }
    }

    // MARK: emperor

    /// Tells the emperor, or systemd (a zerg it started itself, `Type=notify`):
    /// `ready` is when the workers serve, at start and after each reload.
    func tellEmperor(_ report: EmperorProtocol.Report) {
        emperor?.tell(report)
        if report == .ready {
            notifier?.ready(status: "\(processes.values.filter { $0.state == .ready }.count) worker(s) serving on \(boundAddresses.joined(separator: ", "))")
        }
    }

    func readEmperor() {
        emperor?.handleChannel(in: sources, stop: { stop($0 ? .graceful : .immediate) }, reload: { startReload() })
    }

    /// A new emperor connected (the previous one died): it takes over.
    func adopted() {
        guard let emperor, emperor.adopt(in: sources, as: .emperor) else { return }
        if stopping == nil && announcedReady {
            tellEmperor(.ready)
            tellEmperor(.accepting)
        }
    }
}
