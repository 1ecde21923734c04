import Shared

/// Seated workers (`HandoffSeat`): giving a worker its seat, and what becomes
/// of the connections a seated worker held when it is gone.
extension Vassal {
    /// Gives `worker` a seat. Seats are given round the table (the one after
    /// the last given), so a seat left by a worker that was detached alive (a
    /// stuck link) is the last to be given again. With none left the worker
    /// is served as an unseated one (a message per request).
    func seat(_ worker: AttachedWorker) {
        let count = seatTaken.count
        guard let index = (1...count).lazy.map({ (self.lastSeat + $0) % count }).first(where: { !self.seatTaken[$0] }) else {
            Log.info("\(worker.label): all \(count) seats are taken; it hands every connection back after each request")
            return
        }
        let seat = HandoffSeat(in: seats, index: index)
        seat.clear()
        guard (try? worker.link.send(.seat(index: UInt16(index)), fd: seats.fd, nonBlocking: true))?.value != nil else {
            Log.info("\(worker.label): could not send its seat; detaching it")
            return detach(worker)
        }
        take(seat: index, for: worker)
    }

    /// Each seated worker's share of the client connections (`HandoffBoard.share`):
    /// those workers hold and those here (parked ones go to workers with their next request),
    /// over the seated workers, or over the slot holders while they are packed on (`SlotPacking`).
    func heldShare() -> Int {
        let seated = packing?.slots ?? workers.values.reduce(0) { $0 + ($1.seat != nil && $1.state == .free ? 1 : 0) }
        return seated == 0 ? 0 : max(1, (heldConnections + seated - 1) / seated)
    }

    func take(seat index: Int, for worker: AttachedWorker) {
        seatTaken[index] = true
        seatsInUse += 1
        lastSeat = index
        worker.seat = HandoffSeat(in: seats, index: index)
        worker.seatIndex = index
    }

    /// The worker's seat may be given again (to the last: see `seat(_:)`).
    func releaseSeat(of worker: AttachedWorker) {
        guard worker.seat != nil else { return }
        seatTaken[worker.seatIndex] = false
        seatsInUse -= 1
        worker.seat = nil
    }

    /// A seated worker closed connection `id` (`heldClosed`, or its seat's
    /// closed ring): the vassal's copy closes. False when it held no such connection.
    func closeHeld(_ id: UInt32, of worker: AttachedWorker) -> Bool {
        guard let handed = worker.held.removeValue(forKey: id) else { return false }
        handed.fd.close()
        worker.connectionsServed += 1
        lastProgressNs = Host.monotonicNanoseconds()
        return true
    }

    /// Once a turn: the connections seated workers noted closed in their
    /// seats (`HandoffSeat.noteClosed`) since the last turn. A worker that
    /// notes what it does not hold, or impossible counters, broke the protocol.
    func collectClosed() {
        guard seatsInUse > 0 else { return }
        for worker in workers.values where worker.notesClosesInSeat {
            guard let seat = worker.seat else { continue }
            var stray: UInt32?
            let intact = seat.collectClosed { id in
                counters.closedInSeats += 1
                if !closeHeld(id, of: worker) && stray == nil { stray = id }
            }
            if !intact || stray != nil {
                Log.info("\(worker.label): its seat notes \(intact ? "connection \(stray!) closed, which it did not hold" : "impossible closed counts"); detaching it")
                detach(worker)
            }
        }
    }

    /// A seated worker is gone; its seat says what became of each connection
    /// it held (it wrote nothing more once dead):
    /// - not received yet (numbered past `taken`): queued again, unserved;
    /// - the one it was serving: its byte totals as the kernel counts them,
    ///   against those at handoff plus the worker's own in the seat. Nothing
    ///   more written and read than the seat says: the connection is as the
    ///   seat's copy of its unanswered bytes plus what the socket still holds,
    ///   so with no bytes or a request begun it is parked here, and a whole
    ///   request is resent (once, and only a GET/HEAD/OPTIONS without a body)
    ///   or answered 502 (`lostInFlight`). A response under way is cut;
    /// - any other: idle between requests, nothing of a next request read
    ///   (a worker holds only such connections): parked here, its client
    ///   never knows.
    func recoverHeld(_ worker: AttachedWorker) {
        guard let seat = worker.seat else { return }
        // What it closed since the last turn is not for recovering (it noted nothing false: it was not detached for that).
        if worker.notesClosesInSeat { _ = seat.collectClosed { _ = closeHeld($0, of: worker) } }
        releaseSeat(of: worker)
        let taken = seat.taken
        let serving = seat.serving
        var again: [HandedConnection] = []
        var parked = 0
        for (id, held) in worker.held.sorted(by: { $0.key < $1.key }) {
            if id > taken {
                again.append(held)
            } else if id == serving {
                if let retry = recoverServing(held, seat: seat, of: worker) {
                    again.insert(retry, at: 0)
                }
            } else {
                parked += 1
                adoptReturned(held.fd, remote: (held.host, held.port), buffered: [], requests: held.requests, totals: held.fd.tcpTotals())
            }
        }
        worker.held = [:]
        if worker.state != .draining && worker.state != .attaching {
            Log.info("\(worker.label) detached\(parked > 0 ? "; the \(parked) idle connection(s) it held are parked here" : "")")
        }
        queueAgain(again)
    }

    /// The connection a dead seated worker was serving (see `recoverHeld`);
    /// returns it when its request is to be sent to another worker.
    func recoverServing(_ held: HandedConnection, seat: HandoffSeat, of worker: AttachedWorker) -> HandedConnection? {
        let snapshot = seat.snapshot
        let now = held.totals == nil ? nil : held.fd.tcpTotals()
        guard let base = held.totals, let now else { return lostInFlight(held, of: worker, unanswered: false, resend: nil) }
        let unanswered = now.written == base.written + snapshot.written
        // Read since the seat's copy: a held connection's bytes land in the seat, so when
        // the copy was empty (or is being noted), they are the first ones there.
        let unnoted = Int(now.read - (base.read + snapshot.read))
        var landed: [UInt8]?
        if unanswered && unnoted > 0, let copy = snapshot.bytes, copy.isEmpty || copy.count == unnoted {
            landed = seat.landed(unnoted)
        }
        guard unanswered, unnoted == 0 || landed != nil, !snapshot.tooLong else {
            return lostInFlight(held, of: worker, unanswered: unanswered, resend: nil,
                                why: snapshot.tooLong ? "its request was too long to keep a copy of" : "it had read more than its seat shows")
        }
        // `nil`: its first request, the bytes it was handed with.
        let bytes = landed ?? snapshot.bytes ?? held.buffered
        let client = ClientConnection(fd: held.fd, remote: (held.host, held.port), wire: held.wire, buffered: bytes, requests: held.requests)
        guard !bytes.isEmpty, case .complete = client.examine(limits: settings.requestLimits) else {
            // Nothing of a request read, or a head begun: it goes on here, unharmed.
            adoptReturned(held.fd, remote: (held.host, held.port), buffered: bytes, requests: held.requests, totals: now)
            return nil
        }
        let sentBefore = snapshot.bytes == nil && held.retried
        guard client.retryable && !sentBefore else { return lostInFlight(held, of: worker, unanswered: true, resend: nil) }
        var resend = HandedConnection(fd: held.fd, host: held.host, port: held.port, wire: held.wire, requests: held.requests, buffered: bytes)
        resend.retried = true
        resend.totals = now
        return lostInFlight(held, of: worker, unanswered: true, resend: resend)
    }
}
