#if canImport(Glibc)
import Glibc
#endif
import Shared

/// `http = ADDR` on a zerg (uWSGI's quickstart: `--http :8000 --wsgi-file
/// app.py --master --processes 4`): the product's topology in one command. In
/// uWSGI this starts its HTTP router in front of the workers; here the master
/// binds the port and starts a vassal (the `vassal` binary beside this one)
/// that owns it, with a zerg-server socket in a private directory, and the
/// workers attach there. So a reload of the workers (SIGHUP, touch-reload)
/// keeps every client's connection, as under the emperor. The master keeps a
/// copy of the port: a vassal that dies is started again on the same socket
/// (clients wait in its backlog meanwhile).
struct Router {
    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    /// The vassal binary.
    let program: String
    /// The private directory holding the zerg-server socket (removed at exit).
    let directory: String
    var socketPath: String { directory + "/zerg.sock" }
    /// The router's ports, bound by the master (`http`), with their addresses.
    let listeners: [(address: ListenAddress, fd: FileDescriptor)]
    /// The running vassal.
    var pid: pid_t?
    var backoff = Backoff(stepMs: 250, capMs: 10_000, stableSeconds: 10)
    var startedNs: UInt64 = 0

    /// Options of the zerg's config the vassal applies too (what it reads of a request).
    static let sharedOptions: Set<String> = [
        "buffer-size", "post-buffering", "http-timeout", "http-headers-timeout", "http-body-timeout", "http-body-min-rate",
        "max-connections", "listen", "queue-timeout", "http-allow-underscore-headers", "zerg-allow-uid",
    ]
}

extension Master {
    /// The private directory for the router's zerg-server socket.
    static func makeRouterDirectory() throws -> String {
        let base = Host.environment()["XDG_RUNTIME_DIR"].flatMap { FileSystem.isDirectory($0) ? $0 : nil } ?? "/tmp"
        return try FileSystem.makeTemporaryDirectory(prefix: base + "/hadjango-http-")
    }

    /// The entries workers are configured with: in router mode, `zerg` names the router's socket.
    var workerEntries: [ConfigEntry] {
        guard let router else { return configuration.entries }
        var entry = ConfigEntry(key: "zerg", raw: router.socketPath, origin: .builtIn)
        entry.value = router.socketPath
        entry.isResolved = true
        return configuration.entries + [entry]
    }

    /// Starts (or starts again) the router's vassal on the master's copies of the port.
    func startRouter() {
        guard var r = router, stopping == nil, r.pid == nil else { return }
        var arguments = [r.program, "--zerg-server", r.socketPath]
        for (address, _) in r.listeners { arguments += ["--http", address.description] }
        for entry in configuration.entries where Router.sharedOptions.contains(entry.key) { arguments += ["--\(entry.key)", entry.value] }
        var env = Host.environment()
        for key in EmperorLink.variables + SystemdNotify.childHidden { env[key] = nil }  // the master answers the emperor, not its vassal
        env[WorkerMain.roleVariable] = nil
        var map: [(FileDescriptor, Int32)] = [(Log.forChildren, 1), (Log.forChildren, 2)]
        var named: [String] = []
        for (i, l) in r.listeners.enumerated() {
            let target = Int32(3 + i)
            map.append((l.fd, target))
            named.append("\(target)=\(l.address.description)")
        }
        env[EmperorProtocol.listenersVariable] = named.joined(separator: "\u{1F}")
        do {
            let devNull = try FileDescriptor.open("/dev/null", O_RDONLY)
            defer { devNull.close() }
            map.insert((devNull, 0), at: 0)
            var spec = ChildProcess.Spec(executable: r.program, arguments: arguments, environment: env, fdMap: map)
            spec.newProcessGroup = false  // a killpg of the zerg reaches it
            r.pid = try ChildProcess.start(spec).pid
            r.startedNs = Host.monotonicNanoseconds()
            Log.info("started the vassal (pid \(r.pid!)) owning \(r.listeners.map { $0.address.description }.joined(separator: ", ")); workers attach at \(r.socketPath)")
        } catch {
            let delay = r.backoff.nextDelayMs(ranNs: 0)
            Log.info("cannot start the vassal \(r.program): \(error); retrying in \(delay) ms")
            timers.schedule(afterMs: delay, .restartRouter)
        }
        router = r
    }

    /// The router's vassal exited: started again unless the zerg is stopping.
    func routerExited(status: ExitStatus) {
        guard var r = router else { return }
        r.pid = nil
        router = r
        if stopping != nil {
            if workersStopAfterRouter {
                workersStopAfterRouter = false
                for p in processes.values { stopWorker(p) }
            }
            return
        }
        let delay = r.backoff.nextDelayMs(ranNs: Host.monotonicNanoseconds() - r.startedNs)
        router = r
        Log.info("the vassal exited (\(status)); starting it again in \(delay) ms")
        timers.schedule(afterMs: delay, .restartRouter)
    }

    /// A graceful stop ends the vassal first (it stops accepting and lets the
    /// workers finish what it handed them); an immediate one kills it.
    func stopRouter(_ how: Stop) {
        guard let pid = router?.pid else { return }
        ChildProcess.signal(pid, how == .graceful ? SIGTERM : SIGKILL)
        timers.schedule(afterMs: settings.reloadMercySeconds * 1000, .kill(pid: pid))
    }

    func removeRouterDirectory() {
        guard let r = router else { return }
        FileSystem.unlink(r.socketPath)
        FileSystem.removeDirectory(r.directory)
    }
}
