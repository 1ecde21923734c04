#if canImport(Glibc)
import Glibc
#endif
import Shared

/// Dispatch (queued connections to free workers) and the worker links:
/// attach, the handoff messages, detach.
extension Vassal {

    /// Hands queued connections to free workers, oldest connection first. When
    /// every worker is busy and requests still wait, a worker serving one
    /// connection gets the next one ahead of time (the one busy longest first):
    /// it then finds it waiting instead of sleeping until the vassal runs again.
    /// A client that has waited in a listener's backlog longer than the queue's
    /// head goes first (see `newcomer(before:)`).
    func dispatch() {
        updatePacking()
        while queueHead < queue.count {
            let token = queue[queueHead]
            guard let client = clients[token], client.state == .queued else {
                queueHead += 1
                continue
            }
            guard let worker = nextWorker() else { break }
            if let newcomer = newcomer(before: client) {
                if !hand(newcomer, to: worker) {
                    // Its worker is gone: it waits first in line, before the head.
                    newcomer.state = .queued
                    queue.insert(newcomer.id, at: queueHead)
                }
                continue
            }
            if hand(client, to: worker) { queueHead += 1 }
        }
        // The app cannot load and no worker can serve: say so now rather than
        // after queue-timeout (the workers keep trying, with backoff).
        if let problem = appProblem, queueHead < queue.count, !workers.values.contains(where: { $0.state == .free || $0.state == .busy }) {
            while queueHead < queue.count {
                if let client = clients[queue[queueHead]], client.state == .queued {
                    counters.queueTimeouts += 1
                    client.serviceUnavailable(reason: problem)
                    drop(client)
                }
                queueHead += 1
            }
        }
        if queueHead > 1024 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
    }

    /// Sends `client` to `worker` (the vassal keeps its copy until the worker
    /// answers for it). False when the worker could not take it: it is detached.
    func hand(_ client: ClientConnection, to worker: AttachedWorker) -> Bool {
        let port = UInt16(truncatingIfNeeded: client.remote.port)
        // Given ahead of time to a busy worker, it may wait there past
        // queue-timeout: a worker that understands it gets the deadline.
        let ahead = worker.isServing && worker.speaks >= HandoffMessage.dueVersion
        let due = client.sinceNs + UInt64(settings.queueTimeoutSeconds) * 1_000_000_000
        let message: HandoffMessage
        switch client.wire {
        case .uwsgi:
            guard worker.speaks >= HandoffMessage.uwsgiVersion else {
                // A worker of a build before the uwsgi protocol (mid-upgrade): it could not read the request.
                Log.info("\(worker.label) does not understand uwsgi connections (an older build); client \(client.remote.host):\(client.remote.port) answered 503")
                client.serviceUnavailable(reason: "no worker here serves the uwsgi protocol yet")
                drop(client)
                return true
            }
            message = .uwsgiConnection(dueNs: ahead ? due : 0, remoteHost: client.remote.host, remotePort: port, buffered: client.buffer)
        case .http:
            message = ahead ? .connectionDue(dueNs: due, remoteHost: client.remote.host, remotePort: port, buffered: client.buffer)
                : .connection(remoteHost: client.remote.host, remotePort: port, buffered: client.buffer)
        }
        let why: String
        do {
            if case .completed = try worker.link.send(message, fd: client.fd, nonBlocking: true) {
                why = ""
            } else {
                why = "its link is full"
            }
        } catch {
            why = "\(error)"
        }
        if !why.isEmpty {
            // The worker is gone or stuck: it gets nothing more.
            Log.info("\(worker.label): handoff failed (\(why)); detaching it")
            detach(worker)
            return false
        }
        let waited = Host.monotonicNanoseconds() - client.sinceNs
        counters.maxQueueWaitNs = max(counters.maxQueueWaitNs, waited)
        counters.waitSumNs &+= waited
        counters.waitBuckets[Self.waitBucketsMs.firstIndex { waited <= $0 * 1_000_000 } ?? Self.waitBucketsMs.count] += 1
        counters.dispatched += 1
        worker.handedIDs &+= 1
        // The vassal keeps its copy (out of epoll) until the worker answers for it.
        var handed = HandedConnection(fd: client.fd, host: client.remote.host, port: client.remote.port, wire: client.wire,
                                      requests: client.requests, buffered: client.buffer)
        handed.retryable = client.retryable && !client.retried
        handed.retried = client.retried
        handed.totals = client.totals  // known without a system call (see `returned`)
        clients[client.id] = nil
        if worker.seat != nil {
            worker.held[worker.handedIDs] = handed
            return true
        }
        if worker.inHand.isEmpty { worker.busySinceNs = Host.monotonicNanoseconds() }
        worker.state = .busy
        worker.inHand.append(handed)
        return true
    }

