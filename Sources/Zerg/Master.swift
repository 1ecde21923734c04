#if canImport(Glibc)
import Glibc
#endif
import Shared

/// The zerg master: binds the sockets, runs `workers` worker processes (this
/// binary again, in worker role), restarts the ones that die, reloads them one
/// at a time, and stops them gracefully. It never runs Python itself.
final class Master {
    /// A worker process as the master tracks it.
    final class WorkerProcess {
        enum State: String { case starting, ready, stopping }
        let id: Int
        let pid: pid_t
        let control: FileDescriptor
        let token: UInt64
        var state = State.starting
        var failure: String?
        /// The pid this one replaces in a rolling reload (stopped once this one is ready).
        var replaces: pid_t?
        /// A replacement was asked for (recycling); the old one drains when it is ready.
        var recycling = false
        /// Harakiri already dealt with this worker's stuck request.
        var harakiriSent = false
        /// Start to ready (app load and warm-up), from its ready message.
        var readyMs: Int?
        let startedNs = Host.monotonicNanoseconds()
        let startedEpoch = Timestamp.now().seconds
        /// Its row in the scoreboard.
        let row: Int

        init(id: Int, pid: pid_t, control: FileDescriptor, token: UInt64, row: Int) {
            self.id = id
            self.pid = pid
            self.control = control
            self.token = token
            self.row = row
        }
    }

    enum TimerAction {
        case respawn(id: Int)
        case kill(pid: pid_t)
        /// harakiri, max-worker-lifetime, evil-reload-on-*: checked 4 times a second.
        case check
        /// The adaptive worker count decides once a second.
        case cheaper
    }

    enum TouchAction { case reload, logReopen }

    enum Stop: String { case graceful, immediate }

    let settings: ZergSettings
    let arguments: [String]
    let listeners: [FileDescriptor]
    let epoll: Epoll
    let signals: SignalChannel
    let emperor: EmperorChannel?
    let scoreboard: Scoreboard
    var processes: [pid_t: WorkerProcess] = [:]
    var byToken: [UInt64: pid_t] = [:]
    var nextToken: UInt64 = 16
    var timers = TimerQueue<TimerAction>()
    var backoff = Backoff(stepMs: 1000, capMs: 30_000, stableSeconds: 30)
    var lastFailure: String?
    var stopping: Stop?
    var reloadQueue: [Int] = []
    var announcedReady = false
    /// A reload is under way: tell the emperor "ready" again when it is done.
    var reloadInProgress = false

    static let signalToken: UInt64 = 1
    static let emperorToken: UInt64 = 2
    static let touchToken: UInt64 = 3
    static let statsToken: UInt64 = 4
    let touches: TouchWatcher<TouchAction>?
    var harakiriCount = 0
    var cheaper: Cheaper?
    /// Worker slots not running by the adaptive count's decision.
    var cheapedSlots: Set<Int> = []
    /// SIGTSTP toggles: workers take no new connections while set.
    var paused = false
    var stats: StatsServer?
    /// Standalone with more than one worker: the shared queue of ready keep-alive
    /// connections (see `ReadyPool`). The master holds both ends so that what is
    /// queued outlives any one worker.
    let readyPool: ReadyPool?
    /// Per worker slot, across its processes: spawns, requests and more of processes gone.
    var slotHistory: [Int: SlotHistory] = [:]

    struct SlotHistory {
        var spawns = 0
        var requests: Int64 = 0
        var exceptions: Int64 = 0
        var busyMicros: Int64 = 0
        var tx: Int64 = 0
        var harakiri = 0
        var recycles: [String: Int] = [:]
    }

