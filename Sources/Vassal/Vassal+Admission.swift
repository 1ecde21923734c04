import Shared

/// Admission: how many new connections the vassal accepts in a turn.
///
/// A connection the vassal has accepted but not yet handed to a worker lives
/// only in this process: if the vassal dies (kill -9, a crash) it closes
/// unanswered. One still in the listening socket's backlog is safe: the
/// emperor holds a copy of the listener and the respawned vassal accepts it
/// (docs/emperor-protocol.md). So while workers are attached and making
/// progress, the vassal accepts only as many connections as they can take now
/// (a free worker takes one, and one more ahead of time; a busy worker with one
/// in hand takes one ahead), and the rest wait in the kernel, where they
/// outlive the vassal. (A connection whose head is not complete yet takes no
/// room: it is read under its own deadline, `RequestReading`.) Measured: kill -9 of the vassal under 16 clients lost
/// 13 requests queued here before; 0 with admission.
///
/// Listeners are registered edge-triggered (`readableEdge`): an arrival sets
/// `listenerPending`, which holds until accept says it would block, so a
/// backlog left waiting costs no wakeup and no epoll_ctl per request.
///
/// When no worker has freed up for `progressWindowNs` (all stuck, none
/// attached, or the app cannot load), the vassal accepts in bounded batches
/// as before: waiting clients then get `queue-timeout`'s 503, or the 503 of an
/// app that cannot load, rather than an unbounded wait in the backlog. The
/// window is a few seconds, not one: on a loaded machine a worker may take
/// over a second, and the backlog is the safer place to wait meanwhile.
extension Vassal {
    /// Without a worker freeing up for this long, clients are accepted into the
    /// vassal's queue (where `queue-timeout` and the queue bound apply).
    static let progressWindowNs: UInt64 = 5_000_000_000

    /// Accepts per turn when workers are not making progress (so that workers'
    /// messages are not starved by a connection flood).
    static let acceptBatch = 64

    /// How many complete requests workers can take now (nil: no limit but the
    /// batch, when admission does not apply).
    func dispatchRoom(now: UInt64) -> Int? {
        var room = 0
        var serving = false
        // A seated worker free now has made progress (it says nothing when a request ends).
        var seatedFree = false
        for w in workers.values where w.state == .free || w.state == .busy {
            if packing?.takes(w) ?? true { room += w.room }
            serving = true
            if w.seat != nil && w.room == 2 { seatedFree = true }
        }
        guard serving, appProblem == nil, seatedFree || now &- lastProgressNs < Self.progressWindowNs else { return nil }
        return room
    }