    /// Fairness between the two places requests wait: keep-alive requests read
    /// from parked connections queue here, new clients wait in a backlog
    /// (admission). Served by the queue alone, new clients would starve behind
    /// keep-alive ones (measured, 8 clients of each kind on 2 workers: close-mode
    /// p50 10.5 ms against 0.5 ms; with this, 1.9 against 0.9). So when a worker
    /// is free for `head` and the backlog has waited longer, one client is taken
    /// from it and handed at once, in the head's place: it never waits in the
    /// vassal (where a crash would lose it). How long the backlog has waited is
    /// an estimate, the kernel does not date it: since it was first left
    /// waiting, and after each such accept, since that accept.
    func newcomer(before head: ClientConnection) -> ClientConnection? {
        guard backlogSinceNs != 0, backlogSinceNs < head.sinceNs, stopping == nil, clients.count < maxConnections,
              let i = listenerPending.firstIndex(of: true) else { return nil }
        let now = Host.monotonicNanoseconds()
        let connection: AcceptedConnection
        switch try? listeners[i].accept() {
        case .completed(let accepted)?:
            connection = accepted
        case .wouldBlock?:
            listenerPending[i] = false
            if !listenerPending.contains(true) { backlogSinceNs = 0 }
            return nil
        case nil:
            return nil  // out of descriptors, say: `admit` answers the backlog (the flag stays)
        }
        backlogSinceNs = now
        counters.accepted += 1
        let client = ClientConnection(fd: connection.fd, remote: (connection.host, connection.port), wire: settings.sockets[i].wire)
        client.id = newID()
        clients[client.id] = client
        guard readable(client, queueing: false) else { return nil }
        client.sinceNs = now
        return client
    }

    /// A free worker, else a busy one with room for the next connection,
    /// else nil. Among seated workers (whose seats say who is free), the one
    /// holding fewest connections: keep-alive clients spread over the workers
    /// as they come. Among the others, the most recently freed, and of the
    /// busy ones the one busy longest. While the app is CPU-bound, seated
    /// workers other than the slot holders get none (`SlotPacking`).
    func nextWorker() -> AttachedWorker? {
        var idleSeated: AttachedWorker?
        var busySeated: AttachedWorker?
        if seatsInUse > 0 {
            for w in workers.values where w.seat != nil && w.state == .free && packing?.takes(w) ?? true {
                switch w.inFlight {
                case 0: if idleSeated.map({ w.held.count < $0.held.count }) ?? true { idleSeated = w }
                // Fewest held first (a worker past its share gives connections back), then least in flight.
                case 1, 2: if busySeated.map({ (w.held.count, w.inFlight) < ($0.held.count, $0.inFlight) }) ?? true { busySeated = w }
                default: break
                }
            }
        }
        if let idleSeated { return idleSeated }
        while let id = free.popLast() {
            if let w = workers[id], w.state == .free, w.seat == nil { return w }
        }
        if let busySeated { return busySeated }
        return workers.values.filter { $0.state == .busy && $0.inHand.count == 1 }.min { $0.busySinceNs < $1.busySinceNs }
    }

    /// The worker answered for its oldest connection (back or done): the
    /// vassal's copy closes (unless `keepingCopy`: it stands in for a handed-back
    /// fd that could not be received); with nothing else in hand the worker is free.
    func answered(_ worker: AttachedWorker, keepingCopy: Bool = false) -> HandedConnection? {
        guard !worker.inHand.isEmpty else { return nil }
        let handed = worker.inHand.removeFirst()
        if !keepingCopy { handed.fd.close() }
        worker.connectionsServed += 1
        worker.busySinceNs = Host.monotonicNanoseconds()
        lastProgressNs = worker.busySinceNs
        if worker.inHand.isEmpty && worker.state == .busy { markFree(worker) }
        return handed
    }

