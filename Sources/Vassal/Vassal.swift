#if canImport(Glibc)
import Glibc
#endif
import Shared

/// The vassal: owns a build's client port and its zerg-server socket. One
/// epoll loop accepts clients, reads each request head, queues complete ones
/// and hands them, fd and bytes, to free workers; idle keep-alive connections
/// come back from workers and wait here, so they never pin a worker.
final class Vassal {
    let settings: VassalSettings
    let arguments: [String]
    let epoll: Epoll
    let signals: SignalChannel
    let emperor: EmperorChannel?
    var listeners: [FileDescriptor]
    let zergServer: FileDescriptor

    var clients: [UInt64: ClientConnection] = [:]
    var workers: [UInt64: AttachedWorker] = [:]
    /// Complete heads waiting for a worker, oldest first (`queueHead` is the next one).
    var queue: [UInt64] = []
    var queueHead = 0
    /// Free workers; the most recently freed is used first (its caches are warm).
    var free: [UInt64] = []
    var nextToken: UInt64 = 64
    var stopping: Stop?
    var stopDeadlineNs: UInt64 = 0
    var lastSweepNs: UInt64 = 0
    var counters = Counters()
    /// Word 0: the queue depth, read by attached workers (see `HandoffMessage.welcome`).
    let board: SharedMemory

    enum Stop { case graceful, immediate }

    struct Counters {
        var accepted = 0
        var dispatched = 0
        var handedBack = 0
        var refusedHeads = 0
        var queueTimeouts = 0
        var lostInWorker = 0
        var maxQueueDepth = 0
        var maxQueueWaitNs: UInt64 = 0
        /// Dispatch waits by upper bound (`waitBucketsMs`, then +Inf), cumulative counts come from these.
        var waitBuckets = [Int](repeating: 0, count: Vassal.waitBucketsMs.count + 1)
        var waitSumNs: UInt64 = 0
    }

    /// Histogram bounds of the time a request waits for a worker (ms).
    static let waitBucketsMs: [UInt64] = [1, 5, 10, 50, 100, 500, 1000, 5000]

    static let signalToken: UInt64 = 1
    static let emperorToken: UInt64 = 2
    static let zergServerToken: UInt64 = 3
    static let touchToken: UInt64 = 4
    static let statsToken: UInt64 = 5
    var stats: StatsServer?
    enum TouchAction { case reload, logReopen }
    let touches: TouchWatcher<TouchAction>?
    static let listenerTokenBase: UInt64 = 8

    init(settings: VassalSettings, arguments: [String], listeners: [FileDescriptor], zergServer: FileDescriptor,
         emperor: EmperorChannel?, board: SharedMemory?) throws {
        self.board = try board ?? SharedMemory.create(name: "vassal-queue", count: 8)
        self.settings = settings
        self.arguments = arguments
        self.listeners = listeners
        self.zergServer = zergServer
        self.emperor = emperor
        signals = try SignalChannel([SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1])
        SignalChannel.ignoreBrokenPipe()
        epoll = try Epoll()
        try epoll.add(signals.fd, token: Self.signalToken)
        if let emperor { try epoll.add(emperor.fd, token: Self.emperorToken) }
        try epoll.add(zergServer, token: Self.zergServerToken)
        for (i, l) in listeners.enumerated() { try epoll.add(l, token: Self.listenerTokenBase + UInt64(i)) }
        let files = settings.touchReload.map { ($0, TouchAction.reload) } + settings.touchLogReopen.map { ($0, TouchAction.logReopen) }
        touches = files.isEmpty ? nil : try TouchWatcher(files)
        if let touches { try epoll.add(touches.fd, token: Self.touchToken) }
        if let address = settings.stats {
            stats = try StatsServer(address: address, http: settings.statsHTTP, epoll: epoll, listenerToken: Self.statsToken)
        }
    }

    func newToken() -> UInt64 {
        nextToken += 1
        return nextToken
    }

    var queueDepth: Int { queue.count - queueHead }

