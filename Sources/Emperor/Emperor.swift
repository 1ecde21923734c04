#if canImport(Glibc)
import Glibc
#endif
import EmperorCore
import Shared

/// The emperor: one thread, one epoll loop. Everything that happens —
/// signals, inotify, control-channel reports, stats clients, timers — is an
/// event handled here in order, so no state is shared and nothing blocks.
final class Emperor {
    /// What an event of the emperor's loop is about.
    enum Event {
        case signals
        case inotify
        /// An instance's control channel (by config name).
        case control(String)
        /// An adopted instance (not this emperor's child) ended: its pidfd.
        case adoptedExit(String)
        case stats(StatsEvent)
        case status(StatsEvent)
        /// An instance's stats document on its way for the history (`StatsRound`), by config name.
        case sample(String)
    }

    enum ShutdownMode: String {
        case graceful
        case fast
    }

    let settings: EmperorSettings
    /// What SIGUSR2 re-execs (and its arguments).
    let binary: OwnBinary
    let arguments: [String]
    /// What the image this one replaced handed over (SIGUSR2), until `run` takes it.
    var handover: JSON?
    let scanner: ConfigScanner
    let launcher: InstanceLauncher
    let sources: EventSources<Event>
    let inotify: Inotify
    let signals: SignalChannel
    var statsServer: StatsServer<Event>?
    var statusServer: StatsServer<Event>?

    var instances: [String: Instance] = [:]
    var watches: [String: Int32] = [:]
    var timers = TimerQueue<TimerAction>()
    var shutdown: ShutdownMode?
    /// Started by systemd with `NOTIFY_SOCKET` (`Emperor+Systemd`).
    let notifier = SystemdNotify.fromEnvironment()
    /// Sockets systemd passed (`LISTEN_FDS`), kept for the vassals whose configs name their addresses.
    var activated: [(address: SocketAddress, name: String, fd: FileDescriptor)] = []
    /// `READY=1` is due once the instances settle (at start, after a HUP).
    var awaitingSystemdReady = true
    var scanPending = false
    var nextRescanNs: UInt64 = 0
    var loggedNotes: Set<String> = []
    let startedAt = Timestamp.now()
    /// The builds' history and the deploy events (`Emperor+History`).
    let record = DeployRecord()

    /// What the emperor does later.
    enum TimerAction {
        case respawn(name: String, generation: Int)
        /// `mercy`: the seconds it was given (what the log line says).
        case kill(name: String, pid: Int32, mercy: Int)
        case scan
        /// systemd's watchdog is due a `WATCHDOG=1`.
        case watchdog
        /// The history's next stats round is due.
        case sample
    }

    /// How long a burst of file system events may settle before the rescan.
    static let settleMs = 15

    static let handledSignals: [Int32] = [SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGURG, SIGWINCH]

    init(settings: EmperorSettings, binary: OwnBinary, arguments: [String]) throws {
        self.settings = settings
        self.binary = binary
        self.arguments = arguments
        handover = Self.takeState()
        activated = SocketActivation.fromEnvironment().sockets.map { ($0.address, $0.name, $0.fd) }
        let cwd = FileSystem.currentDirectory()
        scanner = ConfigScanner(patterns: settings.patterns, followSymlinks: settings.followSymlinks, currentDirectory: cwd)
        launcher = InstanceLauncher(settings: settings, workingDirectory: cwd, environment: Host.environment())
        signals = try SignalChannel(Self.handledSignals)
        SignalChannel.ignoreBrokenPipe()
        sources = try EventSources()
        inotify = try Inotify()
        try sources.add(signals.fd, .signals)
        try sources.add(inotify.fd, .inotify)
        // After an upgrade the listeners are the previous image's, still bound.
        let heldStats = handover?["stats"]?.intValue.flatMap { try? FileDescriptor.inherited(Int32($0), what: "stats listener") }
        let heldStatus = handover?["status"]?.intValue.flatMap { try? FileDescriptor.inherited(Int32($0), what: "status listener") }
        if let address = settings.statsAddress {
            statsServer = try heldStats.map { try StatsServer(listener: $0, http: false, sources: sources, as: Event.stats) }
                ?? StatsServer(address: address, http: false, sources: sources, as: Event.stats)
        }
        if let address = settings.statusAddress {
            statusServer = try heldStatus.map { try StatsServer(listener: $0, http: true, sources: sources, as: Event.status) }
                ?? StatsServer(address: address, http: true, sources: sources, as: Event.status)
        }
    }