    func markFree(_ worker: AttachedWorker) {
        guard worker.state == .busy || worker.state == .loading || worker.state == .free else { return }
        worker.state = .free
        lastProgressNs = Host.monotonicNanoseconds()
        free.removeAll { $0 == worker.id }
        if worker.seat == nil { free.append(worker.id) }  // a seated one's seat says when it is free
    }

    // MARK: workers

    /// Links that have not said hello yet, at most (more are closed at once):
    /// whoever may connect to the zerg-server socket cannot exhaust the vassal.
    static let maxAttaching = 64
    /// A link must say hello within this long (a worker does at once).
    static let helloDeadlineNs: UInt64 = 2_000_000_000

    func acceptWorkers() {
        while true {
            let result: IOResult<AcceptedConnection>
            do {
                result = try zergServer.accept()
            } catch where ReserveDescriptor.isExhaustion(error) {
                // Out of descriptors: the link is refused (closed) rather than left to
                // wake this level-triggered socket in a loop; the worker retries with backoff.
                _ = reserve.shed(from: zergServer, answer: [])
                return
            } catch {
                return
            }
            guard case .completed(let accepted) = result else { return }
            let fd = accepted.fd
            let link = HandoffLink(fd: fd)
            guard let peer = try? fd.peerCredentials() else {
                fd.close()
                continue
            }
            if workers.values.filter({ $0.state == .attaching }).count >= Self.maxAttaching {
                linkTrouble.overCap += 1
                fd.close()
                continue
            }
            let worker = AttachedWorker(link: link, id: newID(), peer: peer)
            if let reason = refusal(uid: peer.uid) {
                // Answered after its hello is read: closing a unix socket with
                // unread bytes would reset the link before the answer is seen.
                // Logged once per sweep with a count: refused peers come by the hundred in an attack.
                linkTrouble.refused += 1
                linkTrouble.lastRefusal = "pid \(peer.pid) uid \(peer.uid): \(reason)"
                worker.refusal = reason
            }
            do {
                worker.eventToken = try sources.add(fd, .worker(worker))
                workers[worker.id] = worker
            } catch {
                fd.close()
            }
        }
    }

    /// Links silent past the hello deadline are closed; what the zerg-server
    /// socket refused is logged as one line per sweep.
    func sweepLinks(now: UInt64) {
        for w in Array(workers.values) where w.state == .attaching && now &- w.connectedNs > Self.helloDeadlineNs {
            linkTrouble.silent += 1
            detach(w)
        }
        let t = linkTrouble
        if t.refused > 0 { Log.info("refused \(t.refused) worker attach(es), the last from \(t.lastRefusal)") }
        if t.silent > 0 { Log.info("closed \(t.silent) zerg-server link(s) that said no hello within 2 s") }
        if t.overCap > 0 { Log.info("closed \(t.overCap) zerg-server link(s) at once: \(Self.maxAttaching) were already waiting for their hello") }
        linkTrouble = LinkTrouble()
    }

    /// SO_PEERCRED check: only our own uid, root, or `zerg-allow-uid` may receive clients.
    func refusal(uid: uid_t) -> String? {
        if uid == 0 || uid == geteuid() || settings.allowedUIDs.contains(uid) { return nil }
        return "uid \(uid) may not attach (allowed: root, \(geteuid())\(settings.allowedUIDs.map { ", \($0)" }.joined()); see zerg-allow-uid)"
    }

    func readWorker(_ worker: AttachedWorker) {
        // Several messages may be waiting; take them all.
        while workers[worker.id] != nil {
            let received: HandoffLink.Received
            do {
                received = try worker.link.receive(into: packetBuffer, nonBlocking: true)
            } catch {
                Log.info("\(worker.label): protocol error: \(error); detaching it")
                detach(worker)
                return
            }
            switch received {
            case .none:
                return
            case .closed:
                detach(worker)
                return
            case .message(let message, let fd):
                handle(message, fd: fd, from: worker)
            case .messageLostItsFd(let message):
                // Out of descriptors: the connection handed back did not arrive,
                // but the vassal kept its own copy of it; the link is fine.
                shedSinceSweep.fdsLost += 1
                handle(message, fd: nil, ownCopy: true, from: worker)
            }
        }
    }

