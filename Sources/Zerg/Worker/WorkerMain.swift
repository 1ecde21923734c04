#if canImport(Glibc)
import Glibc
#endif
import Shared
import ZergCore

/// A worker process from start to exit: environment, interpreter, app, loop.
enum WorkerMain {
    static let appLoadFailed: Int32 = 22
    /// Set (to the worker id) in a worker's environment: this binary runs as a worker.
    static let roleVariable = "HADJANGO_WORKER"

    /// The fds and names a worker finds in its environment (see `Master.spawn`).
    enum Inherited {
        static let control: Int32 = 3
        static let listeners = "HADJANGO_LISTEN_FDS"
        /// What each listener speaks (`http` or `uwsgi`), in the same order.
        static let listenerProtocols = "HADJANGO_LISTEN_PROTOCOLS"
        static let scoreboard = "HADJANGO_SCOREBOARD"
        /// The fd of the locks and caches (`SharedArea`).
        static let sharedArea = "HADJANGO_SHARED_AREA"
        static let masterPID = "HADJANGO_MASTER_PID"
        /// Set while the app keeps failing to load: log the error in one line, without the traceback.
        static let quietLoadErrors = "HADJANGO_QUIET_LOAD_ERRORS"
    }

    static func run(id: Int, environment: [String: String]) -> Int32 {
        let control: FileDescriptor
        let listeners: [FileDescriptor]
        do {
            control = try FileDescriptor.inherited(Inherited.control, what: "control channel")
            listeners = try (environment[Inherited.listeners] ?? "").split(separator: ",").compactMap { Int32($0) }
                .map { try FileDescriptor.inherited($0, what: "listener") }
        } catch {
            Log.info("worker started without what the master gives it: \(error)")
            return 2
        }
        // The master loaded the configuration (once, `@(exec://)` included): it is
        // the first message; this process never parses the ini itself.
        var channel = WorkerControl(fd: control)
        guard case .configure(let entries)? = channel.next(timeoutMs: 30_000) else {
            Log.info("no configuration from the master; exiting")
            return 2
        }
        let config = Configuration(entries: entries, warnings: [])
        var settings: ZergSettings
        do {
            settings = try ZergSettings(config)
            // `home` names a directory as seen from where the zerg started, before `chdir`.
            settings.home = settings.home.map(FileSystem.absolute)
        } catch {
            Log.info("configuration error:\n\(error)")
            return 2
        }
        Log.setDateFormat(settings.logDate)
        let start = Host.monotonicNanoseconds()
        if let dir = settings.chdir {
            do {
                try FileSystem.changeDirectory(dir)
            } catch {
                Log.info("\(error)")
                return 1
            }
        }
        // env = KEY=VALUE (and KEY alone, uWSGI's unset), unenv = KEY: before Python starts.
        for item in settings.env {
            if let (k, v) = item.splitOnce("=") { Host.setEnvironment(k, v) } else { Host.unsetEnvironment(item) }
        }
        for key in settings.unenv { Host.unsetEnvironment(key) }
        if let title = settings.title(explicit: settings.procname, automatic: "zerg worker \(id)") { ProcessTitle.set(title) }

        let failure: (WorkerFailure, String)
        var attached: [Worker] = []  // to tell the vassal when the app cannot load
        do {
            let interpreter = try Interpreter(settings: settings, callbacks: RequestCallbacks.table)
            let masterPID = Int32(environment[Inherited.masterPID] ?? "") ?? getppid()
            let area = try environment[Inherited.sharedArea].flatMap(Int32.init).map {
                try SharedArea.attach(fd: try FileDescriptor.inherited($0, what: "shared area"))
            }
            interpreter.installUWSGIModule(
                workerID: id, numproc: settings.workers, masterPID: masterPID,
                options: config.entries.map { ($0.key, $0.value) }, services: ModuleServices(master: control, area: area))
            // fd:rows:first[:count]: this process's rows, one per core (request thread).
            var rows: (board: Scoreboard, range: Range<Int>)?
            let parts = (environment[Inherited.scoreboard] ?? "").split(separator: ":").compactMap { Int($0) }
            if parts.count >= 3 {
                let fd = try FileDescriptor.inherited(Int32(parts[0]), what: "scoreboard")
                rows = (try Scoreboard.attach(fd: fd, rows: parts[1]), parts[2]..<parts[2] + (parts.count > 3 ? parts[3] : 1))
            }
            let threads = settings.threads
            if let rows, rows.range.count != threads {
                Log.info("the master gave \(rows.range.count) scoreboard row(s) for \(threads) thread(s); exiting")
                return 2
            }
            // Zerg mode when the config attaches to a vassal and serves no port itself.
            let zergServer = listeners.isEmpty ? settings.zergServers.first : nil
            // A worker woken by a handoff must not preempt the vassal mid-batch
            // (measured: +20-50 % through the vassal on 2 cores).
            if zergServer != nil { Scheduling.becomeBatch() }
            let readyPool = try ReadyPool.fromEnvironment(environment)
            let named = (environment[Inherited.listenerProtocols] ?? "").split(separator: ",").map { WireProtocol(rawValue: String($0)) }
            let wires = listeners.indices.map { $0 < named.count ? named[$0] ?? .http : .http }
            // One core: it uses the master's channel itself. More: each has an
            // in-process channel, the main thread relays (`WorkerCores`).
            var cores: [Worker] = []
            var relayEnds: [FileDescriptor] = []
            for k in 0..<threads {
                var coreControl = channel
                if threads > 1 {
                    let (relayEnd, coreEnd) = try FileDescriptor.socketPair(nonBlocking: true)
                    relayEnds.append(relayEnd)
                    coreControl = WorkerControl(fd: coreEnd)
                }
                cores.append(try Worker(id: id, settings: settings, interpreter: interpreter, control: coreControl,
                                        listeners: listeners, wires: wires, core: k, row: rows.map { Scoreboard.Row($0.board, $0.range.lowerBound + k) },
                                        processRows: threads > 1 ? rows?.range : nil, zergServer: zergServer, readyPool: readyPool))
            }
            let worker = cores[0]
            // Say hello before loading (the vassal sees a loading worker), READY after.
            if zergServer != nil {
                for core in cores where try core.attach() { attached.append(core) }
            }
            try interpreter.loadApps(settings.mounts)
            interpreter.runHook("post_fork_hook")  // uwsgidecorators' @postfork, Django sites' connection resets
            let appMs = (Host.monotonicNanoseconds() - start) / 1_000_000
            // Warm-up runs before the worker can be given any client request.
            worker.runner.bindToThisThread()
            let warmMs = worker.warmUp()
            let ready = WorkerReport.ready(totalMs: UInt32(clamping: (Host.monotonicNanoseconds() - start) / 1_000_000),
                                           appMs: UInt32(clamping: appMs), warmupMs: UInt32(clamping: warmMs))
            if zergServer != nil {
                if threads == 1 {
                    guard try !attached.isEmpty || worker.attachWithRetry() else { return 0 }
                    worker.tellVassal(.ready)
                } else {
                    // A core not attached yet attaches (and says ready) from its own loop.
                    for core in attached { core.tellVassal(.ready) }
                }
            }
            try? channel.send(ready)
            let status = threads == 1 ? worker.run()
                : try WorkerCores(cores: cores, master: channel, channels: relayEnds, stackBytes: settings.threadStackBytes).run(interpreter: interpreter)
            interpreter.runHook("atexit")
            return status
        } catch let error as Interpreter.LoadError {
            if environment[Inherited.quietLoadErrors] == nil {
                Log.info("loading the app raised \(error.summary):\n\(error.traceback)", terminator: "")
            } else {
                Log.info("loading the app raised \(error.summary) (again)")
            }
            failure = (.appLoad, error.summary.replacingAll("\n", with: " "))
            for core in attached { core.tellVassal(.failing(reason: failure.1)) }
        } catch let error as VassalLink.Refused {
            Log.info("\(error)")
            failure = (.attachRefused, error.description)
        } catch {
            Log.info("worker failed to start: \(error)")
            failure = (.startup, "\(error)")
        }
        try? channel.send(.failed(failure.0, failure.1))
        return appLoadFailed
    }
}
