#if canImport(Glibc)
import Glibc
#endif
import Shared
import ZergCore

/// The zerg master: binds the sockets, runs `workers` worker processes (this
/// binary again, in worker role), restarts the ones that die, reloads them one
/// at a time, and stops them gracefully. It never runs Python itself.
final class Master {
    enum TimerAction {
        case respawn(id: Int)
        case kill(pid: pid_t)
        /// harakiri, max-worker-lifetime, evil-reload-on-*: checked 4 times a second.
        case check
        /// The adaptive worker count decides once a second.
        case cheaper
        /// The router's vassal (`http`) is started again after it exited.
        case restartRouter
        /// `log-maxsize`: the log file's size is looked at every second.
        case checkLogSize
        /// A minute has begun: cron jobs due in it run.
        case cron
        /// A uWSGI signal timer (`uwsgi.add_timer`) is due; `generation` tells a replaced timer's.
        case signalTimer(UInt8, generation: Int)
        /// systemd's watchdog is due a `WATCHDOG=1`.
        case watchdog
    }

    enum TouchAction { case reload, workersReload, logReopen }

    enum Stop: String { case graceful, immediate }

    /// What an event of the master's loop is about.
    enum Event {
        case signals
        case emperor
        /// A new emperor connecting to adopt this zerg (see `EmperorLink`).
        case emperorAdoption
        case touch
        case stats(StatsEvent)
        /// A report from this worker.
        case worker(WorkerProcess)
        /// A client on a listener while the app cannot load (see `Master+Unavailable`).
        case listener(Int)
        /// Children's output to pass on to every log target (`LogPipe`).
        case logPipe
    }

    /// The running configuration: loaded once per start or reload, here only;
    /// each worker gets it (`configure`) instead of parsing the ini.
    var settings: ZergSettings
    var configuration: Configuration
    let arguments: [String]
    /// Workers are exec'd from its path (an upgraded file is picked up), or its image.
    let binary: OwnBinary
    /// The last exec failure of the binary's path, logged once while it lasts.
    var binaryProblem: String?
    /// The master answers clients itself (503) while no worker can: its listener registrations.
    var answering: [(fd: FileDescriptor, token: EventToken)] = []
    let listeners: [FileDescriptor]
    /// The unix paths of its listeners: removed when the zerg stops (not on a re-exec).
    let listenerPaths: [OwnedSocketPath]
    /// `http` (uWSGI's quickstart router): the vassal this master runs in front of its workers.
    var router: Router?
    /// A graceful stop with a router: the workers are stopped once the vassal has handed out what it held.
    var workersStopAfterRouter = false
    /// `attach-daemon` and kin, from the configuration the master started with.
    let daemons: DaemonSupervisor
    /// `cron` and kin (`Master+Cron`), and the `uwsgi.add_cron` signal entries.
    var cronJobs: [CronJob]
    var cronScheduled = false
    /// uWSGI signal timers by signal number (`Master+Signals`).
    var signalTimers: [UInt8: SignalTimer] = [:]
    /// `add_rb_timer`s seen: the same one from another import is not a new count.
    var countedTimers: Set<SignalTimerKey> = []
    /// The last problem logged per signal (logged once until it is delivered).
    var signalProblems: [UInt8: String] = [:]
    var signalRotation: UInt = 0
    var signalsDelivered = 0
    /// uWSGI's user locks and caches (`locks`, `cache2`), mapped by every worker.
    var sharedArea: SharedArea
    /// Several log targets or syslog: the children's output comes through here.
    let logPipe: LogPipe?
    let sources: EventSources<Event>
    let signals: SignalChannel
    let emperor: EmperorLink?
    /// Started by systemd itself (`NOTIFY_SOCKET`; under the emperor, the emperor tells systemd).
    let notifier: SystemdNotify?
    let scoreboard: Scoreboard
    var processes: [pid_t: WorkerProcess] = [:]
    var timers = TimerQueue<TimerAction>()
    var backoff = Backoff(stepMs: 1000, capMs: 30_000, stableSeconds: 30)
    var lastFailure: String?
    var stopping: Stop?
    /// What `run` returns (`need-app`: `appLoadFailedStatus`).
    var exitStatus: Int32 = 0
    /// A worker has loaded the app since the master started (`need-app` applies until then).
    var appEverLoaded = false
    /// uWSGI's exit status when `need-app` finds no app.
    static let appLoadFailedStatus: Int32 = 22
    var reloadQueue: [Int] = []
    var announcedReady = false
    /// A reload is under way: tell the emperor "ready" again when it is done.
    var reloadInProgress = false

