#if canImport(Glibc)
import Glibc
#endif
import PythonGlue
import Shared

/// The request being served (a worker serves one at a time).
final class RequestState {
    let conn: Connection
    let head: HTTPRequestHead
    let body: RequestBody
    let response: Response
    var logvars: [String: String] = [:]
    var continuePending: Bool

    init(conn: Connection, head: HTTPRequestHead, body: RequestBody, response: Response) {
        self.conn = conn
        self.head = head
        self.body = body
        self.response = response
        continuePending = head.expectsContinue
    }
}

/// A worker process: one interpreter, one app, an epoll loop over the shared
/// listening sockets and its own connections. Idle keep-alive connections wait
/// in epoll; a request runs the app synchronously, as uWSGI's workers do.
final class Worker {
    nonisolated(unsafe) static var shared: Worker?

    let id: Int
    let settings: ZergSettings
    let interpreter: Interpreter
    let control: FileDescriptor
    let listeners: [FileDescriptor]
    let epoll: Epoll
    var environ: EnvironBuilder!
    let requestLog: RequestLog?

    var connections: [UInt64: Connection] = [:]
    /// Attached to a vassal (zerg mode): the link connections arrive on.
    var link: HandoffLink?
    /// The vassal's shared page (queue depth in word 0), received with `welcome`.
    var vassalBoard: SharedMemory?
    let zergServer: String?
    let build: String
    var request: RequestState?
    var nextToken: UInt64 = 16
    var stopping = false
    var requestsServed = 0
    var exceptions = 0
    let startedNs = Host.monotonicNanoseconds()
    /// Asked the master for a replacement (max-requests, reload-on-rss...): once.
    var recycleRequested = false
    /// Status of the last response (warm-up reports it).
    var lastStatus = 0
    /// Warm-up requests are not logged as client requests.
    var warmingUp = false
    /// SIGTSTP on the master: take no new connections until resumed.
    var paused = false
    var memory: (rss: Int64, vsz: Int64) = (0, 0)
    /// Shared with the master and the other workers: balances accepts.
    let scoreboard: Scoreboard?
    let row: Int
    /// Connections this worker holds open (parked ones and the one being served).
    var openConnections = 0 {
        didSet { scoreboard?[row, .connections] = Int64(openConnections) }
    }
    /// Since when this worker, busy and holding more than its share, has left
    /// a waiting connection to the others (nil: it has not).
    var leftConnectionSince: UInt64?
    /// How long a busy worker leaves a new connection to the others before taking it itself.
    static let leaveToOthersNs: UInt64 = 10_000_000

    /// Standalone with more than one worker: ready keep-alive connections shared with the others.
    let readyPool: ReadyPool?
    /// Moving a connection through the pool costs about 20 µs of CPU: worth it
    /// for Django-sized requests, not for a hello world (measured: 104k → 55k
    /// req/s when every request moved). This worker queues its extra ready
    /// connections only while its requests take longer than this on average.
    static let poolWorthNs: UInt64 = 250_000
    /// Moving average of this worker's request times (1/8 weight to the newest).
    var requestNsAverage: UInt64 = 0
    /// Retiring while the others go on: idle keep-alive connections go to the
    /// pool rather than being closed (a client may be sending on one right now).
    var handsOver = false
    /// Standalone: at most `cpu-slots` workers of a CPU-bound app compute at once.
    var gate: CPUGate
    /// The gate is closed for this worker: enough others are computing.
    var gated = false
    /// When to look at the gate again while it is closed (the earliest slot deadline).
    var gateRecheckNs: UInt64 = 0
    /// The listeners are in this worker's epoll.
    var listening = false

    static let controlToken: UInt64 = 1
    static let poolToken: UInt64 = 1 << 40
    static let listenerTokenBase: UInt64 = 2