    /// Accepts from every listener with connections pending, while requests
    /// queued here stay within what workers can take (a connection whose head
    /// is not complete yet takes no room: it is read under its own deadline).
    /// True when the batch bound stopped it with connections maybe still
    /// pending (the loop then looks again without sleeping).
    func admit(now: UInt64) -> Bool {
        guard stopping == nil, listenerPending.contains(true) else { return false }
        // The slot holders as dispatch will see them: room for a worker that is no
        // longer one would leave the connection waiting here, where a crash loses it.
        updatePacking()
        let room = dispatchRoom(now: now)
        var accepted = 0
        // Complete requests taken on in this turn, handed or queued, and those queued
        // before it: together within `room` (counting only the queued ones, the turn
        // went on accepting once every worker had all it could take: measured, up to
        // 3 new connections of 8 clients waiting in the vassal, where a kill loses them).
        var taken = queueDepth
        for (i, listener) in listeners.enumerated() where listenerPending[i] {
            accepting: while accepted < Self.acceptBatch && taken < room ?? Int.max {
                let result: IOResult<AcceptedConnection>
                do {
                    result = try listener.accept()
                } catch where ReserveDescriptor.isExhaustion(error) {
                    // Out of descriptors: answer who waits rather than leave the backlog stuck.
                    let answer = HTTPResponseHead.simple(status: 503, message: "out of file descriptors", extraHeaders: [("Retry-After", "1")])
                    while accepted < Self.acceptBatch && reserve.shed(from: listener, answer: answer) {
                        accepted += 1
                        counters.shed += 1
                        shedSinceSweep.outOfDescriptors += 1
                    }
                    break accepting
                } catch {
                    break accepting  // the connection stays in the backlog; a later turn tries again
                }
                guard case .completed(let connection) = result else {
                    listenerPending[i] = false
                    break accepting
                }
                accepted += 1
                // At the cap (counted now: clients come and go within a turn), the
                // idle keep-alive connection silent longest makes room; with none,
                // the newcomer is told at once.
                if heldConnections >= maxConnections && !closeOldestIdle() {
                    connection.fd.answerAndClose(HTTPResponseHead.simple(
                        status: 503, message: "this server holds its maximum of \(maxConnections) connections (max-connections)",
                        extraHeaders: [("Retry-After", "1")]))
                    counters.shed += 1
                    shedSinceSweep.atCap += 1
                    continue
                }
                counters.accepted += 1
                let client = ClientConnection(fd: connection.fd, remote: (connection.host, connection.port), wire: settings.sockets[i].wire)
                client.id = newID()
                clients[client.id] = client
                // Most clients send their request with the connect: look before
                // epoll, and hand it on at once: until a worker has it, it lives
                // only in this process (a crash here would lose it).
                readable(client)
                if client.state == .queued {
                    taken += 1
                    dispatch()
                }
            }
        }
        if !listenerPending.contains(true) {
            backlogSinceNs = 0
        } else if backlogSinceNs == 0 {
            backlogSinceNs = now  // clients are left waiting there from now (see `newcomer(before:)`)
        }
        return accepted == Self.acceptBatch && listenerPending.contains(true)
    }

    /// At the cap: the idle keep-alive connection silent longest goes (its
    /// client reconnects when it has something to ask). False when none is idle.
    func closeOldestIdle() -> Bool {
        var oldest: ClientConnection?
        for c in clients.values where c.state == .reading && !c.reading.isStarted {
            if oldest.map({ c.sinceNs < $0.sinceNs }) ?? true { oldest = c }
        }
        guard let oldest else { return false }
        drop(oldest)
        counters.idleClosedForRoom += 1
        shedSinceSweep.idleClosed += 1
        return true
    }

    /// Client connections held: read or queued here, and handed to workers.
    var heldConnections: Int { clients.count + workers.values.reduce(0) { $0 + $1.inHand.count + $1.held.count } }

    /// One line per sweep for what admission had to refuse or close.
    func logShedding() {
        let s = shedSinceSweep
        if s.atCap > 0 { Log.info("\(s.atCap) new connection(s) answered 503: \(maxConnections) connections held (max-connections)") }
        if s.outOfDescriptors > 0 { Log.info("\(s.outOfDescriptors) new connection(s) answered 503: out of file descriptors (limit \(DescriptorLimit.current))") }
        if s.idleClosed > 0 { Log.info("\(s.idleClosed) idle keep-alive connection(s) closed to make room (max-connections \(maxConnections))") }
        if s.fdsLost > 0 {
            Log.info("\(s.fdsLost) connection(s) handed back by workers arrived without their fd (out of file descriptors); the vassal's own copies carried on")
        }
        shedSinceSweep = (0, 0, 0, 0)
    }

    /// Requests waiting for a worker: the vassal's queue, plus the listeners'
    /// backlogs while admission leaves connections there. Word 0 of the board
    /// (workers linger on keep-alive only while it is 0; the master's cheaper
    /// reads it as the backlog) and `listen_queue` in stats. The backlogs are
    /// read (TCP_INFO) at most once a millisecond, and only while some wait.
    func updateWaiting(now: UInt64) {
        if !listenerPending.contains(true) {
            backlog = 0
        } else if now &- backlogReadNs > 1_000_000 {
            backlog = zip(listeners, listenerPending).reduce(0) { $0 + ($1.1 ? $1.0.acceptBacklog() : 0) }
            backlogReadNs = now
        }
        waiting = queueDepth + backlog
    }
}