    var touches: TouchWatcher<TouchAction>?
    var touchToken: EventToken?
    /// The 250 ms check (harakiri, lifetimes, evil-reload) and the cheaper
    /// decision are scheduled once either is needed.
    var checking = false
    var cheaperScheduled = false
    var harakiriCount = 0
    var cheaper: Cheaper?
    /// Worker slots not running by the adaptive count's decision.
    var cheapedSlots: Set<Int> = []
    /// SIGTSTP toggles: workers take no new connections while set.
    var paused = false
    var stats: StatsServer<Event>?
    /// Standalone: the shared queue of ready keep-alive connections (see
    /// `ReadyPool`), handed to the workers while there is more than one. The
    /// master holds both ends so that what is queued outlives any one worker.
    let readyPool: ReadyPool?
    /// Scoreboard rows: every worker a zerg may run (a reload may raise
    /// `processes` up to 1024), twice over: during a reload old and new overlap;
    /// with `threads`, a row per thread (untouched rows cost no memory).
    static func scoreboardRows(threads: Int) -> Int { 2 * ZergSettings.maxWorkers * max(1, threads) + 2 }
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

    /// What the image this one replaced handed over (`MasterHandover`), until `run` takes it.
    var handover: JSON?

    init(configuration: Configuration, settings: ZergSettings, arguments: [String], binary: OwnBinary,
         listeners: [FileDescriptor], routerListeners: [FileDescriptor] = [], handover: JSON? = nil) throws {
        self.handover = handover
        daemons = DaemonSupervisor(settings.daemons, mercySeconds: settings.reloadMercySeconds, hiding: [WorkerMain.roleVariable])
        cronJobs = settings.cronJobs
        daemons.adopt(Self.inheritedDaemons(handover?["daemons"], settings.daemons))  // still this process's children
        listenerPaths = (settings.sockets.map(\.address) + settings.routerHTTP).compactMap {
            if case .unix(let path) = $0 { OwnedSocketPath(path) } else { nil }
        }
        if !routerListeners.isEmpty {
            let program = FileSystem.joined(FileSystem.directoryName(binary.path), "vassal")
            guard FileSystem.exists(program) else {
                throw Router.Missing(description: "`http` needs the vassal binary beside the zerg (\(program)); or serve with `http-socket`")
            }
            let directory = try handover?["router"]?["dir"]?.stringValue ?? Self.makeRouterDirectory()
            router = Router(program: program, directory: directory, listeners: Array(zip(settings.routerHTTP, routerListeners)))
            router?.pid = handover?["router"]?["pid"]?.intValue.map { pid_t($0) }
        }
        self.configuration = configuration
        self.settings = settings
        self.arguments = arguments
        self.binary = binary
        self.listeners = listeners
        signals = try SignalChannel([SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGTSTP])
        SignalChannel.ignoreBrokenPipe()
        sources = try EventSources()
        try sources.add(signals.fd, .signals)
        if let fd = Self.inherited(handover?["scoreboard"]), let rows = handover?["rows"]?.intValue {
            scoreboard = try Scoreboard.attach(fd: fd, rows: Int(rows))
        } else {
            scoreboard = try Scoreboard.create(rows: Self.scoreboardRows(threads: settings.threads))
        }
        sharedArea = try Self.inheritedArea(handover, settings) ?? SharedArea.create(locks: settings.locks, caches: settings.caches)
        let logEnds = handover?["log_pipe"]?.arrayValue.compactMap { Self.inherited($0) } ?? []
        if logEnds.count == 2 {
            logPipe = try LogPipe(reader: logEnds[0], writer: logEnds[1])
        } else {
            logPipe = settings.logFansOut ? try LogPipe.create() : nil
        }
        if let logPipe {
            Log.childOutput = logPipe.writer
            try sources.add(logPipe.reader, .logPipe)
        }
        let pool = handover?["pool"]?.arrayValue.compactMap { Self.inherited($0) } ?? []
        if pool.count == 2 {
            readyPool = ReadyPool(sender: pool[0], receiver: pool[1])
        } else {
            readyPool = listeners.isEmpty ? nil : try ReadyPool.create()
        }
        emperor = EmperorLink.fromEnvironment(Host.environment())
        notifier = emperor == nil ? SystemdNotify.fromEnvironment() : nil
        try emperor?.register(in: sources, channel: .emperor, adoption: .emperorAdoption)
        try watchTouchFiles()
        if let address = settings.stats {
            stats = try Self.inherited(handover?["stats"]).map { try StatsServer(listener: $0, http: settings.statsHTTP, sources: sources, as: Event.stats) }
                ?? StatsServer(address: address, http: settings.statsHTTP, sources: sources, as: Event.stats)
        }
    }

