import Shared
import ZergCore

/// What an event of a worker's loop is about.
enum WorkerEvent {
    /// An order from the master.
    case control
    /// A client is connecting to this listener (index into `listeners`).
    case listener(Int)
    /// The ready pool holds a connection whose next request has arrived.
    case pool
    /// A message from the vassal (zerg mode).
    case link
    /// A parked keep-alive connection (standalone) or a held one (seated) has bytes.
    case connection(Connection)
}

/// A worker process: one interpreter, one app, one epoll loop. Standalone it
/// accepts from the listening sockets it shares with the other workers and
/// parks idle keep-alive connections in its epoll; in zerg mode it serves the
/// connections a vassal hands it. A request runs the app synchronously, as
/// uWSGI's workers do. The concepts live in their own files:
///
/// | file | concept |
/// |---|---|
/// | `WorkerLoop.swift` | the event loop, both modes, and the orders from the master |
/// | `AcceptPolicy.swift` | when a standalone worker takes a new connection (share, CPU slots) |
/// | `ConnectionServing.swift` | a connection's requests, parking, the ready pool, closing |
/// | `VassalLink.swift` | zerg mode: the link to the vassal |
/// | `RequestRunner.swift` | one request through the app, its accounting and log line |
/// | `Worker+Lifecycle.swift` | recycling, warm-up, log reopening |
final class Worker {
    let id: Int
    let settings: ZergSettings
    let interpreter: Interpreter
    var control: WorkerControl
    var controlToken: EventToken?
    let sources: EventSources<WorkerEvent>
    let runner: RequestRunner
    let row: Scoreboard.Row?
    /// With `threads`: the rows of every core of this process (max-requests
    /// counts the process's requests); nil for a worker of one core.
    let processRows: Range<Int>?
    /// Where connections' reads land (one connection is read at a time).
    let scratch = Connection.makeScratch()

    // Standalone.
    let listeners: [FileDescriptor]
    /// What each listener speaks.
    let wires: [WireProtocol]
    /// The listeners in epoll now, with their registrations.
    var listening: [(fd: FileDescriptor, token: EventToken)] = []
    /// Standalone with more than one worker: ready keep-alive connections shared with the others.
    let readyPool: ReadyPool?
    var poolToken: EventToken?
    var accept: AcceptPolicy
    /// Idle keep-alive connections waiting in this worker's epoll for their next request.
    var parked: [ObjectIdentifier: Connection] = [:]

    // Zerg mode.
    let link: VassalLink?
    var linkToken: EventToken?
    /// Answers a waiting client when out of descriptors (standalone).
    let reserve = ReserveDescriptor()
    /// Client connections this worker holds at most (`max-connections`; each
    /// worker is a process with its own descriptor table). Standalone, past it
    /// a newcomer makes the longest-idle one close; seated, idle ones go back
    /// to the vassal.
    lazy var maxConnections = settings.maxConnectionsOption > 0 ? settings.maxConnectionsOption : max(64, DescriptorLimit.current - 64)
    /// Connections the vassal had handed over (queued on the link) when the
    /// link was lost: still this worker's to serve (see `linkLost`).
    var orphanedHandoffs: [HandedOver] = []
    /// Held connections the link was lost with: served if their client has
    /// sent something, else closed (see `linkLost`).
    var orphanedHeld: [Connection] = []
    /// The seat the vassal gave this worker (`HandoffMessage.seat`): while
    /// seated, keep-alive connections stay in this worker's epoll between
    /// requests (`hold`), identified by the number of their `connection`
    /// message on the link (`takenIDs` counts them).
    var seat: HandoffSeat?
    var takenIDs: UInt32 = 0
    struct HandedOver {
        let fd: FileDescriptor
        let host: String
        let port: UInt16
        let buffered: [UInt8]
        let wire: WireProtocol
        /// Its number on the link (see `takenIDs`).
        var id: UInt32 = 0
    }
    let build: String

    /// No new connections; idle ones close (or go to the pool when retiring).
    var stopping = false
    /// SIGTSTP on the master: take no new connections until resumed.
    var paused = false
    /// Retiring while the others go on: idle keep-alive connections go to the
    /// pool rather than being closed (a client may be sending on one right now).
    var retiring = false
    /// Asked the master for a replacement (max-requests, reload-on-rss...): once.
    var recycleRequested = false
    let startedNs = Host.monotonicNanoseconds()
    /// Connections this worker holds open (parked ones and the one being served).
    var openConnections = 0 {
        didSet { row?[.connections] = Int64(openConnections) }
    }