    init(id: Int, settings: ZergSettings, interpreter: Interpreter, control: FileDescriptor, listeners: [FileDescriptor],
         scoreboard: (Scoreboard, Int)?, zergServer: String?, build: String, readyPool: ReadyPool? = nil) throws {
        self.id = id
        self.zergServer = zergServer
        self.build = build
        self.scoreboard = scoreboard?.0
        row = scoreboard?.1 ?? 0
        self.settings = settings
        self.interpreter = interpreter
        self.control = control
        self.listeners = listeners
        self.readyPool = listeners.isEmpty ? nil : readyPool
        gate = CPUGate(slots: listeners.isEmpty || scoreboard == nil ? 0 : settings.cpuSlots, workers: settings.workers)
        epoll = try Epoll()
        try epoll.add(control, token: Self.controlToken)
        if let pool = self.readyPool { try epoll.addExclusive(pool.receiver, token: Self.poolToken) }
        for listener in listeners { try listener.setNonBlocking() }
        if settings.disableLogging {
            requestLog = nil
        } else {
            let destination = try settings.requestLogger.map {
                try FileDescriptor.open($0, O_WRONLY | O_CREAT | O_APPEND, mode: 0o640)
            } ?? Log.destination
            requestLog = RequestLog(format: settings.logFormat, xForwardedFor: settings.logXForwardedFor, destination: destination,
                                    memoryReport: settings.lifecycle.memoryReport)
        }
        try listen()
    }

    func tellMaster(_ message: String) {
        try? control.writeAll(message + "\n")
    }

    /// Serves until told to stop; returns the exit status.
    func run() -> Int32 {
        environ = EnvironBuilder(interpreter: interpreter)
        var lastSweep = Host.monotonicNanoseconds()
        while true {
            if gate.isOn { updateGate() }
            // Under load something is always ready: look without giving up the
            // GIL, and release it (for the app's own threads) only to sleep.
            var events = (try? epoll.wait(timeoutMilliseconds: 0)) ?? []
            // About to sleep: a worker that is running (its caches warm) takes a
            // waiting connection itself rather than leave it to a sleeping one.
            if events.isEmpty && listening && link == nil && listeners.contains(where: { accept($0) }) {
                continue
            }
            if events.isEmpty {
                if gate.isOn { scoreboard?[row, .computeUntil] = 0 }  // nothing to do: the slot is free
                interpreter.releaseGIL()
                events = (try? epoll.wait(timeoutMilliseconds: gated ? gateWaitMs() : 1000)) ?? []
                interpreter.acquireGIL()
                if gate.isOn { updateGate() }
            }
            // Connections first, new ones last: a request already here is served
            // before more clients are taken on.
            var accepting: UInt64 = 0  // listener indexes, as bits (no array per turn)
            var ready: [Connection] = []
            var poolReady = false
            for event in events {
                switch event.token {
                case Self.controlToken:
                    readControl()
                case Self.listenerTokenBase..<(Self.listenerTokenBase + UInt64(listeners.count)):
                    let index = event.token - Self.listenerTokenBase
                    accepting |= index < 64 ? 1 << index : ~0
                case Self.poolToken:
                    poolReady = true
                default:
                    if let conn = connections[event.token] { ready.append(conn) }
                }
            }
            serveReady(ready, poolReady: poolReady)
            if accepting != 0 && listening && takesNewConnection(busy: !ready.isEmpty || poolReady) {
                for (i, listener) in listeners.enumerated() where i >= 64 || accepting & (1 << UInt64(i)) != 0 {
                    accept(listener)
                }
            }
            let now = Host.monotonicNanoseconds()
            if now - lastSweep > 1_000_000_000 || stopping {
                sweepIdle(now: now)
                lastSweep = now
            }
            if stopping && connections.isEmpty {
                if handsOver { return 0 }  // what is queued is the others' now
                // Stopping with the others: a last look at the shared queue, so that
                // what they left there is served, not dropped. Bounded, in case some
                // worker is still filling it.
                let deadline = Host.monotonicNanoseconds() + 100_000_000
                while Host.monotonicNanoseconds() < deadline, serveFromPool() {}
                return 0
            }
        }
    }

