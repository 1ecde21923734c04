/// What a client gets to send one request, in the vassal and in the zerg:
/// the head within `http-headers-timeout` of its first byte, the body within
/// `http-body-timeout`, past which it may go on only while it averages
/// `http-body-min-rate` bytes per second. Deadlines, not per-read timers: a
/// client sending a byte now and then must not hold a connection (or a
/// worker) for ever.
public struct RequestDeadlines: Sendable {
    public var headNs: UInt64
    public var bodyNs: UInt64
    /// Bytes per second under which a body past `bodyNs` is cut (0: cut at `bodyNs`).
    public var bodyMinRate: Int

    public init(headSeconds: Int, bodySeconds: Int, bodyMinRate: Int) {
        headNs = UInt64(max(1, headSeconds)) * 1_000_000_000
        bodyNs = UInt64(max(1, bodySeconds)) * 1_000_000_000
        self.bodyMinRate = max(0, bodyMinRate)
    }

    /// From the options (their registry defaults apply; the fallbacks below only
    /// guard a value validation let through).
    public init(_ config: Configuration) {
        self.init(headSeconds: config.int("http-headers-timeout") ?? 1, bodySeconds: config.int("http-body-timeout") ?? 1,
                  bodyMinRate: config.int("http-body-min-rate") ?? 0)
    }

    public var headSeconds: Int { Int(headNs / 1_000_000_000) }

    /// Whether a head begun at `startNs` is late.
    public func headOverrun(startNs: UInt64, nowNs: UInt64) -> Bool { nowNs &- startNs > headNs }

    /// Whether a body begun at `startNs` that has brought `bytes` so far is too slow.
    public func bodyOverrun(startNs: UInt64, nowNs: UInt64, bytes: Int) -> Bool {
        let elapsed = nowNs &- startNs
        guard elapsed > bodyNs else { return false }
        guard bodyMinRate > 0 else { return true }
        return Double(bytes) / (Double(elapsed) / 1e9) < Double(bodyMinRate)
    }
}
