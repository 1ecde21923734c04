import Shared
import ZergCore

/// When a standalone worker takes a new connection from the shared listeners,
/// decided from the scoreboard:
/// - **share**: keep-alive clients stay with the worker that accepted them, so
///   a busy worker holding more connections than the average leaves a new one
///   to the others, for at most `leaveToOthersNs` (nothing waits on a worker
///   stuck in a long request); an idle worker takes it at once;
/// - **CPU slots** (`CPUGate`): with more workers than `cpu-slots`, a worker
///   of a CPU-bound app stops listening while enough others compute.
///
/// Attached to a vassal, a worker takes no connection itself: it publishes
/// its slot in its seat and the vassal packs connections on the slot holders
/// (the vassal's `SlotPacking`).
struct AcceptPolicy {
    /// This worker's row (nil: a lone worker, nothing to balance).
    let row: Scoreboard.Row?
    private(set) var gate: CPUGate
    /// The gate is closed for this worker: enough others are computing.
    private(set) var gated = false
    /// When to look at the gate again while it is closed (the earliest slot deadline).
    private var gateRecheckNs: UInt64 = 0
    /// Since when this worker, busy and holding more than its share, has left
    /// a waiting connection to the others (nil: it has not).
    private var leftConnectionSince: UInt64?

    /// How long a busy worker leaves a new connection to the others before taking it itself.
    static let leaveToOthersNs: UInt64 = 10_000_000

    /// `row`: a standalone worker's (nil: alone, or attached to a vassal).
    init(row: Scoreboard.Row?, attached: Bool, cpuSlots: Int, workers: Int) {
        self.row = row
        gate = CPUGate(slots: row != nil || attached ? cpuSlots : 0, workers: workers)
    }

    /// The slots a vassal packs this worker's connections on: `cpu-slots` once
    /// its app is CPU-bound with requests long enough that the vassal's round
    /// trip between two of them is small beside them, else 0 (measured: hello
    /// world in close mode through the vassal went from 0.86× standalone to
    /// 0.67× when packed on 2 of 4 workers; Django's page gained 14 %).
    func publishedSlots(requestsWorthAMove: Bool) -> Int {
        gate.appIsCPUBound && requestsWorthAMove ? gate.slots : 0
    }

    /// This worker's open connections and the average worker's (rounded down);
    /// nil when it is the only worker.
    func connectionShare(mine: Int) -> (mine: Int64, average: Int64)? {
        guard let row else { return nil }
        let (total, workers) = row.board.connectionTotals()
        return workers > 1 ? (Int64(mine), total / workers) : nil
    }

    /// More open connections than the average worker of this zerg.
    func holdsMoreThanItsShare(_ mine: Int) -> Bool { connectionShare(mine: mine).map { $0.mine > $0.average } ?? false }

    /// Fewer open connections than the average worker (with one-request
    /// connections that average is 0, and this is never true).
    func holdsLessThanItsShare(_ mine: Int) -> Bool { connectionShare(mine: mine).map { $0.mine < $0.average } ?? false }

    /// Whether a woken worker takes the connection waiting on a listener now.
    /// When stopping, it takes what its EPOLLEXCLUSIVE wake-up gave it (the
    /// others were not woken).
    mutating func takesNewConnection(busy: Bool, stopping: Bool, open: Int) -> Bool {
        guard busy && !stopping && holdsMoreThanItsShare(open) else {
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

    /// Closes the gate while `cpu-slots` other workers compute, opens it when
    /// one of them finishes or overruns its deadline. `passing`: a gated worker
    /// passes its ready keep-alive requests to the slot holders (the ready pool).
    mutating func updateGate(open: Int, passing: Bool) {
        guard gate.isOn, let row else { return }
        let (computing, earliest) = row.board.computing(excluding: row.index, nowNs: Host.monotonicNanoseconds())
        // Keep-alive clients stay with the worker that accepts them: one holding
        // fewer than its share takes new ones anyway, or they would all end up
        // with the computing workers. Unless gated workers pass their ready
        // requests on: then ending up with the computing workers is the point.
        gated = computing >= gate.slots && (passing || !holdsLessThanItsShare(open))
        gateRecheckNs = earliest
        if gated { row[.computeUntil] = 0 }
    }

    /// A gated worker sleeps until the earliest slot deadline (1 ms at least).
    func gateWaitMs() -> Int32 {
        let now = Host.monotonicNanoseconds()
        guard gateRecheckNs > now else { return 1 }
        return Int32(clamping: min(1000, max(1, (gateRecheckNs - now + 999_999) / 1_000_000)))
    }

    /// Nothing to do: the slot is free for the others.
    func releaseSlot() {
        if gate.isOn { row?[.computeUntil] = 0 }
    }

    /// A request starts. The slot is held past the request's end: a worker
    /// that goes on to its next request keeps its CPU (and its warm caches);
    /// it frees the slot when it runs out of work, or at the deadline. A gated
    /// worker serving a keep-alive client it already holds computes without a
    /// slot: the slot holders must stay free to accept new clients.
    /// Returns the deadline until which it holds a slot (0: none).
    @discardableResult
    mutating func requestBegins(nowNs: UInt64, averageNs: UInt64) -> UInt64 {
        guard gate.isOn else { return 0 }
        let deadline = gate.begin(nowNs: nowNs, averageNs: averageNs, switches: Host.voluntaryContextSwitches())
        let until = gated ? 0 : deadline
        row?[.computeUntil] = Int64(until)
        return until
    }

    mutating func requestEnds() {
        guard gate.isOn else { return }
        gate.end(switches: Host.voluntaryContextSwitches())
    }
}
