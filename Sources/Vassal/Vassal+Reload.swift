#if canImport(Glibc)
import Glibc
#endif
import Shared
import VassalCore

/// Reload = re-exec of the vassal binary with every socket it holds: the
/// listening socket never closes, attached workers stay attached, and parked
/// and queued clients carry on in the new process (same pid, so the emperor
/// keeps tracking it). The new process re-reads its config.
extension Vassal {
    func snapshot() -> VassalState {
        var state = VassalState()
        state.listeners = zip(settings.http, listeners).map { ($1, $0.description) }
        state.zergServer = (zergServer, settings.zergServer)
        state.board = board.fd
        state.seats = seats.fd
        for w in workers.values.sorted(by: { $0.id < $1.id }) {
            let held = w.inHand.map { (UInt32(0), $0) } + w.held.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            state.workers.append(.init(fd: w.link.fd, state: w.state, pid: w.pid, workerID: w.workerID, peer: w.peer,
                                       build: w.build, speaks: w.speaks, held: held.map { id, h in
                                           .init(fd: h.fd, host: h.host, port: h.port, requests: h.requests, buffer: h.buffered,
                                                 retryable: h.retryable, retried: h.retried, totals: h.totals, uwsgi: h.wire == .uwsgi, id: id)
                                       }, seat: w.seat == nil ? nil : w.seatIndex, handedIDs: w.handedIDs))
        }
        // Queued clients first, in queue order, so they keep their places.
        let queued = queue[queueHead...].compactMap { clients[$0] }.filter { $0.state == .queued }
        let reading = clients.values.filter { $0.state == .reading }.sorted { $0.id < $1.id }
        for c in queued + reading {
            state.clients.append(.init(fd: c.fd, state: c.state, host: c.remote.host, port: c.remote.port,
                                       requests: c.requests, buffer: c.buffer, totals: c.totals, uwsgi: c.wire == .uwsgi))
        }
        state.daemons = daemons.running
        return state
    }

    /// SIGHUP, touch-reload, the emperor's reload: the new configuration is
    /// loaded and checked by a child first (`ConfigCheck`), then the re-exec.
    func reload() {
        guard stopping == nil else { return }
        guard pendingCheck == nil else {
            Log.info("reload: the new configuration is still being checked")
            return
        }
        notifier?.reloading()
        var pipe: FileDescriptor?
        do {
            let (readEnd, writeEnd) = try Pipe.make()
            pipe = readEnd
            defer { writeEnd.close() }
            let devNull = try FileDescriptor.open("/dev/null", O_RDONLY)
            defer { devNull.close() }
            var env = Host.environment()
            env[EmperorProtocol.environmentVariable] = nil
            env[VassalState.environmentVariable] = nil
            for key in SystemdNotify.childHidden { env[key] = nil }
            env[ConfigCheck.resultVariable] = "3"
            var spec = ChildProcess.Spec(executable: binary.path, arguments: arguments, environment: env,
                                         fdMap: Log.childStdio(stdin: devNull) + [(writeEnd, 3)])
            spec.fallbackImage = binary.image
            let check = PendingCheck(pid: try ChildProcess.spawn(spec), pipe: readEnd)
            pendingCheck = check
            try readEnd.setNonBlocking()
            check.token = try sources.add(readEnd, .configCheck)
        } catch {
            if let check = pendingCheck {
                endCheck(check)  // closes the pipe, reaps the child
            } else {
                pipe?.close()
            }
            Log.info("reload refused: cannot check the new configuration: \(error); still running")
            tellEmperor(.ready)
            tellEmperor(.accepting)
        }
    }

