#if canImport(Glibc)
import Glibc
#endif
import Shared
import VassalCore

/// What an event of the vassal's loop is about.
enum VassalEvent {
    case signals
    case emperor
    /// A new emperor connecting to adopt this vassal (see `EmperorLink`).
    case emperorAdoption
    /// A worker is attaching to the zerg-server socket.
    case zergServer
    case touch
    case stats(StatsEvent)
    /// A client is connecting to this listener (index into `listeners`).
    case listener(Int)
    case client(ClientConnection)
    case worker(AttachedWorker)
    /// The answer of a reload's configuration check (`ConfigCheck`).
    case configCheck
}

/// The vassal: owns a build's client port and its zerg-server socket. One
/// epoll loop accepts clients, reads each request head, queues complete ones
/// and hands them, fd and bytes, to free workers; idle keep-alive connections
/// come back from workers and wait here, so they never pin a worker.
final class Vassal {
    let settings: VassalSettings
    let arguments: [String]
    /// What a reload re-execs.
    let binary: OwnBinary
    let sources: EventSources<VassalEvent>
    let signals: SignalChannel
    let emperor: EmperorLink?
    var listeners: [FileDescriptor]
    var listenerTokens: [EventToken] = []
    /// A listener had an arrival since accept last said it would block (see `admit`).
    var listenerPending: [Bool]
    /// When a worker last freed up or answered for a connection (see `dispatchRoom`).
    var lastProgressNs: UInt64 = 0
    /// Since when (at least) a client has waited in a backlog, 0 when none does (see `newcomer(before:)`).
    var backlogSinceNs: UInt64 = 0
    /// Connections in the listeners' backlogs when last read, and when (see `updateWaiting`).
    var backlog = 0
    var backlogReadNs: UInt64 = 0
    /// Requests waiting for a worker, here and in the backlogs (see `updateWaiting`).
    var waiting = 0
    /// Client connections held at most (`max-connections`, see `Vassal+Admission`).
    let maxConnections: Int
    /// What the zerg-server socket refused or closed since the last sweep.
    var linkTrouble = LinkTrouble()
    struct LinkTrouble {
        var refused = 0
        var lastRefusal = ""
        var silent = 0
        var overCap = 0
    }
    /// Answers waiting clients when out of descriptors.
    let reserve = ReserveDescriptor()
    /// Connections shed since the last sweep (logged there), by cause; and
    /// hand-backs whose fd could not be received (the vassal's copy served).
    var shedSinceSweep = (atCap: 0, outOfDescriptors: 0, idleClosed: 0, fdsLost: 0)
    let zergServer: FileDescriptor
    var zergServerToken: EventToken?
    /// The zerg-server path while it is this vassal's (see `releaseZergServer`).
    let zergServerPath: OwnedSocketPath?
    /// The unix paths of its client listeners: removed when it stops.
    let listenerPaths: [OwnedSocketPath]

