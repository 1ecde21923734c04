import Shared

/// A connection's life in a worker: its requests served one after the
/// other, then, between requests, parked in this worker's epoll (standalone)
/// or handed back to the vassal (zerg mode); the ready pool that lets another
/// worker take a parked connection whose next request has arrived.
extension Worker {
    /// Reads what the client sent and serves every complete request in it;
    /// a connection that stays open is parked (or handed back).
    func serve(_ conn: Connection) {
        if conn.pending == 0 || conn.eventToken != nil {
            // Seated, a held connection's bytes land in the seat itself: killed before
            // it notes them, the vassal still finds them there (`HandoffSeat.landing`).
            let n = conn.readAvailable(landing: conn.handoffID != 0 && conn.pending == 0 ? seat?.landing : nil)
            if n == 0 {
                close(conn)
                return
            }
            if n != nil { copyToSeat(conn) }  // at once: the seat must show what was read
        }
        if conn.wire == .uwsgi { return serveUWSGI(conn) }
        // A parked connection stays registered while it is served (no epoll
        // calls per keep-alive request); it leaves epoll when it closes or moves.
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
                // A pipelined one: the seat shows its bytes (the first one's are there already).
                if conn.seatedAt != conn.requestsServed && (conn.read > 0 || conn.requestsServed > 0) { copyToSeat(conn) }
                conn.start += consumed
                let keep = handle(conn, head)
                conn.requestsServed += 1
                if conn.pending > 0 { conn.requestStartNs = Host.monotonicNanoseconds() }  // pipelined: the next one is here
                if !keep || (stopping && link == nil && !retiring) {
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

    /// A uwsgi-protocol connection (nginx's `uwsgi_pass`): one packet, one
    /// request, then the connection closes (nginx opens one per request).
    func serveUWSGI(_ conn: Connection) {
        while !conn.broken {
            let outcome = conn.buffer.withUnsafeBufferPointer {
                UWSGIRequest.parse(UnsafeBufferPointer(rebasing: $0[conn.start...]), limit: settings.bufferSize)
            }
            switch outcome {
            case .incomplete:
                conn.compact()
                if release(conn) { continue }
                return
            case .failed(let error):
                Log.info("\(conn.remote.host):\(conn.remote.port) (uwsgi): \(error)")
                conn.write(HTTPResponseHead.simple(status: error.status, message: error.reason, minorVersion: 0), timeoutMs: settings.socketTimeoutMs)
            case .complete(let request, let consumed):
                conn.start += consumed
                if request.modifier1 != UWSGIRequest.wsgiModifier {
                    Log.info("\(conn.remote.host):\(conn.remote.port) (uwsgi): modifier1 \(request.modifier1) is not served here "
                             + "(only 0, a WSGI request); closing the connection")
                } else {
                    _ = handle(conn, request.head, uwsgi: request)
                    conn.requestsServed += 1
                }
            }
            break
        }
        close(conn)
    }

    /// Between requests: standalone, the connection waits in this worker's
    /// epoll; attached to a vassal, it goes back there (after a short linger
    /// for a next request). True when more bytes arrived and serving goes on.
    func release(_ conn: Connection) -> Bool {
        guard link != nil else {
            park(conn)
            return false
        }
        if seat != nil && conn.handoffID != 0 {
            hold(conn)
            return false
        }
        return lingerOrHandBack(conn)
    }

    /// Keeps an open connection in epoll until its next bytes arrive.
    func park(_ conn: Connection) {
        guard conn.eventToken == nil else { return }
        do {
            conn.eventToken = try sources.add(conn.fd, .connection(conn))
            parked[ObjectIdentifier(conn)] = conn
        } catch {
            conn.close()
            openConnections -= 1
        }
    }

    /// Out of epoll (to be moved or closed).
    func unpark(_ conn: Connection) {
        guard let token = conn.eventToken else { return }
        sources.remove(conn.fd, token)
        conn.eventToken = nil
        parked[ObjectIdentifier(conn)] = nil
    }

    func close(_ conn: Connection) {
        unpark(conn)
        openConnections -= 1
        if link != nil {
            // The vassal still holds a copy until it reads `done`: FIN now, not then.
            conn.fd.shutdownWrite()
            conn.close()
            closed(id: conn.handoffID)
            return
        }
        conn.close()
    }

    /// Closes idle keep-alive connections past `http-timeout`, heads not
    /// complete within `http-headers-timeout` of their first byte (408), and
    /// every idle one when stopping (a retiring worker moves its idle ones to
    /// the pool instead).
    func sweepIdle(now: UInt64) {
        let keepAliveNs = UInt64(settings.keepAliveTimeoutSeconds) * 1_000_000_000
        var late = 0
        for conn in Array(parked.values) {
            if stopping && retiring && conn.pending == 0, let pool = readyPool, offer(conn, to: pool) { continue }
            let reading = conn.pending > 0 || conn.requestsServed == 0
            if reading && !stopping && settings.requestDeadlines.headOverrun(startNs: conn.requestStartNs, nowNs: now) {
                late += 1
                conn.write(HTTPResponseHead.simple(status: 408, message: "request head not received within \(settings.requestDeadlines.headSeconds) s (http-headers-timeout)"),
                           timeoutMs: 100)
                close(conn)
            } else if stopping || (!reading && now - conn.lastActiveNs > keepAliveNs) {
                close(conn)
            }
        }
        if late > 0 {
            runner.row?.board.add(.headTimeouts, Int64(late))
            Log.info("\(late) client(s) did not send a request head within \(settings.requestDeadlines.headSeconds) s: 408 (http-headers-timeout)")
        }
    }

    /// Closes the parked keep-alive connection idle longest (no request begun);
    /// false when none is idle.
    func closeOldestIdle() -> Bool {
        guard let oldest = parked.values.filter({ $0.pending == 0 && $0.requestsServed > 0 }).min(by: { $0.lastActiveNs < $1.lastActiveNs })
        else { return false }
        close(oldest)
        return true
    }

    /// Takes one connection from listener `index` and serves it; false when none was waiting.
    @discardableResult
    func acceptOne(_ index: Int) -> Bool {
        let listener = listeners[index]
        // One at a time: a worker busy with requests leaves new connections to idle workers.
        let result: IOResult<AcceptedConnection>
        do {
            result = try listener.accept()
        } catch where ReserveDescriptor.isExhaustion(error) {
            // Out of descriptors: the waiting client gets a 503 now, and the
            // listener (level-triggered) does not wake this worker in a loop.
            let answer = HTTPResponseHead.simple(status: 503, message: "out of file descriptors", extraHeaders: [("Retry-After", "1")])
            if reserve.shed(from: listener, answer: answer) {
                Log.info("out of file descriptors (limit \(DescriptorLimit.current)): a new connection was answered 503")
                return true
            }
            return false
        } catch {
            return false
        }
        guard case .completed(let accepted) = result else { return false }
        // At the cap: the longest-idle keep-alive connection makes room, else the newcomer is told 503.
        if openConnections >= maxConnections && !closeOldestIdle() {
            accepted.fd.answerAndClose(HTTPResponseHead.simple(
                status: 503, message: "this worker holds its maximum of \(maxConnections) connections (max-connections)",
                extraHeaders: [("Retry-After", "1")]))
            return true
        }
        openConnections += 1
        let conn = Connection(fd: accepted.fd, remote: (accepted.host, accepted.port), wire: wires[index], scratch: scratch)
        // A client usually sends its request right after connecting: wait a
        // moment for it rather than going back to epoll (and to more accepts).
        if conn.readAvailable() == nil {
            _ = Interpreter.withoutGIL { try? accepted.fd.wait(timeoutMs: Self.firstBytesWaitMs) }
        }
        serve(conn)
        return true
    }

    // MARK: the ready pool

    /// Serves the connections whose next request has arrived. With a ready pool
    /// the requests waiting there came first: this worker queues its own behind
    /// them and takes the oldest. With the pool empty it serves one of its own
    /// and queues the rest for whichever worker comes free first. So requests
    /// are served in arrival order across workers, as from one queue, and none
    /// waits on a busy or descheduled worker while another is free.
    func serveReady(_ ready: [Connection], poolReady: Bool) {
        guard let pool = readyPool, !stopping, requestsWorthAMove else {
            for conn in ready { serve(conn) }
            if poolReady && !retiring { serveFromPool() }
            return
        }
        if accept.gated && passesReadyWhenGated {
            // The slot holders serve them (what the pool cannot take is served here).
            for conn in ready where !offer(conn, to: pool) { serve(conn) }
            if poolReady { passOnPoolWakeup(pool) }
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

    /// CPU slots with the ready pool (requests worth a move): a gated worker
    /// passes the keep-alive requests that come ready on its connections to
    /// the slot holders through the pool, and takes nothing from it, so only
    /// `cpu-slots` workers compute and keep-alive clients gather on them.
    /// Why: they otherwise stay spread over every worker as they connected,
    /// and all compute at once. Measured (Django keep-alive, 32 clients, 4
    /// workers, 2 cores, 5 paired rounds against the build before): 3,320–3,761
    /// req/s against 3,019–3,432, p99 11.1–13.2 ms in 4 rounds (44.5 in one)
    /// against 17.3–19.5.
    var passesReadyWhenGated: Bool {
        readyPool != nil && !retiring && !stopping && requestsWorthAMove
    }

    /// The pool in epoll exactly while this worker takes from it: not when
    /// retiring, nor while gated and passing (`passesReadyWhenGated`).
    func syncPool() {
        guard let pool = readyPool, !retiring else { return }
        let wanted = !(accept.gated && passesReadyWhenGated)
        if wanted, poolToken == nil {
            poolToken = try? sources.add(pool.receiver, .pool, interest: .readableExclusive)
        } else if !wanted, let token = poolToken {
            sources.remove(pool.receiver, token)
            poolToken = nil
        }
    }

    /// This worker was woken for the pool and found itself gated: the wake-up
    /// was its alone (EPOLLEXCLUSIVE), so a slot holder asleep in epoll would
    /// not see the waiting connection until the pool's next arrival. The
    /// oldest goes round the pool again, which wakes one of them. Measured
    /// (Django keep-alive, 4 workers, 2 slots): p99 9.4–14.0 ms in 24 of 24
    /// paired rounds, against 5 of 24 at 21–44 ms without it; doing it only
    /// when this worker offered none of its own (which wake holders too)
    /// brought 3 bad rounds of 8 back, so it is done every time.
    func passOnPoolWakeup(_ pool: ReadyPool) {
        guard let conn = pool.take(scratch: scratch) else { return }
        if pool.offer(conn) {
            conn.close()
        } else {
            openConnections += 1
            serve(conn)
        }
    }

    /// Moves a parked connection to the pool; false when it stays (bytes
    /// already read here, or the pool is full).
    func offer(_ conn: Connection, to pool: ReadyPool) -> Bool {
        // The pool carries HTTP keep-alive connections only (a uwsgi one serves one request).
        guard conn.wire == .http, conn.pending == 0, !conn.broken, pool.offer(conn) else { return false }
        close(conn)  // out of epoll first: the queued copy keeps the file open
        return true
    }

    /// Serves the oldest connection in the pool; false when it was empty.
    @discardableResult
    func serveFromPool() -> Bool {
        guard let conn = readyPool?.take(scratch: scratch) else { return false }
        openConnections += 1
        serve(conn)
        return true
    }
}
