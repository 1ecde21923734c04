import Shared

/// What the emperor does later. Timers carry what they are about, and handlers
/// check that it still holds (same generation, same pid), so a stale timer is harmless.
enum TimerAction {
    case respawn(name: String, generation: Int)
    case kill(name: String, pid: Int32)
    case scan
}

/// Pending timers, soonest first. The event loop sleeps until the first one.
struct TimerQueue {
    private var items: [(at: UInt64, action: TimerAction)] = []

    mutating func schedule(afterMs ms: Int, _ action: TimerAction) {
        let at = Host.monotonicNanoseconds() + UInt64(max(0, ms)) * 1_000_000
        let index = items.firstIndex { $0.at > at } ?? items.count
        items.insert((at, action), at: index)
    }

    var nextDeadline: UInt64? { items.first?.at }

    /// Removes and returns every timer due by `now`.
    mutating func popDue(now: UInt64) -> [TimerAction] {
        var due: [TimerAction] = []
        while let first = items.first, first.at <= now {
            due.append(first.action)
            items.removeFirst()
        }
        return due
    }
}