    /// `ownCopy`: a connection handed back arrived without its fd; the vassal's
    /// own copy of it stands in.
    func handle(_ message: HandoffMessage, fd: FileDescriptor?, ownCopy: Bool = false, from worker: AttachedWorker) {
        switch (message, worker.state) {
        case (.hello, .attaching) where worker.refusal != nil:
            _ = try? worker.link.send(.refuse(reason: worker.refusal!), nonBlocking: true)
            detach(worker)
        case (.hello(let pid, let id, let build), .attaching):
            worker.pid = pid
            worker.workerID = id
            worker.build = build
            worker.state = .loading
            if (try? worker.link.send(.welcome(version: HandoffMessage.welcomeVersion), fd: board.fd, nonBlocking: true))?.value == nil {
                detach(worker)
            }
        case (.understands(let version), .loading), (.understands(let version), .free), (.understands(let version), .busy):
            worker.speaks = version
            if version >= HandoffMessage.heldVersion && worker.seat == nil && worker.state == .loading { seat(worker) }
        case (.available, .free), (.available, .draining):
            lastProgressNs = Host.monotonicNanoseconds()  // dispatch follows this turn
        case (.heldClosed(let id), _) where worker.held[id] != nil:
            _ = closeHeld(id, of: worker)
        case (.heldReturned(let id, let requests, let written, let read, let buffered), _) where worker.held[id] != nil:
            counters.handedBack += 1
            let handed = worker.held.removeValue(forKey: id)!
            if !ownCopy { handed.fd.close() }
            worker.connectionsServed += 1
            lastProgressNs = Host.monotonicNanoseconds()
            let totals = handed.totals.map { ($0.written + Int64(clamping: written), $0.read + Int64(clamping: read)) }
            if let fd = fd ?? (ownCopy ? handed.fd : nil) {
                adoptReturned(fd, remote: (handed.host, handed.port), buffered: buffered, requests: requests, totals: totals)
            }
        case (.ready, .loading):
            Log.info("\(worker.label) attached and ready")
            if appProblem != nil {
                Log.info("\(worker.label): the app loads again")
                appProblem = nil
            }
            markFree(worker)
        case (.failing(let reason), .loading):
            let problem = "the app\(worker.build.isEmpty ? "" : " of build \(worker.build)") cannot load: \(reason)"
            if problem != appProblem { Log.info("\(worker.label): \(problem); requests are answered 503 until a worker is ready") }
            appProblem = problem
        case (.back(let requests, let buffered), .busy) where !worker.inHand.isEmpty,
             (.back(let requests, let buffered), .draining) where !worker.inHand.isEmpty:
            counters.handedBack += 1
            let handed = answered(worker, keepingCopy: ownCopy)!
            if let fd = fd ?? (ownCopy ? handed.fd : nil) {
                adoptReturned(fd, remote: (handed.host, handed.port), buffered: buffered, requests: requests, totals: nil)
            }
        case (.returned(let requests, let written, let read, let buffered), .busy) where !worker.inHand.isEmpty,
             (.returned(let requests, let written, let read, let buffered), .draining) where !worker.inHand.isEmpty:
            counters.handedBack += 1
            let handed = answered(worker, keepingCopy: ownCopy)!
            let totals = handed.totals.map { ($0.written + Int64(clamping: written), $0.read + Int64(clamping: read)) }
            if let fd = fd ?? (ownCopy ? handed.fd : nil) {
                adoptReturned(fd, remote: (handed.host, handed.port), buffered: buffered, requests: requests, totals: totals)
            }
        case (.done, .busy) where !worker.inHand.isEmpty, (.done, .draining) where !worker.inHand.isEmpty:
            _ = answered(worker)
        case (.draining, _):
            worker.state = .draining
            free.removeAll { $0 == worker.id }
            _ = try? worker.link.send(.bye, nonBlocking: true)
        default:
            fd?.close()
            Log.info("\(worker.label): unexpected \(message.kind) while \(worker.state.rawValue); detaching it")
            detach(worker)
        }
    }

