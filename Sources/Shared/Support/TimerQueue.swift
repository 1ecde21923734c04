/// Pending timers, soonest first; an event loop sleeps until the first one.
/// Timers carry what they are about, and handlers check that it still holds,
/// so a stale timer is harmless.
public struct TimerQueue<Action> {
    private var items: [(at: UInt64, action: Action)] = []

    public init() {}

    public mutating func schedule(afterMs ms: Int, _ action: Action) {
        let at = Host.monotonicNanoseconds() + UInt64(max(0, ms)) * 1_000_000
        let index = items.firstIndex { $0.at > at } ?? items.count
        items.insert((at, action), at: index)
    }

    public var nextDeadline: UInt64? { items.first?.at }

    /// Milliseconds until the first timer (0 when due), or `otherwise` when none.
    public func timeoutMs(otherwise: Int32) -> Int32 {
        guard let at = nextDeadline else { return otherwise }
        let now = Host.monotonicNanoseconds()
        return at <= now ? 0 : Int32(min(UInt64(otherwise), (at - now + 999_999) / 1_000_000))
    }

    /// Removes and returns every timer due by `now`.
    public mutating func popDue(now: UInt64 = Host.monotonicNanoseconds()) -> [Action] {
        var due: [Action] = []
        while let first = items.first, first.at <= now {
            due.append(first.action)
            items.removeFirst()
        }
        return due
    }
}