    /// The check's pipe is readable: collect its answer; at the end, re-exec or refuse.
    func readCheck() {
        guard let check = pendingCheck else { return }
        reading: while true {
            switch try? check.pipe.readAvailable(max: 65536) {
            case .completed(let chunk)? where !chunk.isEmpty: check.bytes += chunk
            case .wouldBlock?: return  // more to come
            default: break reading  // end of file (or an error): the answer is complete
            }
        }
        endCheck(check)
        switch ConfigCheck.decode(check.bytes) {
        case .refused(let why):
            Log.info("reload refused: the configuration has errors; the running one keeps serving:\n\(why)")
            tellEmperor(.ready)
            tellEmperor(.accepting)
        case .loaded:
            reexec(configuration: check.bytes)
        }
    }

    /// A check that ran past its limit is killed; the reload is refused.
    func expireCheck(now: UInt64) {
        guard let check = pendingCheck, now - check.startedNs > ConfigCheck.limitSeconds * 1_000_000_000 else { return }
        ChildProcess.signalGroup(check.pid, SIGKILL)
        endCheck(check)
        Log.info("reload refused: checking the new configuration took over \(ConfigCheck.limitSeconds) s; still running")
        tellEmperor(.ready)
        tellEmperor(.accepting)
    }

    private func endCheck(_ check: PendingCheck) {
        if let token = check.token { sources.remove(check.pipe, token) }
        check.pipe.close()
        _ = ChildProcess.wait(check.pid)
        pendingCheck = nil
    }

    /// Re-execs with every fd, the state behind them, and the checked configuration.
    func reexec(configuration: [UInt8]) {
        let state = snapshot()
        var keep = state.allFds
        keep += emperor?.prepareForExec() ?? []
        Log.info("reloading: re-exec with \(state.listeners.count) listener(s), \(state.workers.count) worker link(s), \(state.clients.count) client(s)")
        let error = binary.reexec(arguments, documents: [(VassalState.environmentVariable, Array(state.serialized().utf8)),
                                                         (ConfigCheck.configVariable, configuration)], keeping: keep) { pathError in
            Log.info("\(pathError): re-exec of the running image (\(binary.versionLine)) instead")
        }
        Log.info("reload failed: \(error); still running")
    }

    /// Takes over what the previous process held.
    func restore(_ state: VassalState) {
        daemons.adopt(state.daemons)
        for w in state.workers {
            let worker = AttachedWorker(link: HandoffLink(fd: w.fd), id: newID(), peer: w.peer)
            worker.state = w.state
            worker.pid = w.pid
            worker.workerID = w.workerID
            worker.build = w.build
            worker.speaks = w.speaks
            worker.handedIDs = w.handedIDs
            if let index = w.seat, index >= 0, index < seatTaken.count { take(seat: index, for: worker) }
            for held in w.held {
                var h = HandedConnection(fd: held.fd, host: held.host, port: held.port, wire: held.uwsgi ? .uwsgi : .http,
                                         requests: held.requests, buffered: held.buffer)
                h.retryable = held.retryable
                h.retried = held.retried
                h.totals = held.totals
                if worker.seat != nil && held.id != 0 {
                    worker.held[held.id] = h
                } else {
                    worker.inHand.append(h)
                }
            }
            worker.busySinceNs = Host.monotonicNanoseconds()
            guard let token = try? sources.add(w.fd, .worker(worker)) else {
                w.fd.close()
                releaseSeat(of: worker)
                continue
            }
            worker.eventToken = token
            workers[worker.id] = worker
            if w.state == .free && worker.seat == nil { free.append(worker.id) }
        }
        for c in state.clients {
            let client = ClientConnection(fd: c.fd, remote: (c.host, c.port), wire: c.uwsgi ? .uwsgi : .http, buffered: c.buffer, requests: c.requests)
            client.totals = c.totals
            client.id = newID()
            clients[client.id] = client
            if c.state == .queued {
                _ = client.examine(limits: settings.requestLimits)  // whether it may be sent twice
                enqueue(client)
            } else {
                watch(client)
            }
        }
        // Messages that arrived during the exec are waiting: read them now.
        for worker in Array(workers.values) { readWorker(worker) }
    }
}