    func run() -> Int32 {
        while true {
            let events = (try? epoll.wait(timeoutMilliseconds: 250)) ?? []
            for event in events {
                switch event.token {
                case Self.signalToken:
                    while let sig = try? signals.next() { handle(signal: sig) }
                case Self.emperorToken:
                    readEmperor()
                case Self.zergServerToken:
                    acceptWorkers()
                case Self.touchToken:
                    for action in touches?.changed() ?? [] {
                        switch action {
                        case .reload: reload()
                        case .logReopen:
                            if let path = settings.logto { try? Log.reopen(path) }
                        }
                    }
                case Self.listenerTokenBase..<Self.listenerTokenBase + UInt64(listeners.count):
                    acceptClients(listeners[Int(event.token - Self.listenerTokenBase)])
                default:
                    if let stats, stats.owns(event.token) {
                        stats.handle(token: event.token) { statsDocument() }
                    } else if let client = clients[event.token] {
                        readable(client)
                    } else if let worker = workers[event.token] {
                        readWorker(worker)
                    }
                }
            }
            dispatch()
            board[0] = Int64(queueDepth)
            let now = Host.monotonicNanoseconds()
            if now - lastSweepNs > 250_000_000 {
                sweep(now: now)
                stats?.sweep()
                lastSweepNs = now
            }
            if let how = stopping, finishedStopping(how, now: now) {
                Log.info("stopped")
                FileSystem.unlink(settings.zergServer)
                return 0
            }
        }
    }

    // MARK: clients

    func acceptClients(_ listener: FileDescriptor) {
        // A bounded batch, so workers' messages are not starved by a connection flood.
        var batch = 0
        while batch < 64, let (fd, host, port) = (try? listener.acceptWithPeer()) ?? nil {
            batch += 1
            counters.accepted += 1
            let client = ClientConnection(fd: fd, remote: (host, port))
            client.token = newToken()
            clients[client.token] = client
            // Most clients send their request with the connect: look before epoll.
            readable(client, fresh: true)
        }
    }

    func readable(_ client: ClientConnection, fresh: Bool = false) {
        switch client.readHead(limit: settings.bufferSize) {
        case .complete:
            unwatch(client)
            enqueue(client)
        case .incomplete:
            if !client.inEpoll { watch(client) }
        case .refuse(let error):
            counters.refusedHeads += 1
            Log.info("\(client.remote.host):\(client.remote.port): \(error)")
            client.refuse(error)
            drop(client)
        case .gone:
            drop(client)
        }
    }

    /// The queue's bound: past it a new request is answered 503 at once
    /// rather than held for `queue-timeout`.
    static let maxQueue = 10_000

    func enqueue(_ client: ClientConnection) {
        if queueDepth >= Self.maxQueue {
            counters.queueTimeouts += 1
            client.serviceUnavailable(reason: "\(Self.maxQueue) requests are already waiting for a worker")
            return drop(client)
        }
        client.state = .queued
        client.sinceNs = Host.monotonicNanoseconds()
        queue.append(client.token)
        counters.maxQueueDepth = max(counters.maxQueueDepth, queueDepth)
    }

    /// Closes a client the vassal holds.
    func drop(_ client: ClientConnection) {
        // Explicitly out of epoll first: a worker may still hold a copy of a
        // returned connection for a moment, and epoll forgets a registration
        // only when the last copy closes.
        unwatch(client)
        clients[client.token] = nil
        client.fd.close()
    }

    /// Waits for the client's bytes in epoll.
    func watch(_ client: ClientConnection) {
        do {
            try epoll.add(client.fd, token: client.token)
            client.inEpoll = true
        } catch {
            drop(client)
        }
    }

    func unwatch(_ client: ClientConnection) {
        guard client.inEpoll else { return }
        epoll.remove(client.fd)
        client.inEpoll = false
    }

    // MARK: dispatch