    init(settings: ZergSettings, arguments: [String], listeners: [FileDescriptor]) throws {
        self.settings = settings
        self.arguments = arguments
        self.listeners = listeners
        signals = try SignalChannel([SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGTSTP])
        SignalChannel.ignoreBrokenPipe()
        epoll = try Epoll()
        try epoll.add(signals.fd, token: Self.signalToken)
        // Room for every worker twice over: during a reload old and new overlap.
        scoreboard = try Scoreboard.create(rows: settings.workers * 2 + 2)
        readyPool = !listeners.isEmpty && settings.workers > 1 ? try ReadyPool.create() : nil
        emperor = EmperorChannel.fromEnvironment()
        if let emperor { try epoll.add(emperor.fd, token: Self.emperorToken) }
        let life = settings.lifecycle
        let files = (life.touchReload + life.touchWorkersReload).map { ($0, TouchAction.reload) }
            + life.touchLogReopen.map { ($0, TouchAction.logReopen) }
        touches = files.isEmpty ? nil : try TouchWatcher(files)
        if let touches { try epoll.add(touches.fd, token: Self.touchToken) }
        if let address = settings.stats {
            stats = try StatsServer(address: address, http: settings.statsHTTP, epoll: epoll, listenerToken: Self.statsToken)
        }
    }

    func run() -> Int32 {
        if let title = settings.procnameMaster {
            ProcessTitle.set(title)
        } else if settings.autoProcname {
            ProcessTitle.set("zerg master")
        }
        if let pidfile = settings.pidfile { try? FileSystem.writeFile(pidfile, "\(getpid())\n") }
        if let c = settings.cheaper {
            cheaper = Cheaper(c, nowS: Self.nowSeconds())
            cheapedSlots = Set((c.initial + 1)...max(c.initial + 1, settings.workers)).filter { $0 <= settings.workers }
            timers.schedule(afterMs: 1000, .cheaper)
        }
        for id in 1...settings.workers where !cheapedSlots.contains(id) { spawn(id: id) }
        let life = settings.lifecycle
        if life.harakiriSeconds > 0 || life.maxLifetimeSeconds > 0 || life.evilReloadOnRSS > 0 || life.evilReloadOnAS > 0 {
            timers.schedule(afterMs: 250, .check)
        }
        while true {
            let events = (try? epoll.wait(timeoutMilliseconds: timers.timeoutMs(otherwise: 1000))) ?? []
            for event in events {
                switch event.token {
                case Self.signalToken:
                    while let sig = try? signals.next() { handle(signal: sig) }
                case Self.emperorToken:
                    readEmperor()
                case Self.touchToken:
                    for action in touches?.changed() ?? [] { touched(action) }
                default:
                    if let stats, stats.owns(event.token) {
                        stats.handle(token: event.token) { statsDocument() }
                    } else if let pid = byToken[event.token], let p = processes[pid] { readWorker(p) }
                }
            }
            for action in timers.popDue() { fire(action) }
            stats?.sweep()
            if stopping != nil && processes.isEmpty {
                if let pidfile = settings.pidfile { FileSystem.unlink(pidfile) }
                Log.info("master stopped")
                return 0
            }
        }
    }

    /// What the listeners are bound to, with real ports (`:0` gets one from the kernel).
    var boundAddresses: [String] {
        if listeners.isEmpty { return settings.zergServers.map { "the vassal at \($0)" } }
        return zip(settings.httpSockets, listeners).map { address, fd in
            if case .tcp(let host, _) = address, let port = try? fd.localPort() { return "\(host):\(port)" }
            return address.description
        }
    }

    // MARK: workers