    /// A keep-alive connection a worker is done with: park it, or queue it at
    /// once when its next request is already here (pipelined).
    func adoptReturned(_ fd: FileDescriptor, remote: (host: String, port: Int), buffered: [UInt8], requests: UInt32,
                       totals: (written: Int64, read: Int64)?) {
        let client = ClientConnection(fd: fd, remote: remote, buffered: buffered, requests: requests)
        client.totals = totals
        client.id = newID()
        clients[client.id] = client
        if stopping != nil && buffered.isEmpty { return drop(client) }
        switch client.examine(limits: settings.requestLimits) {
        case .complete:
            enqueue(client)
        case .refuse(let error):
            client.refuse(error)
            drop(client)
        case .incomplete, .gone:
            watch(client)
        }
    }

    /// A worker's link is gone (it exited, died, or broke the protocol). Any
    /// connection it had not started yet (given ahead of time) goes back to
    /// the front of the queue, unserved. The one it was serving: see
    /// `lostInFlight`. (A seated worker's connections: `recoverHeld`.)
    func detach(_ worker: AttachedWorker) {
        workers[worker.id] = nil
        free.removeAll { $0 == worker.id }
        if let token = worker.eventToken { sources.remove(worker.link.fd, token) }
        worker.link.fd.close()
        if worker.seat != nil { return recoverHeld(worker) }
        guard let serving = worker.inHand.first else {
            if worker.state != .draining && worker.state != .attaching { Log.info("\(worker.label) detached") }
            return
        }
        var again: [HandedConnection] = Array(worker.inHand.dropFirst())
        worker.inHand = []
        let before = serving.totals
        let now = before == nil ? nil : serving.fd.tcpTotals()
        // Nothing of a response written (a body read is fine for a 502, not for sending the request again).
        let unanswered = before != nil && now?.written == before?.written
        let untouched = unanswered && now?.read == before?.read
        var resend: HandedConnection?
        if untouched && serving.retryable {
            resend = serving
            resend?.retried = true
        }
        if let retry = lostInFlight(serving, of: worker, unanswered: unanswered, resend: resend) { again.insert(retry, at: 0) }
        queueAgain(again)
    }

    /// The request a dead worker was serving: when the worker wrote none of
    /// the response and read nothing more, a GET, HEAD or OPTIONS without a
    /// body (`resend`) is queued again, once (nginx's `proxy_next_upstream`;
    /// returned here for the caller to queue); anything else gets `502 Bad
    /// Gateway`; a response already under way can only be cut (the connection closes).
    func lostInFlight(_ serving: HandedConnection, of worker: AttachedWorker, unanswered: Bool, resend: HandedConnection?,
                      why: String = "not a request to send twice") -> HandedConnection? {
        let client = "client \(serving.host):\(serving.port)"
        if let resend {
            counters.retried += 1
            Log.info("\(worker.label) left before answering (\(client)); its request goes to another worker")
            return resend
        } else if unanswered {
            counters.badGateway += 1
            Log.info("\(worker.label) left before answering (\(client)); 502 (\(why))")
            ClientConnection(fd: serving.fd, remote: (serving.host, serving.port), wire: serving.wire).badGateway()
            serving.fd.close()
        } else {
            counters.lostInWorker += 1
            Log.info("\(worker.label) left with a response under way (\(client)); that response is cut")
            serving.fd.close()
        }
        return nil
    }

    /// Connections handed to a worker that is gone, unserved: first in line again.
    func queueAgain(_ again: [HandedConnection]) {
        let queued = again.map { h -> UInt64 in
            let client = ClientConnection(fd: h.fd, remote: (h.host, h.port), wire: h.wire, buffered: h.buffered, requests: h.requests)
            client.id = newID()
            client.state = .queued
            client.retryable = h.retryable || h.retried
            client.retried = h.retried
            client.totals = h.totals
            clients[client.id] = client
            return client.id
        }
        if !queued.isEmpty {
            queue.insert(contentsOf: queued, at: queueHead)
            Log.info("\(queued.count) connection(s) queued again")
        }
    }
}
