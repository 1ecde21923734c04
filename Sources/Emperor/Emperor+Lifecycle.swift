#if canImport(Glibc)
import Glibc
#endif
import EmperorCore
import Shared

extension Emperor {
    /// Loads the config the way its instance will (without running `@(exec://)`
    /// scripts: the emperor never waits on user code) to reject broken files
    /// before anything starts, and to pick the program.
    func inspect(_ instance: Instance) -> Result<InstanceKind?, ConfigError> {
        var loader = ConfigLoader(role: .all)
        loader.allowExec = false
        loader.reportForeignOptions = false
        loader.context.currentDirectory = launcher.workingDirectory
        do {
            let config = try loader.load(file: instance.name)
            if config.entries.isEmpty {
                let why = config.warnings.first?.description ?? "\(instance.name): no options"
                throw ConfigError([ConfigDiagnostic(.file(path: instance.name, line: 1), "nothing to run (\(why))")])
            }
            // What the status page needs: the build, and where the instance serves its stats.
            instance.build = config.placeholder("build") ?? FileSystem.baseName(FileSystem.directoryName(instance.name))
            instance.statsAddress = config.string("stats").flatMap(ListenAddress.init(parsing:))
            let kind = InstanceKind.of(config)
            instance.kindNote = kind == .zerg && !config.has("zerg") ? InstanceKind.reason(config) : nil
            return .success(kind)
        } catch let error as ConfigError {
            return .failure(error)
        } catch {
            return .failure(ConfigError(.file(path: instance.name, line: 1), "\(error)"))
        }
    }

    func logProblems(_ instance: Instance, _ error: ConfigError, action: String) {
        Log.info("\(instance.name): config has errors; \(action):")
        for problem in error.problems { Log.info("  \(problem)") }
    }

    func start(_ instance: Instance) {
        guard shutdown == nil else { return }
        // Started again after it crashed (by the backoff timer, SIGURG or an edited config).
        let respawn = instance.state == .throttled && instance.lastExit != nil
        instance.generation += 1
        instance.nextSpawnAtNs = nil
        let kind: InstanceKind?
        switch inspect(instance) {
        case .failure(let error):
            instance.state = .invalid
            releaseListeners(instance)
            instance.lastProblem = error.problems.first?.description
            logProblems(instance, error, action: "not started (fix it and it starts)")
            return
        case .success(let k):
            kind = k
        }
        if kind == nil && settings.wrapper == nil {
            instance.state = .invalid
            instance.lastProblem = "neither a vassal nor a zerg"
            Log.info("\(instance.name): not started: it has none of `zerg` (a zerg), `zerg-server`, `http` or `http-socket` (a vassal)")
            return
        }
        instance.kind = kind
        do {
            // A vassal started again after a crash gets the sockets its predecessor listened on.
            let (pid, control) = try launcher.launch(config: instance.name, kind: kind, stdio: Log.forChildren,
                                                     listeners: listeners(for: instance))
            instance.pid = pid
            instance.control = control
            instance.controlToken = try? sources.add(control, .control(instance.name))
            instance.state = .starting
            instance.ready = false
            instance.accepting = false
            instance.lastProblem = nil
            instance.appFailing = false
            instance.startedAtNs = Host.monotonicNanoseconds()
            let now = Timestamp.now().seconds
            if instance.firstRun == 0 { instance.firstRun = now }
            instance.born = now
            instance.lastRun = now
            if let note = instance.kindNote { Log.info("\(instance.name): runs as a \(note)") }
            Log.info("\(instance.name): started \(kind?.rawValue ?? "instance") pid \(pid)")
            recordEvent(respawn ? .respawned : .started, instance, cause: respawn ? instance.lastExit.map { "after \($0)" } ?? "" : "pid \(pid)")
        } catch {
            instance.lastProblem = "\(error)"
            crashed(instance, ranNs: 0, what: "cannot start: \(error)")
        }
    }

    /// The config file changed (touched, edited, re-pointed).
    func configChanged(_ instance: Instance, stamp: ConfigStamp?) {
        instance.stamp = stamp
        instance.lastModified = stamp?.modified.seconds ?? Timestamp.now().seconds
        switch instance.state {
        case .invalid, .throttled:
            instance.backoff.reset()
            start(instance)
        case .starting, .ready, .reloading:
            switch inspect(instance) {
            case .failure(let error):
                logProblems(instance, error, action: "pid \(instance.pid ?? 0) keeps running the previous version")
            case .success(let kind):
                if kind != instance.kind && settings.wrapper == nil {
                    Log.info("\(instance.name): now a \(kind?.rawValue ?? "config of no kind"); restarting it")
                    instance.restartAfterExit = true
                    stop(instance, mode: .graceful)
                } else {
                    reload(instance, cause: "config changed")
                }
            }
        case .stopping:
            break
        }
    }

