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
        for w in workers.values.sorted(by: { $0.id < $1.id }) {
            state.workers.append(.init(fd: w.link.fd, state: w.state, pid: w.pid, workerID: w.workerID, peer: w.peer,
                                       build: w.build, held: w.inHand.map {
                                           .init(fd: $0.fd, host: $0.host, port: $0.port, requests: $0.requests, buffer: $0.buffered)
                                       }))
        }
        // Queued clients first, in queue order, so they keep their places.
        let queued = queue[queueHead...].compactMap { clients[$0] }.filter { $0.state == .queued }
        let reading = clients.values.filter { $0.state == .reading }.sorted { $0.id < $1.id }
        for c in queued + reading {
            state.clients.append(.init(fd: c.fd, state: c.state, host: c.remote.host, port: c.remote.port,
                                       requests: c.requests, buffer: c.buffer))
        }
        return state
    }

    func reload() {
        guard stopping == nil else { return }
        let state = snapshot()
        let text = state.serialized()
        do {
            let memfd = try SharedMemory.anonymousFile(name: "vassal-state", contents: Array(text.utf8))
            var keep = state.allFds + [memfd]
            if let emperor { keep.append(emperor.fd) }
            defer {
                // Still here: the exec failed; carry on as before.
                Host.unsetEnvironment(VassalState.environmentVariable)
                for fd in keep { try? fd.setCloseOnExec(true) }
                memfd.close()
            }
            for fd in keep { try fd.setCloseOnExec(false) }
            Host.setEnvironment(VassalState.environmentVariable, String(memfd.rawValue))
            Log.info("reloading: re-exec with \(state.listeners.count) listener(s), \(state.workers.count) worker link(s), \(state.clients.count) client(s)")
            try Host.exec(Host.executablePath(), arguments)
        } catch {
            Log.info("reload failed: \(error); still running")
        }
    }

    /// Takes over what the previous process held.
    func restore(_ state: VassalState) {
        for w in state.workers {
            let worker = AttachedWorker(link: HandoffLink(fd: w.fd), id: newID(), peer: w.peer)
            worker.state = w.state
            worker.pid = w.pid
            worker.workerID = w.workerID
            worker.build = w.build
            worker.inHand = w.held.map {
                HandedConnection(fd: $0.fd, host: $0.host, port: $0.port, requests: $0.requests, buffered: $0.buffer)
            }
            worker.busySinceNs = Host.monotonicNanoseconds()
            guard let token = try? sources.add(w.fd, .worker(worker)) else {
                w.fd.close()
                continue
            }
            worker.eventToken = token
            workers[worker.id] = worker
            if w.state == .free { free.append(worker.id) }
        }
        for c in state.clients {
            let client = ClientConnection(fd: c.fd, remote: (c.host, c.port), buffered: c.buffer, requests: c.requests)
            client.id = newID()
            clients[client.id] = client
            if c.state == .queued {
                enqueue(client)
            } else {
                watch(client)
            }
        }
        // Messages that arrived during the exec are waiting: read them now.
        for worker in Array(workers.values) { readWorker(worker) }
    }
}