    func run() -> Int32 {
        if let title = settings.title(explicit: settings.procnameMaster, automatic: "zerg master") { ProcessTitle.set(title) }
        if let pidfile = settings.pidfile { try? FileSystem.writeFileAtomically(pidfile, "\(getpid())\n") }
        if let c = settings.cheaper {
            cheaper = Cheaper(c, nowS: Self.nowSeconds())
            cheapedSlots = Set((c.initial + 1)...max(c.initial + 1, settings.workers)).filter { $0 <= settings.workers }
        }
        if let ms = notifier?.watchdogIntervalMs { timers.schedule(afterMs: ms, .watchdog) }
        if let state = handover {
            handover = nil
            notifier?.mainPID()
            restore(state)
        } else {
            startRouter()  // first: the workers attach to its socket
            for id in 1...settings.workers where !cheapedSlots.contains(id) { spawn(id: id) }
        }
        daemons.startAll()
        scheduleCron()
        if settings.logMaxSize > 0 && settings.rotatedLog != nil { timers.schedule(afterMs: 1000, .checkLogSize) }
        scheduleChecks()
        while true {
            let events = (try? sources.wait(timeoutMs: daemons.timeoutMs(otherwise: timers.timeoutMs(otherwise: 1000)))) ?? []
            for event in events {
                switch sources[event] {
                case .signals?:
                    while let sig = try? signals.next() { handle(signal: sig) }
                case .emperor?:
                    readEmperor()
                case .emperorAdoption?:
                    adopted()
                case .touch?:
                    for action in touches?.changed() ?? [] { touched(action) }
                case .stats(let e)?:
                    stats?.handle(e) { statsDocument() }
                case .worker(let p)?:
                    readWorker(p)
                case .listener(let i)?:
                    answerUnavailable(listeners[i])
                case .logPipe?:
                    logPipe?.drain()
                case nil:
                    continue
                }
            }
            let now = Host.monotonicNanoseconds()
            for action in timers.popDue(now: now) { fire(action) }
            daemons.fireDue(now: now)
            stats?.sweep()
            if stopping == nil, emperor?.graceExpired(nowNs: Host.monotonicNanoseconds()) == true {
                Log.info("no emperor came back within emperor-lost-grace; stopping")
                stop(.graceful)
            }
            if stopping != nil && processes.isEmpty && router?.pid == nil && !daemons.hasChildren {
                removeRouterDirectory()
                for path in listenerPaths { path.remove() }
                if let pidfile = settings.pidfile { FileSystem.unlink(pidfile) }
                emperor?.removeAdoptionSocket()
                logPipe?.drain(all: true)
                logPipe?.flush()
                Log.info("master stopped")
                return exitStatus
            }
        }
    }