    /// Graceful reload: the instance re-reads its config and reports ready again.
    func reload(_ instance: Instance, cause: String) {
        guard let pid = instance.pid, instance.state != .stopping else { return }
        instance.state = .reloading
        instance.ready = false
        instance.accepting = false
        instance.respawns += 1
        instance.lastRun = Timestamp.now().seconds
        Log.info("\(instance.name) pid \(pid): graceful reload (\(cause))")
        recordEvent(.reloaded, instance, cause: cause)
        if !send(.reload, to: instance) {
            Log.info("\(instance.name) pid \(pid): control channel closed; SIGHUP instead")
            ChildProcess.signal(pid, SIGHUP)
        }
    }

    /// The config is gone (or the emperor stops): stop it and forget it.
    func retire(_ instance: Instance, reason: String) {
        instance.retiring = true
        instance.restartAfterExit = false
        instance.generation += 1  // cancels a pending respawn
        if instance.isRunning {
            Log.info("\(instance.name) pid \(instance.pid!): \(reason); stopping")
            stop(instance, mode: shutdown ?? .graceful)
        } else {
            Log.info("\(instance.name): \(reason); forgotten")
            releaseListeners(instance)
            instances[instance.name] = nil
        }
    }

    /// Asks for a stop and arms the SIGKILL deadline. The emperor's copies of
    /// its listeners close now: a port nobody will serve must refuse, not queue.
    func stop(_ instance: Instance, mode: ShutdownMode) {
        releaseListeners(instance)
        guard let pid = instance.pid else { return }
        let alreadyStopping = instance.state == .stopping
        instance.state = .stopping
        if !alreadyStopping { instance.stoppingSince = Timestamp.now().seconds }
        let command: EmperorProtocol.Command = mode == .graceful && settings.gracefulStop ? .gracefulStop : .stop
        if !send(command, to: instance) {
            ChildProcess.signal(pid, SIGTERM)
        }
        let mercy = mode == .graceful ? settings.reloadMercySeconds : min(settings.reloadMercySeconds, 3)
        timers.schedule(afterMs: mercy * 1000, .kill(name: instance.name, pid: pid, mercy: mercy))
    }

    /// Writes one command byte; false when the channel is closed.
    @discardableResult
    func send(_ command: EmperorProtocol.Command, to instance: Instance) -> Bool {
        guard let control = instance.control else { return false }
        do {
            try control.writeAll([command.rawValue])
            return true
        } catch {
            return false
        }
    }

    func closeControl(_ instance: Instance) {
        if let control = instance.control, let token = instance.controlToken {
            sources.remove(control, token)
            control.close()
        }
        instance.control = nil
        instance.controlToken = nil
    }

