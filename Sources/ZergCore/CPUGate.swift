
/// Keeps a CPU-bound app from running on more workers at once than there
/// are CPUs (`cpu-slots`), standalone.
///
/// Why: four workers of a CPU-bound Django app on two cores take turns on
/// each core, and every turn refills the core's caches with another
/// process's interpreter and heap: measured, 4 workers serve ~8 % fewer
/// requests than 2 with a third higher p99 (`Connection: close`, 32
/// clients). Workers beyond the slots therefore leave new connections to the
/// running ones while those are computing; the running ones take the next
/// connection themselves as soon as they finish.
///
/// Only computing counts. A worker's app is "CPU-bound" once its last
/// `boundAfter` requests ran without a voluntary context switch (no wait on
/// a database, a socket, a lock: getrusage's nvcsw did not move); an app
/// that waits on I/O never closes the gate, so I/O-bound apps keep all their
/// workers busy. A computing request holds its slot only until its deadline
/// (`holdFactor` × the worker's average request time, at least `minHoldNs`):
/// a request that runs much longer than usual (stuck, or waiting after all)
/// stops holding the others back. The slot outlives the request (the worker
/// takes its next connection with warm caches) until the worker runs out of
/// work. A gated worker passes the requests that come ready on the keep-alive
/// connections it holds to the slot holders (the ready pool, for requests
/// worth a move), else it computes them without a slot, so the slot holders
/// always go on accepting.
public struct CPUGate {
    /// CPUs the app may use at once; 0: the gate is off.
    public let slots: Int
    /// Requests in a row that ran without blocking.
    public private(set) var requestsWithoutBlocking = 0
    private var switchesAtStart = 0

    public static let boundAfter = 4
    public static let holdFactor: UInt64 = 3
    public static let minHoldNs: UInt64 = 5_000_000

    public init(slots: Int, workers: Int) {
        // With no more workers than slots every worker has a CPU anyway.
        self.slots = slots > 0 && workers > slots ? slots : 0
    }

    public var isOn: Bool { slots > 0 }
    public var appIsCPUBound: Bool { requestsWithoutBlocking >= Self.boundAfter }

    /// At a request's start: remembers the switch count (the thread's
    /// voluntary context switches so far); returns the deadline to publish
    /// while it computes (0: it holds no slot).
    public mutating func begin(nowNs: UInt64, averageNs: UInt64, switches: Int) -> UInt64 {
        guard isOn else { return 0 }
        switchesAtStart = switches
        guard appIsCPUBound else { return 0 }
        return nowNs + max(Self.minHoldNs, Self.holdFactor * averageNs)
    }

    /// At a request's end, with the switch count then: did it wait for anything?
    public mutating func end(switches: Int) {
        guard isOn else { return }
        if switches == switchesAtStart {
            requestsWithoutBlocking += 1
        } else {
            requestsWithoutBlocking = 0
        }
    }
}
