/// Respawn delays for a crashing instance: `step`, then doubling, capped.
/// A crash after the instance ran for `stable` seconds is respawned at once
/// (a vassal that dies after serving for a while is back in milliseconds, its
/// workers reattach), and a crash loop after that starts over at `step`.
public struct Backoff: Sendable {
    public var stepMs: Int
    public var capMs: Int
    public var stableNs: UInt64
    /// Consecutive quick failures.
    public private(set) var failures = 0

    public init(stepMs: Int, capMs: Int, stableSeconds: Int) {
        self.stepMs = stepMs
        self.capMs = capMs
        self.stableNs = UInt64(stableSeconds) * 1_000_000_000
    }

    /// Records a crash of a run that lasted `ranNs`; returns the delay before the next spawn.
    public mutating func nextDelayMs(ranNs: UInt64) -> Int {
        if ranNs >= stableNs && ranNs > 0 {
            failures = 0
            return 0
        }
        failures += 1
        let doublings = min(failures - 1, 30)
        let (delay, overflow) = stepMs.multipliedReportingOverflow(by: 1 << doublings)
        return overflow ? capMs : min(capMs, delay)
    }

    public mutating func reset() { failures = 0 }
}