    func spawn(id: Int, replacing old: pid_t? = nil) {
        guard stopping == nil else { return }
        guard let row = scoreboard.freeRow() else {
            Log.info("no free scoreboard row for worker \(id); retrying in 1 s")
            timers.schedule(afterMs: 1000, .respawn(id: id))
            return
        }
        do {
            let (mine, theirs) = try FileDescriptor.socketPair()
            defer { theirs.close() }
            let devNull = try FileDescriptor.open("/dev/null", O_RDONLY)
            defer { devNull.close() }
            var env = Host.environment()
            env[EmperorProtocol.environmentVariable] = nil
            env["HADJANGO_WORKER"] = String(id)
            env["HADJANGO_MASTER_PID"] = String(getpid())
            env["HADJANGO_LISTEN_FDS"] = (0..<listeners.count).map { String(4 + $0) }.joined(separator: ",")
            let scoreboardFd = Int32(4 + listeners.count)
            env["HADJANGO_SCOREBOARD"] = "\(scoreboardFd):\(scoreboard.rows):\(row)"
            var map: [(FileDescriptor, Int32)] = [(devNull, 0), (Log.destination, 1), (Log.destination, 2), (theirs, 3)]
            for (i, l) in listeners.enumerated() { map.append((l, Int32(4 + i))) }
            map.append((scoreboard.memory.fd, scoreboardFd))
            if let pool = readyPool {
                env[ReadyPool.environmentVariable] = "\(scoreboardFd + 1),\(scoreboardFd + 2)"
                map.append((pool.sender, scoreboardFd + 1))
                map.append((pool.receiver, scoreboardFd + 2))
            }
            var spec = ChildProcess.Spec(executable: Host.executablePath(), arguments: arguments, environment: env, fdMap: map)
            spec.newProcessGroup = false  // workers share the master's group: a killpg from the emperor reaches them
            let pid = try ChildProcess.spawn(spec)
            try mine.setNonBlocking()
            let token = nextToken
            nextToken += 1
            try epoll.add(mine, token: token)
            scoreboard.clear(row: row)
            scoreboard[row, .pid] = Int64(pid)
            let p = WorkerProcess(id: id, pid: pid, control: mine, token: token, row: row)
            slotHistory[id, default: SlotHistory()].spawns += 1
            p.replaces = old
            processes[pid] = p
            byToken[token] = pid
        } catch {
            Log.info("cannot start worker \(id): \(error); retrying in 1 s")
            timers.schedule(afterMs: 1000, .respawn(id: id))
        }
    }