    /// Hands queued connections to free workers, oldest connection first. When
    /// every worker is busy and requests still wait, a worker serving one
    /// connection gets the next one ahead of time (the one busy longest first):
    /// it then finds it waiting instead of sleeping until the vassal runs again.
    func dispatch() {
        while queueHead < queue.count {
            let token = queue[queueHead]
            guard let client = clients[token], client.state == .queued else {
                queueHead += 1
                continue
            }
            guard let worker = nextWorker() else { break }
            let message = HandoffMessage.connection(
                remoteHost: client.remote.host, remotePort: UInt16(truncatingIfNeeded: client.remote.port), buffered: client.buffer)
            do {
                guard try worker.link.send(message, fd: client.fd, nonBlocking: true) else {
                    throw SystemError("sendmsg", worker.label, errno: EAGAIN)
                }
            } catch {
                // The worker is gone or stuck: it gets nothing more; the client stays first in line.
                Log.info("\(worker.label): handoff failed (\(error)); detaching it")
                detach(worker)
                continue
            }
            queueHead += 1
            let waited = Host.monotonicNanoseconds() - client.sinceNs
            counters.maxQueueWaitNs = max(counters.maxQueueWaitNs, waited)
            counters.waitSumNs &+= waited
            counters.waitBuckets[Self.waitBucketsMs.firstIndex { waited <= $0 * 1_000_000 } ?? Self.waitBucketsMs.count] += 1
            counters.dispatched += 1
            if worker.inHand.isEmpty { worker.busySinceNs = Host.monotonicNanoseconds() }
            worker.state = .busy
            // The vassal keeps its copy (out of epoll) until the worker answers for it.
            worker.inHand.append(HandedConnection(fd: client.fd, host: client.remote.host, port: client.remote.port,
                                                  requests: client.requests, buffered: client.buffer))
            clients[client.token] = nil
        }
        if queueHead > 1024 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
    }

    /// A free worker (the most recently freed), else a busy one with room for
    /// the next connection (the one busy longest), else nil.
    func nextWorker() -> AttachedWorker? {
        while let token = free.popLast() {
            if let w = workers[token], w.state == .free { return w }
        }
        return workers.values.filter { $0.state == .busy && $0.inHand.count == 1 }.min { $0.busySinceNs < $1.busySinceNs }
    }

    /// The worker answered for its oldest connection (back or done): the
    /// vassal's copy closes; with nothing else in hand the worker is free.
    func answered(_ worker: AttachedWorker) -> HandedConnection? {
        guard !worker.inHand.isEmpty else { return nil }
        let handed = worker.inHand.removeFirst()
        handed.fd.close()
        worker.connectionsServed += 1
        worker.busySinceNs = Host.monotonicNanoseconds()
        if worker.inHand.isEmpty && worker.state == .busy { markFree(worker) }
        return handed
    }

    func markFree(_ worker: AttachedWorker) {
        guard worker.state == .busy || worker.state == .loading || worker.state == .free else { return }
        worker.state = .free
        free.removeAll { $0 == worker.token }
        free.append(worker.token)
    }

    // MARK: workers

    func acceptWorkers() {
        while let (fd, _, _) = (try? zergServer.acceptWithPeer()) ?? nil {
            let link = HandoffLink(fd: fd)
            guard let peer = try? fd.peerCredentials() else {
                fd.close()
                continue
            }
            let worker = AttachedWorker(link: link, token: newToken(), peer: peer)
            if let reason = refusal(uid: peer.uid) {
                // Answered after its hello is read: closing a unix socket with
                // unread bytes would reset the link before the answer is seen.
                Log.info("refused a worker attach from pid \(peer.pid) uid \(peer.uid): \(reason)")
                worker.refusal = reason
            }
            do {
                try epoll.add(fd, token: worker.token)
                workers[worker.token] = worker
            } catch {
                fd.close()
            }
        }
    }

    /// SO_PEERCRED check: only our own uid, root, or `zerg-allow-uid` may receive clients.
    func refusal(uid: uid_t) -> String? {
        if uid == 0 || uid == geteuid() || settings.allowedUIDs.contains(uid) { return nil }
        return "uid \(uid) may not attach (allowed: root, \(geteuid())\(settings.allowedUIDs.map { ", \($0)" }.joined()); see zerg-allow-uid)"
    }

    func readWorker(_ worker: AttachedWorker) {
        // Several messages may be waiting; take them all.
        while workers[worker.token] != nil {
            let received: HandoffLink.Received
            do {
                received = try worker.link.receive(nonBlocking: true)
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
            }
        }
    }