    /// Serves the connections whose next request has arrived. With a ready pool
    /// the requests waiting there came first: this worker queues its own behind
    /// them and takes the oldest. With the pool empty it serves one of its own
    /// and queues the rest for whichever worker comes free first. So requests
    /// are served in arrival order across workers, as from one queue, and none
    /// waits on a busy or descheduled worker while another is free.
    func serveReady(_ ready: [Connection], poolReady: Bool) {
        guard let pool = readyPool, !stopping, requestNsAverage >= Self.poolWorthNs else {
            for conn in ready { serve(conn) }
            if poolReady && !handsOver { serveFromPool() }
            return
        }
        var mine = ready
        if poolReady {
            if !mine.isEmpty { mine = mine.filter { !offer($0, to: pool) } }
            serveFromPool()
        } else if mine.count > 1 {
            let first = mine.removeFirst()
            mine = [first] + mine.filter { !offer($0, to: pool) }
        }
        for conn in mine { serve(conn) }
    }

    /// Moves a parked connection to the pool; false when it stays (bytes
    /// already read here, or the pool is full).
    func offer(_ conn: Connection, to pool: ReadyPool) -> Bool {
        guard conn.pending == 0, !conn.broken, pool.offer(conn) else { return false }
        epoll.remove(conn.fd)  // before close: the queued copy keeps the file open
        close(conn)
        return true
    }

    /// Serves the oldest connection in the pool; false when it was empty.
    @discardableResult
    func serveFromPool() -> Bool {
        guard let conn = readyPool?.take() else { return false }
        openConnections += 1
        serve(conn)
        return true
    }

    func readControl() {
        guard let bytes = try? control.readAvailable(max: 64) else { return }
        if bytes.contains(UInt8(ascii: "l")) { reopenLog() }
        for byte in bytes where byte == UInt8(ascii: "p") || byte == UInt8(ascii: "r") {
            setPaused(byte == UInt8(ascii: "p"))
        }
        if bytes.contains(UInt8(ascii: "m")), let pool = readyPool, !handsOver {
            handsOver = true
            epoll.remove(pool.receiver)  // it gives connections to the pool now, takes none
        }
        if bytes.isEmpty || bytes.contains(UInt8(ascii: "q")) || handsOver {
            // Graceful stop (or the master is gone): no new connections; idle ones
            // close, or go to the other workers when only this one is leaving.
            stopping = true
            syncListening()
        }
    }

    /// Keep-alive clients stay with the worker that accepted them: a busy worker
    /// holding more connections than the average leaves a new one to the others,
    /// for at most `leaveToOthersNs` (so nothing waits on a worker stuck in a
    /// long request). An idle worker takes it at once. When stopping, it takes
    /// what its EPOLLEXCLUSIVE wake-up gave it (the others were not woken).
    func takesNewConnection(busy: Bool) -> Bool {
        guard busy && !stopping && holdsMoreThanItsShare else {
            leftConnectionSince = nil
            return true
        }
        let now = Host.monotonicNanoseconds()
        guard let since = leftConnectionSince else {
            leftConnectionSince = now
            return false
        }
        if now - since < Self.leaveToOthersNs { return false }
        leftConnectionSince = nil
        return true
    }

    /// Takes one connection from `listener` and serves it; false when none was waiting.
    @discardableResult
    func accept(_ listener: FileDescriptor) -> Bool {
        // One at a time: a worker busy with requests leaves new connections to idle workers.
        guard let (fd, host, port) = try? listener.acceptWithPeer() else { return false }
        openConnections += 1
        let conn = Connection(fd: fd, remote: (host, port))
        // A client usually sends its request right after connecting: wait a
        // moment for it rather than going back to epoll (and to more accepts).
        if conn.readAvailable() == nil {
            interpreter.releaseGIL()
            _ = try? fd.wait(timeoutMs: Self.firstBytesWaitMs)
            interpreter.acquireGIL()
        }
        serve(conn)
        return true
    }

