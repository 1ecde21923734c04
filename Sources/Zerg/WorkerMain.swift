#if canImport(Glibc)
import Glibc
#endif
import Shared

/// A worker process from start to exit: environment, interpreter, app, loop.
enum WorkerMain {
    static let appLoadFailed: Int32 = 22

    static func run(id: Int, arguments: [String], environment: [String: String]) -> Int32 {
        let control = FileDescriptor(rawValue: 3)
        let listeners = (environment["HADJANGO_LISTEN_FDS"] ?? "").split(separator: ",").compactMap { Int32($0) }
            .map { FileDescriptor(rawValue: $0) }
        for fd in [control] + listeners { _ = fcntl(fd.rawValue, F_SETFD, FD_CLOEXEC) }
        var settings: ZergSettings
        let config: Configuration
        do {
            (config, settings) = try ZergSettings.load(arguments: Array(arguments.dropFirst()))
            // `home` names a directory as seen from where the zerg started, before `chdir`.
            settings.home = settings.home.map(FileSystem.absolute)
        } catch {
            Log.info("configuration error:\n\(error)")
            return 2
        }
        let start = Host.monotonicNanoseconds()
        if let dir = settings.chdir, chdir(dir) != 0 {
            Log.info("chdir \(dir): \(String(cString: strerror(errno)))")
            return 1
        }
        // env = KEY=VALUE (and KEY alone, uWSGI's unset), unenv = KEY: before Python starts.
        for item in settings.env {
            if let (k, v) = item.splitOnce("=") { setenv(k, v, 1) } else { unsetenv(item) }
        }
        for key in settings.unenv { unsetenv(key) }
        if let title = settings.procname {
            ProcessTitle.set(title)
        } else if settings.autoProcname {
            ProcessTitle.set("zerg worker \(id)")
        }

        let interpreter: Interpreter
        do {
            interpreter = try Interpreter(settings: settings, callbacks: Callbacks.make())
            let masterPID = Int32(environment["HADJANGO_MASTER_PID"] ?? "") ?? getppid()
            interpreter.installUWSGIModule(
                workerID: id, numproc: settings.workers, masterPID: masterPID,
                options: config.entries.map { ($0.key, $0.value) })
            var scoreboard: (Scoreboard, Int)?
            let parts = (environment["HADJANGO_SCOREBOARD"] ?? "").split(separator: ":").compactMap { Int($0) }
            if parts.count == 3 {
                let fd = FileDescriptor(rawValue: Int32(parts[0]))
                _ = fcntl(fd.rawValue, F_SETFD, FD_CLOEXEC)
                scoreboard = (try Scoreboard.attach(fd: fd, rows: parts[1]), parts[2])
            }
            // Zerg mode when the config attaches to a vassal and serves no port itself.
            let zergServer = listeners.isEmpty ? settings.zergServers.first : nil
            // A worker woken by a handoff must not preempt the vassal mid-batch
            // (measured: +20-50 % through the vassal on 2 cores).
            if zergServer != nil { Scheduling.becomeBatch() }
            let worker = try Worker(id: id, settings: settings, interpreter: interpreter, control: control,
                                    listeners: listeners, scoreboard: scoreboard, zergServer: zergServer, build: settings.build,
                                    readyPool: ReadyPool.fromEnvironment(environment))
            Worker.shared = worker
            // Say hello before loading (the vassal sees a loading worker), READY after.
            let attachedEarly = zergServer != nil ? try worker.attach() : false
            try interpreter.loadApp(settings: settings)
            let appMs = (Host.monotonicNanoseconds() - start) / 1_000_000
            // Warm-up runs before the worker can be given any client request.
            let warmMs = worker.warmUp()
            let ready = { worker.tellMaster("ready \((Host.monotonicNanoseconds() - start) / 1_000_000) \(appMs) \(warmMs)") }
            guard zergServer != nil else {
                ready()
                return worker.run()
            }
            let attached = try attachedEarly || worker.attachWithRetry()
            guard attached else { return 0 }
            worker.tellVassal(.ready)
            ready()
            return worker.runAttached()
        } catch let error as Interpreter.LoadError {
            Log.info("loading the app raised \(error.summary):\n\(error.traceback)", terminator: "")
            try? control.writeAll("failed \(error.summary.replacingAll("\n", with: " "))\n")
            return appLoadFailed
        } catch let error as Worker.AttachRefused {
            Log.info("\(error)")
            try? control.writeAll("failed \(error)\n")
            return appLoadFailed
        } catch {
            Log.info("worker failed to start: \(error)")
            try? control.writeAll("failed \(error)\n")
            return appLoadFailed
        }
    }
}
