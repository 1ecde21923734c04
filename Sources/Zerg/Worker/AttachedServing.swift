import Shared

/// Zerg mode, the worker's side: attaching to the vassal, connections handed
/// over, and each one given back idle or closed between requests.
extension Worker {
    /// How long a worker waits for a keep-alive client's next request before
    /// handing the connection back: wrk-style clients send it within microseconds.
    var lingerMs: Int32 { settings.keepAliveLingerMs }

    /// Connects and says hello; false when the vassal is not there (yet).
    /// Throws `VassalLink.Refused`.
    func attach() throws -> Bool {
        guard let link else { return false }
        let hello = HandoffMessage.hello(pid: Host.pid, worker: Int32(id), build: build)
        guard let board = try link.attach(hello: hello), let fd = link.fd else { return false }
        if link.vassalVersion >= HandoffMessage.dueVersion {
            _ = link.tell(.understands(version: link.spokenVersion))
        }
        do {
            linkToken = try sources.add(fd, .link)
        } catch {
            board.release()
            link.close()
            return false
        }
        runner.vassalBoard?.release()  // the page of the vassal attached to before
        runner.vassalBoard = board
        takenIDs = 0
        return true
    }

    /// Retries `attach` with backoff (50 ms doubling to 1 s) until it works or
    /// the master says stop. Returns whether attached.
    func attachWithRetry() throws -> Bool {
        var delayMs: Int32 = 50
        var logged = false
        while !stopping {
            if try attach() { return true }
            if !logged {
                Log.info("waiting for the vassal at \(link?.path ?? "?")")
                logged = true
            }
            waitForOrders(timeoutMs: delayMs)
            delayMs = min(delayMs * 2, 1000)
        }
        return false
    }

    /// Sends to the vassal; a failure means the link is gone.
    @discardableResult
    func tellVassal(_ message: HandoffMessage, fd: FileDescriptor? = nil) -> Bool {
        guard let link, link.isAttached else { return false }
        if link.tell(message, fd: fd) { return true }
        linkLost()
        return false
    }

    /// The link is over (the vassal went away, broke the protocol, or said `bye`).
    /// Connections the vassal handed over before it went (given ahead of time)
    /// are still queued on the link: they are taken off it and served, not
    /// dropped with it (a killed vassal loses none of them).
    func linkLost(quietly: Bool = false) {
        guard let link, let fd = link.fd else { return }
        if let token = linkToken { sources.remove(fd, token) }
        linkToken = nil
        // Held connections are this worker's alone now (see `serveOrphanedHandoffs`).
        for conn in parked.values where conn.handoffID != 0 {
            unpark(conn)
            conn.handoffID = 0
            orphanedHeld.append(conn)
        }
        seat?.unmap()
        seat = nil
        draining: while true {
            switch try? link.receive() {
            case .message(.connection(let host, let port, let buffered), let connection?)?,
                 .message(.connectionDue(_, let host, let port, let buffered), let connection?)?:
                orphanedHandoffs.append(HandedOver(fd: connection, host: host, port: port, buffered: buffered, wire: .http))
            case .message(.uwsgiConnection(_, let host, let port, let buffered), let connection?)?:
                orphanedHandoffs.append(HandedOver(fd: connection, host: host, port: port, buffered: buffered, wire: .uwsgi))
            case .message(_, let stray)?:
                stray?.close()
            default:
                break draining
            }
        }
        link.close()
        if !stopping && !quietly { Log.info("lost the vassal at \(link.path); reattaching") }
    }

    func receiveFromVassal() {
        guard let link else { return }
        let received: HandoffLink.Received
        do {
            received = try link.receive()
        } catch {
            Log.info("protocol error from the vassal: \(error)")
            return linkLost()
        }
        switch received {
        case .none:
            return
        case .closed:
            linkLost()
        case .message(.connection(let host, let port, let buffered), let fd?):
            takenIDs &+= 1
            take(fd, HandedOver(fd: fd, host: host, port: port, buffered: buffered, wire: .http, id: takenIDs), dueNs: 0)
        case .message(.connectionDue(let due, let host, let port, let buffered), let fd?):
            takenIDs &+= 1
            take(fd, HandedOver(fd: fd, host: host, port: port, buffered: buffered, wire: .http, id: takenIDs), dueNs: due)
        case .message(.uwsgiConnection(let due, let host, let port, let buffered), let fd?):
            takenIDs &+= 1
            take(fd, HandedOver(fd: fd, host: host, port: port, buffered: buffered, wire: .uwsgi, id: takenIDs), dueNs: due)
        case .message(.seat(let index), let fd?):
            defer { fd.close() }  // the mapping stays
            seat?.unmap()  // (a vassal gives one seat per link: never more than once)
            do {
                seat = try HandoffSeat.map(fd, index: Int(index))
            } catch {
                Log.info("cannot map the seat the vassal gave this worker: \(error); reattaching")
                linkLost()
            }
        case .message(.bye, _):
            linkLost(quietly: true)
        case .messageLostItsFd(.connection(let host, let port, _)), .messageLostItsFd(.connectionDue(_, let host, let port, _)),
             .messageLostItsFd(.uwsgiConnection(_, let host, let port, _)):
            // Out of descriptors here: that client is lost (the vassal closes its
            // copy on `done`), the link and every other connection are not.
            takenIDs &+= 1
            Log.info("could not receive the connection of client \(host):\(port) (out of file descriptors); closing it")
            seat?.received(takenIDs)
            closed(id: takenIDs)
        case .messageLostItsFd(let other):
            Log.info("unexpected \(other.kind) from the vassal")
            linkLost()
        case .message(let other, let fd):
            fd?.close()
            Log.info("unexpected \(other.kind) from the vassal")
            linkLost()
        }
    }

