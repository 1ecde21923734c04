import Shared

/// CPU slots through the vassal: while the workers' app is CPU-bound, new
/// connections go to `cpu-slots` of the seated workers (the slot holders), and
/// the other workers stand by.
///
/// Why: a seated worker keeps its keep-alive clients, so with wrk's 32
/// clients spread over 4 workers on 2 cores all 4 compute at once, and every
/// turn on a core refills its caches with another interpreter's heap.
/// Measured (Django, keep-alive, 2 cores): 4 workers through the vassal
/// 3,468 req/s, p99 22.3 ms; the same clients on 2 of them 3,838 req/s, p99
/// 14.2 ms (standalone with 4 workers: 3,499, p99 17.0). A standalone worker
/// limits itself (`CPUGate`: it stops accepting while enough others compute);
/// an attached one takes what it is handed, so the vassal, which hands, does
/// the limiting: each worker publishes in its seat its `cpu-slots` once its
/// app is CPU-bound (`CPUGate.appIsCPUBound`), and the deadline of the slot
/// its request holds. Packing applies while every seated worker says so: one
/// whose last requests waited (a database, a socket) turns it off, so an
/// I/O-bound app keeps all its workers busy. Threaded workers (`threads`)
/// publish nothing: they are there to wait.
///
/// The holders are the workers holding the most connections (ties: the
/// lowest seat), so the choice is stable and a holder keeps its warm caches.
/// A holder whose request has overrun its slot deadline (it waits on
/// something after all, or is stuck) is passed over: the next worker takes
/// its place for new connections, and the vassal looks again at that
/// deadline when work waits. Each holder's share of the keep-alive
/// connections is then what the holders hold (`HandoffBoard.share`).
struct SlotPacking {
    /// The seats (`AttachedWorker.seatIndex`) of the workers new connections go to.
    private var holderSeats = SeatSet()
    /// When a holder's slot deadline passes (0: none serving): the vassal
    /// looks again then if work waits.
    private(set) var recheckNs: UInt64 = 0
    let slots: Int

    /// The packing of `workers` now; nil when it does not apply: a seated
    /// worker's last requests waited on something (the app is not CPU-bound,
    /// or not only), or there are no more seated workers than slots. (No
    /// allocation: the vassal works this out a few times a turn.)
    init?(_ workers: Dictionary<UInt64, AttachedWorker>.Values) {
        var slots = Int.max
        var seated = 0
        for w in workers where w.state == .free {
            guard let seat = w.seat else { continue }
            seated += 1
            slots = min(slots, seat.cpuSlots)
            if slots == 0 { return nil }
        }
        guard seated > slots else { return nil }
        self.slots = slots
        let now = Host.monotonicNanoseconds()
        for _ in 0..<slots {
            var best: AttachedWorker?
            var bestUntil: UInt64 = 0
            for w in workers where w.state == .free {
                guard let seat = w.seat, !holderSeats.contains(w.seatIndex) else { continue }
                let until = seat.serving == 0 ? 0 : seat.computeUntilNs
                if until != 0 && until < now { continue }  // overran its slot
                if let b = best, (w.held.count, b.seatIndex) <= (b.held.count, w.seatIndex) { continue }
                best = w
                bestUntil = until
            }
            guard let best else { break }
            holderSeats.insert(best.seatIndex)
            if bestUntil != 0 { recheckNs = recheckNs == 0 ? bestUntil : min(recheckNs, bestUntil) }
        }
    }

    /// Whether `worker` is given new connections (an unseated one, of an
    /// older build, is not packed).
    func takes(_ worker: AttachedWorker) -> Bool {
        worker.seat == nil || holderSeats.contains(worker.seatIndex)
    }

    /// A set of seat indexes (`HandoffSeat.count` bits).
    struct SeatSet {
        private var words = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))

        func contains(_ index: Int) -> Bool {
            let bit = UInt64(1) << UInt64(index & 63)
            switch index >> 6 {
            case 0: return words.0 & bit != 0
            case 1: return words.1 & bit != 0
            case 2: return words.2 & bit != 0
            default: return words.3 & bit != 0
            }
        }

        mutating func insert(_ index: Int) {
            let bit = UInt64(1) << UInt64(index & 63)
            switch index >> 6 {
            case 0: words.0 |= bit
            case 1: words.1 |= bit
            case 2: words.2 |= bit
            default: words.3 |= bit
            }
        }
    }
}

extension Vassal {
    /// Works the packing out for this point of the turn (`packing`).
    func updatePacking() {
        packing = seatsInUse > 0 ? SlotPacking(workers.values) : nil
    }

    /// How long the loop may sleep for the packing's sake (nil: no limit):
    /// while requests wait, until a slot holder's deadline passes (1 ms at
    /// least), when it may be passed over.
    func packingWaitMs() -> Int32? {
        guard waiting > 0, let recheck = packing?.recheckNs, recheck != 0 else { return nil }
        let now = Host.monotonicNanoseconds()
        return Int32(clamping: recheck > now ? max(1, (recheck - now + 999_999) / 1_000_000) : 1)
    }
}