    /// This worker's open connections and the average worker's (rounded down),
    /// from the scoreboard; nil when it is the only worker.
    var connectionShare: (mine: Int64, average: Int64)? {
        guard let sb = scoreboard else { return nil }
        let (total, workers) = sb.connectionTotals()
        return workers > 1 ? (Int64(openConnections), total / workers) : nil
    }

    /// More open connections than the average worker of this zerg.
    var holdsMoreThanItsShare: Bool { connectionShare.map { $0.mine > $0.average } ?? false }

    /// Fewer open connections than the average worker (with one-request
    /// connections that average is 0, and this is never true).
    var holdsLessThanItsShare: Bool { connectionShare.map { $0.mine < $0.average } ?? false }

    /// Pause: standalone, the listeners leave epoll; attached, the worker
    /// drains from the vassal (and reattaches on resume).
    func setPaused(_ on: Bool) {
        guard on != paused, !stopping else { return }
        paused = on
        Log.info(on ? "paused: taking no new connections" : "resumed")
        guard link == nil && zergServer == nil else { return }
        syncListening()
    }

    /// Puts the listeners in this worker's epoll, EPOLLEXCLUSIVE: a new
    /// connection wakes one sleeping worker, not all of them.
    func listen() throws {
        for (i, listener) in listeners.enumerated() {
            try epoll.addExclusive(listener, token: Self.listenerTokenBase + UInt64(i))
        }
        listening = !listeners.isEmpty
    }

    /// Listeners in epoll exactly while this worker takes new connections:
    /// not when stopping, paused, or gated.
    func syncListening() {
        let wanted = !stopping && !paused && !gated && !listeners.isEmpty
        guard wanted != listening else { return }
        if wanted {
            try? listen()
        } else {
            for listener in listeners { epoll.remove(listener) }
            listening = false
        }
    }

    /// Closes the gate while `cpu-slots` other workers compute, opens it when
    /// one of them finishes or overruns its deadline.
    func updateGate() {
        guard let sb = scoreboard else { return }
        let (computing, earliest) = sb.computing(excluding: row, nowNs: Host.monotonicNanoseconds())
        // Keep-alive clients stay with the worker that accepts them: one holding
        // fewer than its share takes new ones anyway, or they would all end up
        // with the computing workers.
        gated = computing >= gate.slots && !holdsLessThanItsShare
        gateRecheckNs = earliest
        if gated { sb[row, .computeUntil] = 0 }
        syncListening()
    }

    /// A gated worker sleeps until the earliest slot deadline (1 ms at least).
    func gateWaitMs() -> Int32 {
        let now = Host.monotonicNanoseconds()
        guard gateRecheckNs > now else { return 1 }
        return Int32(clamping: min(1000, max(1, (gateRecheckNs - now + 999_999) / 1_000_000)))
    }

    /// Keeps an open connection in epoll until its next bytes arrive.
    func park(_ conn: Connection) {
        guard conn.token == 0 else { return }
        conn.token = nextToken
        nextToken += 1
        do {
            try epoll.add(conn.fd, token: conn.token)
            connections[conn.token] = conn
        } catch {
            conn.close()
            openConnections -= 1
        }
    }

    /// How long a new connection may keep the worker waiting for its first bytes.
    static let firstBytesWaitMs: Int32 = 5

    func close(_ conn: Connection) {
        // close(2) also drops it from epoll: nothing else shares the open file.
        if conn.token != 0 { connections[conn.token] = nil }
        if link != nil {
            // The vassal still holds a copy until it reads `done`: FIN now, not then.
            conn.fd.shutdownWrite()
            conn.close()
            openConnections -= 1
            tellVassal(.done)
            return
        }
        conn.close()
        openConnections -= 1
    }

    /// Between requests: standalone, the connection waits in this worker's
    /// epoll; attached to a vassal, it goes back there (after a short linger
    /// for a next request). True when more bytes arrived and serving goes on.
    func release(_ conn: Connection) -> Bool {
        guard link != nil else {
            park(conn)
            return false
        }
        return lingerOrHandBack(conn)
    }