    /// A connection the vassal handed over: served, or given back unserved
    /// when this worker is leaving (handed before the vassal saw `draining`),
    /// or answered 503 when it waited here past its due time (`dueNs`, 0: none).
    func take(_ fd: FileDescriptor, _ handed: HandedOver, dueNs: UInt64) {
        seat?.received(handed.id)
        if stopping || paused {
            if handed.wire == .uwsgi {
                // Never handed back (the vassal parks HTTP connections only): it is served.
                return serve(handed)
            }
            seat?.idle(taken: takenIDs, served: runner.requestsServed)
            handBack(fd, id: handed.id, requests: 0, written: 0, read: 0, buffered: handed.buffered)  // untouched here
            fd.close()
            return
        }
        if dueNs != 0 && Host.monotonicNanoseconds() > dueNs {
            // It waited here, behind this worker's last request, past queue-timeout:
            // answered as the vassal answers a queue timeout, without running the app.
            Log.info("client \(handed.host):\(handed.port): waited past queue-timeout for this worker; 503")
            fd.answerAndClose(HTTPResponseHead.simple(status: 503, message: "no worker became free within queue-timeout",
                                                      minorVersion: handed.wire == .uwsgi ? 0 : 1, extraHeaders: [("Retry-After", "1")]))
            closed(id: handed.id)
            return
        }
        serve(handed)
    }

    func serve(_ handed: HandedOver) {
        let conn = Connection(fd: handed.fd, remote: (handed.host, Int(handed.port)), wire: handed.wire, scratch: scratch)
        conn.buffer = handed.buffered
        if seat != nil { conn.handoffID = handed.id }
        openConnections += 1
        serve(conn)
    }

    /// Serves what a lost link left (each connection closes after its
    /// requests: there is no vassal to give it back to). A held connection
    /// whose client has sent something is served; the others close (their
    /// clients open a new connection, to the vassal that replaces this one).
    func serveOrphanedHandoffs() {
        while !orphanedHandoffs.isEmpty { serve(orphanedHandoffs.removeFirst()) }
        while let conn = orphanedHeld.popLast() {
            if conn.isClosed { continue }
            if conn.pending > 0 || (try? conn.fd.wait(timeoutMs: 0)) == true {
                serve(conn)
            } else {
                close(conn)
            }
        }
    }

    /// The vassal is told that connection `id` is closed: with a seat, in its
    /// closed ring (the vassal collects it at its next turn; `available` if
    /// requests wait), else with `heldClosed` when the ring is full or the
    /// vassal predates it (and the seat shows this worker free); unseated, `done`.
    func closed(id: UInt32) {
        guard let seat, let link, id != 0 else {
            tellVassal(.done)
            return
        }
        if link.isQuiet && seat.noteClosed(id) {
            return freed()
        }
        // Free first: the message wakes the vassal, which then finds the seat free (no `available` needed).
        seat.idle(taken: takenIDs, served: runner.requestsServed)
        tellVassal(.heldClosed(id: id))
    }

    /// Seated, between requests: the seat shows this worker free; when
    /// requests wait in the vassal, it says so (`available`). The seat is
    /// written before the queue page is read, and the vassal writes the queue
    /// page before it reads the seats (both with a full fence), so either the
    /// vassal sees this worker free or this worker sees the queue: never neither.
    /// A vassal of version 6 or later is told only while it may be asleep
    /// (`HandoffBoard.asleep`): awake, it looks at the seats before it sleeps.
    func freed() {
        guard let seat, let board = runner.vassalBoard else { return }
        seat.idle(taken: takenIDs, served: runner.requestsServed)
        guard board[HandoffBoard.waiting] > 0 else { return }
        if link?.isQuiet != true || board[HandoffBoard.asleep] != 0 { tellVassal(.available) }
    }