    /// What the listeners are bound to, with real ports (`:0` gets one from the kernel).
    var boundAddresses: [String] {
        if let router {
            return router.listeners.map { address, fd in
                if case .tcp(let host, _) = address, let port = try? fd.localPort() { return "\(host):\(port) (through the vassal)" }
                return "\(address) (through the vassal)"
            }
        }
        if listeners.isEmpty { return settings.zergServers.map { "the vassal at \($0)" } }
        return zip(settings.sockets, listeners).map { socket, fd in
            let wire = socket.wire == .http ? "" : " (uwsgi)"
            if case .tcp(let host, _) = socket.address, let port = try? fd.localPort() { return "\(host):\(port)\(wire)" }
            return socket.description
        }
    }

    // MARK: workers

    /// One line when workers start from the running image because the binary's
    /// path cannot be exec'd (an upgrade gone wrong), one when the path works again.
    func noteBinary(_ failure: SystemError?) {
        let problem = failure.map { "\($0)" }
        guard problem != binaryProblem else { return }
        if let problem {
            Log.info("\(problem): workers start from the running image (\(binary.versionLine)) until \(binary.path) can be exec'd")
        } else {
            Log.info("workers start from \(binary.path) again")
        }
        binaryProblem = problem
    }

    func spawn(id: Int, replacing old: pid_t? = nil) {
        guard stopping == nil else { return }
        guard let rows = scoreboard.freeRows(settings.threads) else {
            Log.info("no free scoreboard rows for worker \(id) (\(settings.threads) threads; the board was sized when the zerg started); retrying in 1 s")
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
            for key in SystemdNotify.childHidden { env[key] = nil }
            env[WorkerMain.roleVariable] = String(id)
            env[WorkerMain.Inherited.masterPID] = String(getpid())
            // The app failed to load before: the traceback was logged once; now a line per try.
            env[WorkerMain.Inherited.quietLoadErrors] = lastFailure == nil ? nil : "1"
            let first = WorkerMain.Inherited.control + 1
            env[WorkerMain.Inherited.listeners] = (0..<listeners.count).map { String(first + Int32($0)) }.joined(separator: ",")
            env[WorkerMain.Inherited.listenerProtocols] = settings.sockets.map(\.wire.rawValue).joined(separator: ",")
            let scoreboardFd = first + Int32(listeners.count)
            env[WorkerMain.Inherited.scoreboard] = "\(scoreboardFd):\(scoreboard.rows):\(rows.lowerBound):\(rows.count)"
            // One worker of one thread has nobody to share ready connections with.
            let pool = settings.workers * settings.threads > 1 ? readyPool : nil
            var map = Log.childStdio(stdin: devNull) + [(theirs, WorkerMain.Inherited.control)]
            for (i, l) in listeners.enumerated() { map.append((l, first + Int32(i))) }
            map.append((scoreboard.memory.fd, scoreboardFd))
            env[WorkerMain.Inherited.sharedArea] = String(scoreboardFd + 1)
            map.append((sharedArea.memory.fd, scoreboardFd + 1))
            if let pool {
                env[ReadyPool.environmentVariable] = "\(scoreboardFd + 2),\(scoreboardFd + 3)"
                map.append((pool.sender, scoreboardFd + 2))
                map.append((pool.receiver, scoreboardFd + 3))
            }
            var spec = ChildProcess.Spec(executable: binary.path, arguments: arguments, environment: env, fdMap: map)
            spec.newProcessGroup = false  // workers share the master's group: a killpg from the emperor reaches them
            spec.fallbackImage = binary.image
            let started = try ChildProcess.start(spec)
            let pid = started.pid
            noteBinary(started.pathFailure)
            try mine.setNonBlocking()
            let p = WorkerProcess(id: id, pid: pid, control: mine, rows: rows)
            p.eventToken = try sources.add(mine, .worker(p))
            scoreboard.assign(rows: rows, pid: Int64(pid))
            p.order(.configure(workerEntries))
            slotHistory[id, default: SlotHistory()].spawns += 1
            p.replaces = old
            processes[pid] = p
        } catch {
            Log.info("cannot start worker \(id): \(error); retrying in 1 s")
            timers.schedule(afterMs: 1000, .respawn(id: id))
        }
    }
}