    func readWorker(_ p: WorkerProcess) {
        guard let bytes = try? p.control.readAvailable(max: 4096), !bytes.isEmpty else { return }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let (word, rest) = String(line).splitOnce(" ") ?? (String(line), "")
            switch word {
            case "ready":
                p.state = .ready
                if lastFailure != nil {
                    Log.info("app loaded again (worker \(p.id))")
                    lastFailure = nil
                }
                backoff.reset()
                if paused { try? p.control.writeAll("p") }
                let ms = rest.split(separator: " ")
                p.readyMs = ms.first.flatMap { Int($0) }
                if ms.count == 3 && ms[2] != "0" {
                    Log.info("worker \(p.id) pid \(p.pid) ready in \(ms[0]) ms (app \(ms[1]) ms, warm-up \(ms[2]) ms)")
                } else {
                    Log.info("worker \(p.id) pid \(p.pid) ready (app loaded in \(ms.first ?? "?") ms)")
                }
                if let old = p.replaces {
                    p.replaces = nil
                    if let o = processes[old] { stopWorker(o) }
                    continueReload()
                    if reloadInProgress && reloadQueue.isEmpty && !processes.values.contains(where: { $0.replaces != nil }) {
                        reloadInProgress = false
                        Log.info("rolling reload done")
                        tellEmperor(.ready)
                        tellEmperor(.accepting)
                    }
                }
                let target = settings.workers - cheapedSlots.count
                if !announcedReady && processes.values.filter({ $0.state == .ready }).count >= target {
                    announcedReady = true
                    Log.info("\(target) worker(s) serving on \(boundAddresses.joined(separator: ", "))")
                    tellEmperor(.ready)
                    tellEmperor(.accepting)
                }
            case "failed":
                p.failure = rest
            case "recycle":
                recycle(p, because: rest)
            case "reload":
                Log.info("worker \(p.id) asked for a reload")
                startReload()
            default:
                break
            }
        }
    }

    func stopWorker(_ p: WorkerProcess) {
        guard p.state != .stopping else { return }
        p.state = .stopping
        // A worker retired while the zerg goes on (reload, recycle, cheaper) hands
        // its idle keep-alive connections to the others through the ready pool ("m");
        // on a stop of the whole zerg it closes them ("q").
        try? p.control.writeAll(stopping == nil && readyPool != nil ? "m" : "q")
        timers.schedule(afterMs: settings.workerReloadMercySeconds * 1000, .kill(pid: p.pid))
    }

    func reaped(pid: pid_t, status: ExitStatus) {
        guard let p = processes.removeValue(forKey: pid) else { return }
        var h = slotHistory[p.id, default: SlotHistory()]
        h.requests += scoreboard[p.row, .requests]
        h.exceptions += scoreboard[p.row, .exceptions]
        h.busyMicros += scoreboard[p.row, .busyMicros]
        h.tx += scoreboard[p.row, .tx]
        slotHistory[p.id] = h
        scoreboard.clear(row: p.row)
        byToken[p.token] = nil
        epoll.remove(p.control)
        p.control.close()
        if stopping != nil { return }
        if p.state == .stopping { return }  // retired by a reload
        if let failure = p.failure {
            let delay = backoff.nextDelayMs(ranNs: 0)
            let source = settings.wsgiFile.map { "wsgi-file \($0)" } ?? "module \(settings.module ?? "?")"
            if failure != lastFailure {
                Log.info(failure.contains("refused this worker")
                    ? "cannot attach: \(failure); retrying with backoff"
                    : "app failed to load: \(failure) (\(source)); retrying with backoff")
                lastFailure = failure
            }
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
            }
        }
    }

    // MARK: reloads and stops

    /// Rolling reload: one worker at a time, each replacement ready before the old one stops.
    func startReload() {
        guard stopping == nil, reloadQueue.isEmpty else { return }
        reloadQueue = Array(Set(processes.values.filter { $0.state != .stopping }.map(\.id))).sorted()
        reloadInProgress = true
        Log.info("rolling reload of \(reloadQueue.count) worker(s)")
        continueReload()
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
        Log.info("\(how.rawValue) stop of \(processes.count) worker(s)")
        for p in processes.values {
            switch how {
            case .graceful:
                stopWorker(p)
            case .immediate:
                ChildProcess.signal(p.pid, SIGKILL)
            }
        }
    }

    func handle(signal sig: Int32) {
        switch sig {
        case SIGCHLD:
            for (pid, status) in ChildProcess.reapAll() { reaped(pid: pid, status: status) }
        case SIGHUP: startReload()
        case SIGTERM: stop(.graceful)
        case SIGINT, SIGQUIT: stop(.immediate)
        case SIGUSR2:
            // What every worker is doing now.
            let now = Host.monotonicNanoseconds()
            for p in processes.values.sorted(by: { $0.id < $1.id }) {
                let start = UInt64(max(0, scoreboard[p.row, .requestStart]))
                Log.info(start == 0 ? "worker \(p.id) pid \(p.pid): idle"
                         : "worker \(p.id) pid \(p.pid): \(scoreboard.requestText(row: p.row)) for \((now &- start) / 1_000_000) ms")
            }
        case SIGUSR1:
            Log.info("\(processes.count) worker process(es), \(cheapedSlots.count) slot(s) cheaped, harakiri \(harakiriCount)\(paused ? ", paused" : "")")
            for p in processes.values.sorted(by: { $0.id < $1.id }) {
                Log.info("worker \(p.id) pid \(p.pid): \(p.state.rawValue), \(scoreboard[p.row, .requests]) requests, "
                         + "\(scoreboard[p.row, .exceptions]) exceptions, \(scoreboard[p.row, .busyMicros] / 1000) ms busy, "
                         + "rss \((ChildProcess.memory(p.pid)?.rss ?? 0) >> 20) MB")
            }
        case SIGTSTP:
            paused.toggle()
            Log.info(paused ? "SIGTSTP: pausing every worker (no new connections)" : "SIGTSTP: resuming every worker")
            for p in processes.values { try? p.control.writeAll(paused ? "p" : "r") }
        default: break
        }
    }

    // MARK: emperor

    func tellEmperor(_ report: EmperorProtocol.Report) { emperor?.tell(report) }

    func readEmperor() {
        emperor?.handle(epoll: epoll, stop: { stop($0 ? .graceful : .immediate) }, reload: { startReload() })
    }
}