    /// Closes idle keep-alive connections past `http-timeout`, half-sent heads
    /// past `socket-timeout`, and every idle one when stopping.
    func sweepIdle(now: UInt64) {
        let keepAliveNs = UInt64(settings.keepAliveTimeoutSeconds) * 1_000_000_000
        let partialNs = UInt64(settings.socketTimeoutMs) * 1_000_000
        for conn in Array(connections.values) {
            let idle = now - conn.lastActiveNs
            if stopping && handsOver && conn.pending == 0, let pool = readyPool, offer(conn, to: pool) { continue }
            if stopping || idle > (conn.pending > 0 ? partialNs : keepAliveNs) {
                if conn.pending > 0 && !stopping {
                    conn.write(HTTPResponseHead.simple(status: 408, message: "request head not completed in time"), timeoutMs: 100)
                }
                close(conn)
            }
        }
    }

    /// Reads what the client sent and serves every complete request in it;
    /// a connection that stays open is parked in epoll.
    func serve(_ conn: Connection) {
        if conn.pending == 0 || conn.token != 0 {
            if case .some(0) = conn.readAvailable() {
                close(conn)
                return
            }
        }
        while !conn.broken {
            let outcome = conn.buffer.withUnsafeBufferPointer {
                HTTPHeadParser.parse(UnsafeBufferPointer(rebasing: $0[conn.start...]), limit: settings.bufferSize)
            }
            switch outcome {
            case .incomplete:
                conn.compact()
                if release(conn) { continue }
                return
            case .failed(let error):
                Log.info("\(conn.remote.host):\(conn.remote.port): \(error)")
                conn.write(HTTPResponseHead.simple(status: error.status, message: error.reason), timeoutMs: settings.socketTimeoutMs)
                close(conn)
                return
            case .complete(let head, let consumed):
                conn.start += consumed
                let keep = handle(conn, head)
                conn.requestsServed += 1
                if !keep || (stopping && link == nil && !handsOver) {
                    close(conn)
                    return
                }
                if conn.pending == 0 || stopping {
                    conn.compact()
                    if release(conn) { continue }
                    return
                }
            }
        }
        close(conn)
    }