    /// Moving a connection through the pool costs about 20 µs of CPU: worth it
    /// for Django-sized requests, not for a hello world (measured: 104k → 55k
    /// req/s when every request moved). This worker queues its extra ready
    /// connections only while its requests take longer than this on average
    /// (and, attached, lets the vassal pack connections on CPU slots).
    static let poolWorthNs: UInt64 = 250_000
    /// Its requests are long enough for a move (see `poolWorthNs`).
    var requestsWorthAMove: Bool { runner.averageNs >= Self.poolWorthNs }
    /// How long a new connection may keep the worker waiting for its first bytes.
    static let firstBytesWaitMs: Int32 = 5

    init(id: Int, settings: ZergSettings, interpreter: Interpreter, control: WorkerControl, listeners: [FileDescriptor], wires: [WireProtocol],
         core: Int = 0, row: Scoreboard.Row?, processRows: Range<Int>? = nil, zergServer: String?, readyPool: ReadyPool?) throws {
        self.id = id
        self.processRows = processRows
        self.settings = settings
        self.interpreter = interpreter
        self.control = control
        self.listeners = listeners
        self.wires = wires
        self.row = row
        build = settings.build
        link = zergServer.map(VassalLink.init(path:))
        self.readyPool = listeners.isEmpty ? nil : readyPool
        accept = AcceptPolicy(row: listeners.isEmpty ? nil : row, attached: zergServer != nil && settings.threads == 1, cpuSlots: settings.cpuSlots, workers: settings.workers)
        runner = try RequestRunner(interpreter: interpreter, settings: settings, workerID: id, core: core, row: row)
        sources = try EventSources()
        controlToken = try sources.add(control.fd, .control)
        if let pool = self.readyPool { poolToken = try sources.add(pool.receiver, .pool, interest: .readableExclusive) }
        for listener in listeners { try listener.setNonBlocking() }
        runner.onReloadRequest = { [unowned self] in tellMaster(.reloadRequested) }
        try startListening()
    }

    func tellMaster(_ report: WorkerReport) {
        try? control.send(report)
    }

    /// Listeners in epoll exactly while this worker takes new connections:
    /// not when stopping, paused, or gated. EPOLLEXCLUSIVE: a new connection
    /// wakes one sleeping worker, not all of them.
    func syncListening() {
        let wanted = !stopping && !paused && !accept.gated && !listeners.isEmpty
        guard wanted != isListening else { return }
        if wanted {
            do {
                try startListening()
            } catch {
                // epoll_ctl(ADD) of a listener this process holds fails only when memory runs out.
                Log.info("cannot listen for new connections: \(error); stopping")
                beginStopping()
            }
        } else {
            for (fd, token) in listening { sources.remove(fd, token) }
            listening = []
        }
    }

    /// Every listener into epoll (all or none).
    func startListening() throws {
        do {
            for (i, listener) in listeners.enumerated() {
                listening.append((listener, try sources.add(listener, .listener(i), interest: .readableExclusive)))
            }
        } catch {
            for (fd, token) in listening { sources.remove(fd, token) }
            listening = []
            throw error
        }
    }

    var isListening: Bool { !listening.isEmpty }

    /// Serves one request: the CPU slot around it, then the runner.
    func handle(_ conn: Connection, _ head: HTTPRequestHead, uwsgi: UWSGIRequest? = nil) -> Bool {
        let slotUntil = accept.requestBegins(nowNs: Host.monotonicNanoseconds(), averageNs: runner.averageNs)
        seat?.computes(untilNs: slotUntil)
        defer {
            accept.requestEnds()
            seat?.publish(cpuSlots: accept.publishedSlots(requestsWorthAMove: requestsWorthAMove))
        }
        if !settings.staticFiles.isEmpty, let keep = Interpreter.withoutGIL({ runner.serveStatic(conn, head) }) { return keep }
        // A request thread runs without the GIL between requests (its network
        // work overlaps the other threads' Python); one thread holds it throughout.
        let keep = Interpreter.withGIL { runner.run(conn, head, uwsgi: uwsgi) }
        checkRecycle()
        return keep
    }
}