    var clients: [UInt64: ClientConnection] = [:]
    var workers: [UInt64: AttachedWorker] = [:]
    /// Complete heads waiting for a worker, oldest first (`queueHead` is the next one).
    var queue: [UInt64] = []
    var queueHead = 0
    /// Free workers; the most recently freed is used first (its caches are warm).
    var free: [UInt64] = []
    /// Names for clients and workers (keys of `clients`, `workers`, the queue and the free list).
    var nextID: UInt64 = 0
    var stopping: Stop?
    var stopDeadlineNs: UInt64 = 0
    var lastSweepNs: UInt64 = 0
    var counters = Counters()
    /// Word 0: the requests waiting for a worker (queue and backlogs, `updateWaiting`), read by attached workers.
    let board: SharedMemory
    /// The seats of workers that hold their keep-alive connections (`HandoffSeat`), and which are taken.
    let seats: SharedMemory
    var seatTaken = [Bool](repeating: false, count: HandoffSeat.count)
    /// Seats taken now (the loop and dispatch look at seats only when some are).
    var seatsInUse = 0
    /// The slot holders new connections go to (nil: no packing), as of the last dispatch.
    var packing: SlotPacking?
    /// The seat given last (seats go round the table: `seat(_:)`).
    var lastSeat = HandoffSeat.count - 1
    /// Where client reads land (one connection is read at a time).
    let readScratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16384, alignment: 16)
    /// Where worker messages land (one is received at a time).
    let packetBuffer = HandoffLink.makeBuffer()

    enum Stop { case graceful, immediate }

    struct Counters {
        var accepted = 0
        var dispatched = 0
        var handedBack = 0
        /// Connections seated workers closed and noted in their seats' closed rings (no message).
        var closedInSeats = 0
        var refusedHeads = 0
        /// Requests answered 408: head or body past its deadline (`RequestReading`).
        var headTimeouts = 0
        var bodyTimeouts = 0
        /// New connections answered 503 at once: at `max-connections`, or out of descriptors.
        var shed = 0
        /// Idle keep-alive connections closed to make room for new ones.
        var idleClosedForRoom = 0
        var queueTimeouts = 0
        var lostInWorker = 0
        /// Requests sent to another worker after theirs died before answering.
        var retried = 0
        /// Requests answered 502: their worker died before answering, and they may not be sent twice.
        var badGateway = 0
        var maxQueueDepth = 0
        var maxQueueWaitNs: UInt64 = 0
        /// Dispatch waits by upper bound (`waitBucketsMs`, then +Inf), cumulative counts come from these.
        var waitBuckets = [Int](repeating: 0, count: Vassal.waitBucketsMs.count + 1)
        var waitSumNs: UInt64 = 0
    }

    /// Histogram bounds of the time a request waits for a worker (ms).
    static let waitBucketsMs: [UInt64] = [1, 5, 10, 50, 100, 500, 1000, 5000]

    var stats: StatsServer<VassalEvent>?
    /// A reload's configuration check under way.
    var pendingCheck: PendingCheck?
    /// Set when a worker reported that its app cannot load, until a worker is ready:
    /// requests are then answered 503 at once while no worker can serve.
    var appProblem: String?
    enum TouchAction { case reload, logReopen }
    let touches: TouchWatcher<TouchAction>?
    /// `attach-daemon` and kin in a vassal config (a Celery worker beside the build).
    let daemons: DaemonSupervisor
    /// Started by systemd itself (`NOTIFY_SOCKET`); under the emperor, the emperor tells systemd.
    let notifier: SystemdNotify?
    var nextWatchdogNs: UInt64 = 0

    init(settings: VassalSettings, arguments: [String], binary: OwnBinary, listeners: [FileDescriptor], zergServer: FileDescriptor,
         emperor: EmperorLink?, board: SharedMemory?, seats: SharedMemory?) throws {
        self.board = try board ?? SharedMemory.create(name: "vassal-queue", count: HandoffBoard.words)
        self.seats = try seats ?? HandoffSeat.createAll()
        self.settings = settings
        self.arguments = arguments
        self.binary = binary
        self.listeners = listeners
        maxConnections = settings.maxConnectionsOption > 0 ? settings.maxConnectionsOption : max(64, DescriptorLimit.current - 64)
        // Connections may already wait (a re-exec, a respawn on the emperor's copy).
        listenerPending = listeners.map { _ in true }
        self.zergServer = zergServer
        zergServerPath = OwnedSocketPath(settings.zergServer)
        listenerPaths = settings.http.compactMap { if case .unix(let path) = $0 { OwnedSocketPath(path) } else { nil } }
        self.emperor = emperor
        signals = try SignalChannel([SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGCHLD])
        daemons = DaemonSupervisor(settings.daemons, mercySeconds: settings.reloadMercySeconds, hiding: [])
        notifier = emperor == nil ? SystemdNotify.fromEnvironment() : nil
        SignalChannel.ignoreBrokenPipe()
        sources = try EventSources()
        try sources.add(signals.fd, .signals)
        try emperor?.register(in: sources, channel: .emperor, adoption: .emperorAdoption)
        zergServerToken = try sources.add(zergServer, .zergServer)
        for (i, l) in listeners.enumerated() { listenerTokens.append(try sources.add(l, .listener(i), interest: .readableEdge)) }
        let files = settings.touchReload.map { ($0, TouchAction.reload) } + settings.touchLogReopen.map { ($0, TouchAction.logReopen) }
        touches = files.isEmpty ? nil : try TouchWatcher(files)
        if let touches { try sources.add(touches.fd, .touch) }
        if let address = settings.stats {
            stats = try StatsServer(address: address, http: settings.statsHTTP, sources: sources, as: VassalEvent.stats)
        }
    }

    func newID() -> UInt64 {
        nextID += 1
        return nextID
    }

    var queueDepth: Int { queue.count - queueHead }

    func run() -> Int32 {
        var admitMore = false
        daemons.startAll()
        while true {
            let idleMs = daemons.timeoutMs(otherwise: 250)
            let events = (try? sources.wait(timeoutMs: admitMore ? 0 : min(idleMs, packingWaitMs() ?? idleMs))) ?? []
            if seatsInUse > 0 { board[HandoffBoard.asleep] = 0 }  // awake: it looks at the seats before it sleeps again
            for event in events {
                switch sources[event] {
                case .signals?:
                    while let sig = try? signals.next() { handle(signal: sig) }
                case .emperor?:
                    readEmperor()
                case .emperorAdoption?:
                    adopted()
                case .zergServer?:
                    acceptWorkers()
                case .touch?:
                    for action in touches?.changed() ?? [] {
                        switch action {
                        case .reload: reload()
                        case .logReopen:
                            Log.reopenFiles()
                        }
                    }
                case .listener(let index)?:
                    if index < listenerPending.count { listenerPending[index] = true }
                case .stats(let e)?:
                    stats?.handle(e) { statsDocument() }
                case .client(let client)?:
                    readable(client)
                case .worker(let worker)?:
                    readWorker(worker)
                case .configCheck?:
                    readCheck()
                case nil:
                    continue
                }
            }
            collectClosed()
            dispatch()
            var now = Host.monotonicNanoseconds()
            daemons.fireDue(now: now)
            admitMore = admit(now: now)
            dispatch()
            // Read again: what admit and dispatch did is dated after the first read,
            // and the sweep subtracts those dates from `now`.
            now = Host.monotonicNanoseconds()
            updateWaiting(now: now)
            board[HandoffBoard.waiting] = Int64(waiting)
            if seatsInUse > 0 {
                if waiting > 0 {
                    // A seated worker that came free while this turn ran said nothing
                    // if it read the page before these stores: look at the seats after them.
                    // One that comes free later says `available` (it may wake the vassal).
                    board[HandoffBoard.asleep] = 1
                    SharedMemory.fence()
                    dispatch()
                    updateWaiting(now: now)
                    board[HandoffBoard.waiting] = Int64(waiting)
                }
                board[HandoffBoard.share] = Int64(heldShare())
            }
            if let ms = notifier?.watchdogIntervalMs, now >= nextWatchdogNs {
                notifier?.watchdog()
                nextWatchdogNs = now + UInt64(ms) * 1_000_000
            }
            if now - lastSweepNs > 250_000_000 {
                sweep(now: now)
                stats?.sweep()
                expireCheck(now: now)
                if stopping == nil, emperor?.graceExpired(nowNs: now) == true {
                    Log.info("no emperor came back within emperor-lost-grace; stopping")
                    stop(.graceful)
                }
                lastSweepNs = now
            }
            if let how = stopping, finishedStopping(how, now: now) {
                emperor?.removeAdoptionSocket()
                Log.info("stopped")
                releaseZergServer()
                return 0
            }
        }
    }

    // MARK: clients

    /// Reads what the client sent. A complete request is queued (or, with
    /// `queueing` false, left to the caller: true is returned); an incomplete
    /// one waits in epoll; a refused one is answered and closed.
    @discardableResult
    func readable(_ client: ClientConnection, queueing: Bool = true) -> Bool {
        switch client.readRequest(limits: settings.requestLimits, scratch: readScratch) {
        case .complete:
            unwatch(client)
            if !queueing { return true }
            enqueue(client)
        case .incomplete:
            if client.eventToken == nil { watch(client) }
        case .refuse(let error):
            counters.refusedHeads += 1
            Log.info("\(client.remote.host):\(client.remote.port): \(error)")
            client.refuse(error)
            drop(client)
        case .gone:
            drop(client)
        }
        return false
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
        queue.append(client.id)
        counters.maxQueueDepth = max(counters.maxQueueDepth, queueDepth)
    }

    /// Closes a client the vassal holds.
    func drop(_ client: ClientConnection) {
        // Explicitly out of epoll first: a worker may still hold a copy of a
        // returned connection for a moment, and epoll forgets a registration
        // only when the last copy closes.
        unwatch(client)
        clients[client.id] = nil
        client.fd.close()
    }

    /// Waits for the client's bytes in epoll.
    func watch(_ client: ClientConnection) {
        do {
            client.eventToken = try sources.add(client.fd, .client(client))
        } catch {
            drop(client)
        }
    }

    func unwatch(_ client: ClientConnection) {
        guard let token = client.eventToken else { return }
        sources.remove(client.fd, token)
        client.eventToken = nil
    }

    // MARK: time

    /// Idle keep-alive connections past `http-timeout` (closed quietly);
    /// requests still being read past their deadlines (408, see
    /// `RequestReading`); queued ones past `queue-timeout` (503). Timeouts are
    /// logged as one line per sweep, not one per client (slowloris clients
    /// come by the hundred).
    func sweep(now: UInt64) {
        sweepLinks(now: now)
        let idleNs = UInt64(settings.httpTimeoutSeconds) * 1_000_000_000
        let queueNs = UInt64(settings.queueTimeoutSeconds) * 1_000_000_000
        var overruns: [RequestReading.Overrun: Int] = [:]
        for client in Array(clients.values) {
            switch client.state {
            case .reading where !client.reading.isStarted:
                if now - client.sinceNs > idleNs { drop(client) }
            case .reading:
                guard let overrun = client.reading.overrun(nowNs: now, buffered: client.buffer.count, settings.requestDeadlines) else { continue }
                overruns[overrun, default: 0] += 1
                client.refuse(overrun == .head
                    ? HTTPError(408, "request head not received within \(settings.requestDeadlines.headSeconds) s (http-headers-timeout)")
                    : HTTPError(408, "request body too slow (http-body-timeout, http-body-min-rate)"))
                drop(client)
            case .queued where now - client.sinceNs > queueNs:
                counters.queueTimeouts += 1
                client.serviceUnavailable(reason: "no worker became free within \(settings.queueTimeoutSeconds) s (queue-timeout)")
                drop(client)
            default:
                break
            }
        }
        logShedding()
        if let n = overruns[.head] {
            counters.headTimeouts += n
            Log.info("\(n) client(s) did not send a request head within \(settings.requestDeadlines.headSeconds) s: 408 (http-headers-timeout)")
        }
        if let n = overruns[.body] {
            counters.bodyTimeouts += n
            Log.info("\(n) client(s) sent a request body too slowly: 408 (http-body-timeout, http-body-min-rate)")
        }
    }
}