    func sendContinueIfExpected(_ r: RequestState) {
        guard r.continuePending else { return }
        r.continuePending = false
        if r.conn.pending == 0 && r.body.unread > 0 {
            r.conn.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8), timeoutMs: settings.socketTimeoutMs)
        }
    }

    /// Runs one request through the app; returns whether the connection stays open.
    func handle(_ conn: Connection, _ head: HTTPRequestHead) -> Bool {
        let startNs = Host.monotonicNanoseconds()
        let startTime = requestLog == nil ? Timestamp(seconds: 0, nanoseconds: 0) : Timestamp.now()  // for the log line only
        if let sb = scoreboard {
            head.bytes.withUnsafeBytes { sb.beginRequest(row: row, text: UnsafeRawBufferPointer(rebasing: $0[head.method.lowerBound..<head.target.upperBound])) }
        }
        if gate.isOn {
            // Held past the request's end: a worker that goes on to its next
            // request keeps its CPU (and its warm caches); it frees the slot
            // when it runs out of work, or at the deadline. A gated worker
            // serving a keep-alive client it already holds computes without a
            // slot: the slot holders must stay free to accept new clients.
            let until = gate.begin(nowNs: startNs, averageNs: requestNsAverage)
            scoreboard?[row, .computeUntil] = gated ? 0 : Int64(until)
        }
        defer {
            scoreboard?.endRequest(row: row)
            if gate.isOn { gate.end() }
        }
        let body = RequestBody(head.framing)
        let response = Response(conn: conn, head: head, timeoutMs: settings.socketTimeoutMs)
        let state = RequestState(conn: conn, head: head, body: body, response: response)
        var contentLength: Int?
        if head.framing == .chunked {
            sendContinueIfExpected(state)
            switch RequestBody.decodeChunked(from: conn, timeoutMs: settings.socketTimeoutMs) {
            case .success(let bytes):
                body.source = .decoded(bytes, offset: 0)
                contentLength = bytes.count
            case .failure(let error):
                Log.info("\(conn.remote.host):\(conn.remote.port): \(error)")
                response.sendError(error.status, error.reason)
                logRequest(state, startNs: startNs, startTime: startTime)
                return false
            }
        }
        request = state
        defer { request = nil }

        let input = pg_call(interpreter.inputType, emptyTuple, nil)!
        let env = environ.build(head: head, conn: conn, input: input, contentLength: contentLength)
        let result = pg_call2(interpreter.app!, env, interpreter.startResponse)
        if let result {
            emit(result, state)
            callClose(result)
            pg_decref(result)
        } else {
            appFailed(state)
        }
        pg_decref(env)
        pg_decref(input)
        response.finish()
        requestsServed += 1
        lastStatus = response.statusCode
        scoreboard?[row, .requests] = Int64(requestsServed)
        if settings.lifecycle.samplesMemory { sampleMemory() }
        let elapsedNs = Host.monotonicNanoseconds() - startNs
        requestNsAverage = requestNsAverage - requestNsAverage / 8 + elapsedNs / 8
        if let sb = scoreboard {
            sb.add(row: row, .busyMicros, Int64(elapsedNs / 1000))
            sb.add(row: row, .tx, Int64(response.headBytes + response.bodyBytes))
            if let board = vassalBoard { sb[row, .backlog] = board[0] }
        }
        logRequest(state, startNs: startNs, startTime: startTime)
        checkRecycle()

        var keep = response.keepAlive && !conn.broken
        if keep && state.continuePending && body.unread > 0 {
            keep = false  // the client may still be waiting to send a body nobody asked for
        }
        if keep && !body.discardRest(from: conn, timeoutMs: settings.socketTimeoutMs) { keep = false }
        return keep
    }

    lazy var emptyTuple: PyPtr = pg_tuple_new(0)!

    /// Sends what the app returned.
    func emit(_ result: PyPtr, _ r: RequestState) {
        let response = r.response
        if pg_is_list(result) != 0 || pg_is_tuple(result) != 0 {
            let count = pg_sequence_size(result)
            var total = 0
            for i in 0..<count {
                let item = pg_sequence_item(result, i)!
                guard pg_is_bytes(item) != 0 else {
                    pg_set_error(Int32(PG_TYPE_ERROR), "the app's response iterable yielded a non-bytes item (item \(i))")
                    return appFailed(r)
                }
                total += pg_bytes_size(item)
            }
            guard response.status != nil else {
                pg_set_error(Int32(PG_ASSERTION_ERROR), "the app returned without calling start_response()")
                return appFailed(r)
            }
            for i in 0..<count {
                let item = pg_sequence_item(result, i)!
                let piece = UnsafeRawBufferPointer(start: pg_bytes_data(item), count: pg_bytes_size(item))
                let ok = response.headersSent ? response.sendBody(piece) : response.sendHead(knownLength: total, first: piece)
                if !ok { return }
            }
            if !response.headersSent { response.sendHead(knownLength: 0) }
            return
        }
        if pg_is_instance(result, interpreter.fileWrapperType) != 0, sendFile(result, r) { return }
        guard let iterator = pg_iter(result) else { return appFailed(r) }
        defer { pg_decref(iterator) }
        while let item = pg_next(iterator) {
            defer { pg_decref(item) }
            guard pg_is_bytes(item) != 0 else {
                pg_set_error(Int32(PG_TYPE_ERROR), "the app's response iterable yielded a non-bytes item")
                return appFailed(r)
            }
            guard response.status != nil else {
                pg_set_error(Int32(PG_ASSERTION_ERROR), "the app yielded a body before calling start_response()")
                return appFailed(r)
            }
            let piece = UnsafeRawBufferPointer(start: pg_bytes_data(item), count: pg_bytes_size(item))
            if piece.isEmpty && !response.headersSent { continue }  // PEP 3333: empty strings do not start the response
            let ok = response.headersSent ? response.sendBody(piece) : response.sendHead(knownLength: nil, first: piece)
            if !ok { return }  // the client is gone: stop iterating (close() is still called)
        }
        if pg_error_pending() != 0 { return appFailed(r) }
        guard response.status != nil else {
            pg_set_error(Int32(PG_ASSERTION_ERROR), "the app returned without calling start_response()")
            return appFailed(r)
        }
        if !response.headersSent { response.sendHead(knownLength: 0) }
    }

    /// wsgi.file_wrapper over a real file: sendfile(2) from its current offset.
    func sendFile(_ wrapper: PyPtr, _ r: RequestState) -> Bool {
        guard r.response.status != nil, let filelike = pg_getattr(wrapper, "filelike") else { pg_error_clear(); return false }
        defer { pg_decref(filelike) }
        guard pg_hasattr(filelike, "fileno") != 0, let number = pg_call_method0(filelike, "fileno") else { pg_error_clear(); return false }
        let raw = Int32(truncatingIfNeeded: pg_long_value(number))
        pg_decref(number)
        if pg_error_pending() != 0 { pg_error_clear(); return false }
        guard let st = try? FileSystem.status("/proc/self/fd/\(raw)"), st.isRegularFile else { return false }
        let file = FileDescriptor(rawValue: raw)
        var offset = Int64(lseek(raw, 0, SEEK_CUR))
        if offset < 0 { offset = 0 }
        let length = Int(max(0, st.size - offset))
        let response = r.response
        guard response.sendHead(knownLength: length) else { return true }
        guard response.bodyAllowed else { return true }
        var remaining: Int
        if case .length(let n) = response.framing { remaining = min(n, length) } else { remaining = length }
        while remaining > 0 && !r.conn.broken {
            do {
                if let sent = try r.conn.fd.sendFile(from: file, offset: &offset, count: remaining) {
                    if sent == 0 { break }
                    remaining -= sent
                    response.bodyBytes += sent
                } else if (try? r.conn.fd.wait(writable: true, timeoutMs: settings.socketTimeoutMs)) != true {
                    r.conn.broken = true
                }
            } catch {
                r.conn.broken = true
            }
        }
        return true
    }

    /// The iterable's close() is always called, whatever happened.
    func callClose(_ result: PyPtr) {
        if pg_call_close(result) < 0, let e = Py.fetchException() {
            Log.info("the response iterable's close() raised \(e.summary)\n\(e.traceback)")
        }
    }

    /// The app raised: a 500 if nothing was sent yet, else the connection closes.
    func appFailed(_ r: RequestState) {
        exceptions += 1
        scoreboard?[row, .exceptions] = Int64(exceptions)
        let e = Py.fetchException()
        let what = "\(r.head.methodText) \(r.head.targetText)"
        if let e { Log.info("exception in the app (\(what)): \(e.summary)\n\(e.traceback)", terminator: "") }
        if !r.response.headersSent {
            if let bodyError = r.body.error {
                r.response.sendError(bodyError.status, bodyError.reason)
            } else {
                r.response.sendError(500, "The application raised an exception; details are in the server log.")
            }
        } else {
            r.response.keepAlive = false
            r.conn.broken = true
        }
    }

    func logRequest(_ r: RequestState, startNs: UInt64, startTime: Timestamp) {
        guard let log = requestLog, !warmingUp else { return }
        log.write(RequestRecord(
            head: r.head, remote: r.conn.remote.host, status: r.response.statusCode, bodyBytes: r.response.bodyBytes,
            headBytes: r.response.headBytes, startTime: startTime, durationNs: Host.monotonicNanoseconds() - startNs,
            workerID: id, requestsByWorker: requestsServed, varCount: r.head.fields.count + 17, logvars: r.logvars,
            rss: memory.rss, vsz: memory.vsz))
    }
}