    /// Reports from the instance on its control channel (recvmsg: the
    /// `listeners` report carries fds).
    func readControl(name: String) {
        guard let instance = instances[name], let control = instance.control else { return }
        let received = withUnsafeTemporaryAllocation(byteCount: 65536 + 64, alignment: 8) { buffer -> ([UInt8], [FileDescriptor])? in
            switch try? control.receivePacket(into: buffer, nonBlocking: true) {
            case .wouldBlock?: return nil
            case .completed(let (count, fds, _))?: return (Array(UnsafeRawBufferPointer(rebasing: buffer[0..<count])), fds)
            case nil: return ([], [])  // an error: as good as closed
            }
        }
        guard let (bytes, fds) = received else { return }
        if bytes.isEmpty {
            for fd in fds { fd.close() }
            closeControl(instance)  // EOF: the process is exiting (reaped via SIGCHLD)
            return
        }
        var unclaimed = fds
        let now = Timestamp.now().seconds
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            i += 1
            switch EmperorProtocol.Report(rawValue: byte) {
            case .listeners:
                let length = i + 2 <= bytes.count ? Int(bytes[i]) | Int(bytes[i + 1]) << 8 : -1
                guard length >= 0, i + 2 + length <= bytes.count else {
                    noteOnce("\(name): a listeners report cut short; ignored")
                    i = bytes.count
                    continue
                }
                let addresses = String(decoding: bytes[(i + 2)..<(i + 2 + length)], as: UTF8.self).split(separator: "\n").map(String.init)
                i += 2 + length
                let held = Array(unclaimed.prefix(addresses.count))
                unclaimed.removeFirst(held.count)
                hold(Array(zip(addresses, held)), for: instance)
            case .appFailing:
                instance.appFailing = true
                instance.lastProblem = "its app does not load (see its log); retrying"
            case .ready:
                instance.ready = true
                instance.appFailing = false
                instance.lastReady = now
                if instance.state == .starting || instance.state == .reloading {
                    let ms = (Host.monotonicNanoseconds() - instance.startedAtNs) / 1_000_000
                    let what = instance.state == .reloading ? "reloaded" : "ready in \(ms) ms"
                    instance.state = .ready
                    Log.info("\(name) pid \(instance.pid ?? 0): \(what)")
                    recordEvent(.ready, instance, cause: what)
                }
            case .accepting:
                instance.accepting = true
                instance.lastAccepting = now
                if instance.state == .starting || instance.state == .reloading { instance.state = .ready; instance.ready = true }
            case .loyal:
                instance.loyal = true
                instance.lastLoyal = now
            case .heartbeat:
                instance.lastHeartbeat = now
            case .voluntaryShutdown:
                Log.info("\(name) pid \(instance.pid ?? 0): asked to stop; restarting it")
                instance.restartAfterExit = true
                stop(instance, mode: .graceful)
            case .configRequest, .sos:
                noteOnce("\(name): ignored report \(byte) (config blobs and broodlord are not supported)")
            case nil:
                noteOnce("\(name): ignored unknown report byte \(byte)")
            }
        }
        for fd in unclaimed { fd.close() }
    }

    /// Keeps copies of an instance's listening sockets (replacing earlier ones).
    func hold(_ listeners: [(address: String, fd: FileDescriptor)], for instance: Instance) {
        releaseListeners(instance)
        instance.heldListeners = listeners
    }

    /// Closes the emperor's copies: the instance is going away (or binds anew).
    func releaseListeners(_ instance: Instance) {
        for held in instance.heldListeners { held.fd.close() }
        instance.heldListeners = []
    }

    /// An instance left running by an emperor that died (killed, crashed):
    /// it waits on its adoption socket, and this emperor takes it over instead
    /// of starting a duplicate. False when there is none to adopt.
    func adopt(_ instance: Instance) -> Bool {
        let path = launcher.adoptionPath(for: instance.name)
        guard FileSystem.exists(path), let fd = try? FileDescriptor.connect(unixPath: path) else { return false }
        guard let peer = try? fd.peerCredentials(), peer.pid > 0, let pidfd = try? ChildProcess.pidfd(peer.pid) else {
            fd.close()
            return false
        }
        let kind: InstanceKind?
        switch inspect(instance) {
        case .success(let k): kind = k
        case .failure: kind = nil
        }
        do {
            try fd.setNonBlocking()
            instance.controlToken = try sources.add(fd, .control(instance.name))
            instance.pidfdToken = try sources.add(pidfd, .adoptedExit(instance.name))
        } catch {
            if let token = instance.controlToken { sources.remove(fd, token) }
            fd.close()
            pidfd.close()
            instance.controlToken = nil
            return false
        }
        instance.kind = kind
        instance.control = fd
        instance.pid = peer.pid
        instance.pidfd = pidfd
        instance.adopted = true
        instance.state = .starting  // ready once it says so (it does on adoption)
        // It has run since its start, not since this adoption (what `emperor-stable-time` measures).
        let age = ProcStat.read(peer.pid)?.ageNanoseconds ?? 0
        instance.startedAtNs = Host.monotonicNanoseconds() &- min(age, Host.monotonicNanoseconds())
        let now = Timestamp.now().seconds
        instance.firstRun = now
        instance.born = now
        instance.lastRun = now
        Log.info("\(instance.name): adopted \(kind?.rawValue ?? "instance") pid \(peer.pid), left running by an earlier emperor")
        return true
    }

    /// A child ended: an instance (crash, stop or reload-by-exit) or an adopted orphan.
    func childExited(pid: pid_t, status: ExitStatus) {
        guard let instance = instances.values.first(where: { $0.pid == pid }) else {
            Log.info("reaped orphan pid \(pid) (\(status))")
            return
        }
        if let pidfd = instance.pidfd {
            if let token = instance.pidfdToken { sources.remove(pidfd, token) }
            pidfd.close()
            instance.pidfd = nil
            instance.pidfdToken = nil
            instance.adopted = false
        }
        // Anything left in its process group is a stray worker: it goes too.
        ChildProcess.signalGroup(pid, SIGKILL)
        closeControl(instance)
        instance.pid = nil
        instance.lastExit = status
        instance.ready = false
        instance.accepting = false
        let ranNs = Host.monotonicNanoseconds() - instance.startedAtNs
        if instance.restartAfterExit && shutdown == nil && (instance.state == .stopping || instance.retiring) {
            Log.info("\(instance.name) pid \(pid) \(status); starting it again")
            instance.restartAfterExit = false
            instance.retiring = false
            start(instance)
        } else if instance.retiring || shutdown != nil {
            Log.info("\(instance.name) pid \(pid) stopped (\(status))")
            recordEvent(.stopped, instance, cause: instance.retiring ? "config removed" : "emperor stopping")
            releaseListeners(instance)
            instances[instance.name] = nil
        } else {
            recordEvent(.crashed, instance, cause: "\(status)")
            crashed(instance, ranNs: ranNs, what: "pid \(pid) \(status)")
        }
    }

    /// Schedules the respawn after the backoff delay.
    func crashed(_ instance: Instance, ranNs: UInt64, what: String) {
        let delayMs = instance.backoff.nextDelayMs(ranNs: ranNs)
        instance.state = .throttled
        instance.generation += 1
        instance.nextSpawnAtNs = Host.monotonicNanoseconds() + UInt64(delayMs) * 1_000_000
        timers.schedule(afterMs: delayMs, .respawn(name: instance.name, generation: instance.generation))
        Log.info("\(instance.name) \(what); respawn in \(Self.seconds(delayMs))")
    }

    static func seconds(_ ms: Int) -> String {
        ms % 1000 == 0 ? "\(ms / 1000) s" : "\(Double(ms) / 1000) s"
    }
}