    func handle(_ message: HandoffMessage, fd: FileDescriptor?, from worker: AttachedWorker) {
        switch (message, worker.state) {
        case (.hello, .attaching) where worker.refusal != nil:
            _ = try? worker.link.send(.refuse(reason: worker.refusal!), nonBlocking: true)
            detach(worker)
        case (.hello(let pid, let id, let build), .attaching):
            worker.pid = pid
            worker.workerID = id
            worker.build = build
            worker.state = .loading
            if (try? worker.link.send(.welcome(version: HandoffMessage.version), fd: board.fd, nonBlocking: true)) != true {
                detach(worker)
            }
        case (.ready, .loading):
            Log.info("\(worker.label) attached and ready")
            markFree(worker)
        case (.back(let requests, let buffered), .busy) where !worker.inHand.isEmpty,
             (.back(let requests, let buffered), .draining) where !worker.inHand.isEmpty:
            counters.handedBack += 1
            let handed = answered(worker)!
            if let fd { adoptReturned(fd, remote: (handed.host, handed.port), buffered: buffered, requests: requests) }
        case (.done, .busy) where !worker.inHand.isEmpty, (.done, .draining) where !worker.inHand.isEmpty:
            _ = answered(worker)
        case (.draining, _):
            worker.state = .draining
            free.removeAll { $0 == worker.token }
            _ = try? worker.link.send(.bye, nonBlocking: true)
        default:
            fd?.close()
            Log.info("\(worker.label): unexpected \(message.kind) while \(worker.state.rawValue); detaching it")
            detach(worker)
        }
    }

    /// A keep-alive connection a worker is done with: park it, or queue it at
    /// once when its next request is already here (pipelined).
    func adoptReturned(_ fd: FileDescriptor, remote: (host: String, port: Int), buffered: [UInt8], requests: UInt32) {
        let client = ClientConnection(fd: fd, remote: remote, buffered: buffered, requests: requests)
        client.token = newToken()
        clients[client.token] = client
        if stopping != nil && buffered.isEmpty { return drop(client) }
        switch client.examine(limit: settings.bufferSize) {
        case .complete:
            enqueue(client)
        case .refuse(let error):
            client.refuse(error)
            drop(client)
        case .incomplete, .gone:
            watch(client)
        }
    }

    /// A worker's link is gone (it exited, died, or broke the protocol). The
    /// connection it was serving is lost; any it had not started yet (given
    /// ahead of time) go back to the front of the queue, unserved.
    func detach(_ worker: AttachedWorker) {
        workers[worker.token] = nil
        free.removeAll { $0 == worker.token }
        epoll.remove(worker.link.fd)
        worker.link.fd.close()
        guard let serving = worker.inHand.first else {
            if worker.state != .draining && worker.state != .attaching { Log.info("\(worker.label) detached") }
            return
        }
        serving.fd.close()
        counters.lostInWorker += 1
        Log.info("\(worker.label) left with a connection in hand (client \(serving.host):\(serving.port)); that client's request is lost")
        let unstarted = worker.inHand.dropFirst().map { h -> UInt64 in
            let client = ClientConnection(fd: h.fd, remote: (h.host, h.port), buffered: h.buffered, requests: h.requests)
            client.token = newToken()
            client.state = .queued
            clients[client.token] = client
            return client.token
        }
        worker.inHand = []
        if !unstarted.isEmpty {
            queue.insert(contentsOf: unstarted, at: queueHead)
            Log.info("\(unstarted.count) connection(s) it had not started are queued again")
        }
    }

    // MARK: time

    /// Idle and half-sent connections past `http-timeout`; queued ones past `queue-timeout`.
    func sweep(now: UInt64) {
        let idleNs = UInt64(settings.httpTimeoutSeconds) * 1_000_000_000
        let queueNs = UInt64(settings.queueTimeoutSeconds) * 1_000_000_000
        for client in Array(clients.values) {
            switch client.state {
            case .reading where now - client.sinceNs > idleNs:
                drop(client)
            case .queued where now - client.sinceNs > queueNs:
                counters.queueTimeouts += 1
                client.serviceUnavailable(reason: "no worker became free within \(settings.queueTimeoutSeconds) s (queue-timeout)")
                drop(client)
            default:
                break
            }
        }
    }
}