    /// A held connection's client sent something: the seat shows it served
    /// (with nothing of a request read yet), then it is served.
    func serveHeld(_ conn: Connection) {
        copyToSeat(conn)
        serve(conn)
    }

    /// Seated: the seat shows `conn` served, with its unanswered bytes and
    /// totals as they are now (the first request's bytes are those it was
    /// handed with, there since `received`).
    func copyToSeat(_ conn: Connection) {
        guard let seat, conn.handoffID != 0 else { return }
        seat.serves(conn.handoffID, taken: takenIDs, bytes: conn.buffer[conn.start...], written: conn.written, read: conn.read,
                    requests: conn.requestsServed)
        conn.seatedAt = conn.requestsServed
    }

    /// Seated, after a request with nothing more buffered: the connection
    /// stays in this worker's epoll until its client sends again. With a
    /// request begun (a partial head), or when this worker is leaving, it goes
    /// back to the vassal.
    func hold(_ conn: Connection) {
        if conn.broken { return close(conn) }
        // Past its share of the vassal's keep-alive connections (the board's word 1), or
        // at `max-connections` (this process's descriptors), idle ones go back to the vassal too.
        let holding = parked.count + (conn.eventToken == nil ? 1 : 0)
        let share = runner.vassalBoard?[HandoffBoard.share] ?? 0
        guard conn.pending == 0, conn.wire == .http, !stopping, !paused, holding <= maxConnections,
              share <= 0 || holding <= share else { return giveBack(conn) }
        conn.compact()
        if conn.eventToken == nil {
            do {
                conn.eventToken = try sources.add(conn.fd, .connection(conn))
                parked[ObjectIdentifier(conn)] = conn
            } catch {
                return giveBack(conn)
            }
        }
        freed()
    }

    /// A held connection goes back to the vassal (`heldReturned`; the seat
    /// shows this worker free before the message wakes the vassal).
    func giveBack(_ conn: Connection) {
        unpark(conn)
        openConnections -= 1
        seat?.idle(taken: takenIDs, served: runner.requestsServed)
        handBack(conn.fd, id: conn.handoffID, requests: conn.requestsServed, written: conn.written, read: conn.read,
                 buffered: Array(conn.buffer[conn.start...]))
        conn.close()
    }

    /// Leaving (stop, pause, retire): every held connection goes back to the vassal.
    func giveBackHeld() {
        for conn in Array(parked.values) where conn.handoffID != 0 { giveBack(conn) }
    }

    /// Gives a connection back to the vassal with what this worker wrote and
    /// read on it: seated, `heldReturned` naming it (`id`); else `returned`,
    /// or, to a vassal that predates it, `back`.
    func handBack(_ fd: FileDescriptor, id: UInt32, requests: Int, written: Int64, read: Int64, buffered: [UInt8]) {
        let count = UInt32(clamping: requests)
        if seat != nil, id != 0 {
            tellVassal(.heldReturned(id: id, requests: count, written: UInt64(written), read: UInt64(read), buffered: buffered), fd: fd)
        } else if let link, link.vassalVersion >= HandoffMessage.countedBackVersion {
            tellVassal(.returned(requests: count, written: UInt64(written), read: UInt64(read), buffered: buffered), fd: fd)
        } else {
            tellVassal(.back(requests: count, buffered: buffered), fd: fd)
        }
    }

    /// After a response with nothing more buffered: wait `lingerMs` for the
    /// client's next request, else hand the connection back to the vassal.
    /// True when the client sent more and serving goes on.
    func lingerOrHandBack(_ conn: Connection) -> Bool {
        // Linger only while no other request waits in the vassal's queue: fairness first
        // (nor when the vassal already gave this worker its next connection).
        if !stopping && !paused && lingerMs > 0 && conn.pending == 0 && (runner.vassalBoard?[HandoffBoard.waiting] ?? 1) == 0
            && (try? link?.fd?.wait(timeoutMs: 0)) == false {
            let ready = Interpreter.withoutGIL { (try? conn.fd.wait(timeoutMs: lingerMs)) == true }
            if ready {
                switch conn.readAvailable() {
                case .some(0):
                    close(conn)
                    return false
                case .some:
                    return true
                case .none:
                    break
                }
            }
        }
        let buffered = Array(conn.buffer[conn.start...])
        openConnections -= 1
        handBack(conn.fd, id: 0, requests: conn.requestsServed, written: conn.written, read: conn.read, buffered: buffered)
        conn.close()
        return false
    }
}