    /// Runs until a stop signal has stopped every instance; returns the exit status.
    func run() -> Int32 {
        ChildProcess.becomeSubreaper()
        if let title = settings.title { ProcessTitle.set(title) }
        if let pidfile = settings.pidfile {
            do { try FileSystem.writeFileAtomically(pidfile, "\(getpid())\n") } catch { Log.info("cannot write pidfile: \(error)") }
        }
        let where_ = settings.statsAddress.map { "; stats on \($0)" } ?? ""
        Log.info(DescriptorLimit.raiseAndDescribe())
        Log.info("emperor \(binary.versionLine) watching \(settings.patterns.map { "`\($0)`" }.joined(separator: ", "))\(where_)")
        if let state = handover {
            handover = nil
            restore(state)
            notifier?.mainPID()  // the same pid, on the new binary
        }
        scan()
        noteActivation()
        scheduleWatchdog()
        // The history is for the status page: without one, nothing is sampled.
        if statusServer != nil { sampleTick() }
        nextRescanNs = Host.monotonicNanoseconds() + UInt64(settings.rescanSeconds) * 1_000_000_000

        while true {
            let now = Host.monotonicNanoseconds()
            var wakeAt = nextRescanNs
            if let t = timers.nextDeadline { wakeAt = min(wakeAt, t) }
            let timeoutMs = wakeAt <= now ? 0 : Int32(min(UInt64(Int32.max), (wakeAt - now + 999_999) / 1_000_000))
            let events: [Epoll.Event]
            do {
                events = try sources.wait(timeoutMs: timeoutMs)
            } catch {
                Log.info("epoll_wait failed: \(error); exiting")
                return 1
            }
            for event in events {
                guard let source = sources[event] else { continue }
                handle(source)
            }
            let after = Host.monotonicNanoseconds()
            for action in timers.popDue(now: after) { fire(action) }
            if after >= nextRescanNs {
                if shutdown == nil { scan() }
                nextRescanNs = after + UInt64(settings.rescanSeconds) * 1_000_000_000
            }
            if shutdown != nil && instances.isEmpty {
                finishShutdown()
                return 0
            }
            tellSystemd()
        }
    }

    func handle(_ source: Event) {
        switch source {
        case .signals:
            while let sig = try? signals.next() { handleSignal(sig) }
        case .inotify:
            _ = inotify.drain()
            scheduleScan()
        case .control(let name):
            readControl(name: name)
        case .adoptedExit(let name):
            if let instance = instances[name], let pid = instance.pid, instance.adopted { childExited(pid: pid, status: .unknown) }
        case .stats(let e):
            statsServer?.handle(e) { statsDocument() }
        case .status(let e):
            statusServer?.handle(e) { statusAnswer(path: $0, query: $1) }
        case .sample(let name):
            sampleReadable(name)
        }
    }

    func fire(_ action: TimerAction) {
        switch action {
        case .scan:
            scanPending = false
            if shutdown == nil { scan() }
        case .watchdog:
            notifier?.watchdog()
            scheduleWatchdog()
        case .sample:
            sampleTick()
        case .respawn(let name, let generation):
            guard let instance = instances[name], instance.generation == generation, instance.state == .throttled,
                  shutdown == nil else { return }
            instance.respawns += 1
            start(instance)
        case .kill(let name, let pid, let mercy):
            guard let instance = instances[name], instance.pid == pid else { return }
            Log.info("\(name) pid \(pid) did not stop within \(mercy) s; SIGKILL")
            ChildProcess.signalGroup(pid, SIGKILL)
            ChildProcess.signal(pid, SIGKILL)
        }
    }

    func scheduleScan() {
        guard !scanPending else { return }
        scanPending = true
        timers.schedule(afterMs: Self.settleMs, .scan)
    }

    /// Logs a line once per distinct text (notes repeat on every rescan).
    func noteOnce(_ text: String) {
        if loggedNotes.insert(text).inserted { Log.info(text) }
    }
}
