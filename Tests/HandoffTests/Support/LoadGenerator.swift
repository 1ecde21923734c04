import Foundation
@testable import Shared

/// Continuous load for the zero-failure tests: client threads, some keeping
/// one connection alive, some opening a connection per request
/// (`Connection: close`). Every request is recorded with its outcome.
final class LoadGenerator: @unchecked Sendable {
    struct Record {
        let endNs: UInt64
        let latencyNs: UInt64
        let ok: Bool
        /// The client's local port (to match a failure with the vassal's log).
        let clientPort: Int
        let failure: String?
        /// Sent on a connection that had carried a request before (keep-alive).
        let reused: Bool
        /// Sent again on a new connection after a reused one closed before any response byte.
        let staleRetry: Bool
        /// When that close was seen (what an event's window counts it by).
        let staleCloseNs: UInt64
    }

    let port: Int
    let path: String
    private let lock = NSLock()
    private var records: [Record] = []
    private var running = true
    private var threads: [Thread] = []
    private var finished = 0

    /// Retry a request once when a *reused* keep-alive connection closes before any
    /// response byte, as HTTP clients do (RFC 9112 §9.3.1): for load through nginx,
    /// whose reload closes idle keep-alive connections, and while a vassal is killed
    /// (its parked connections close). Off elsewhere: then every such close counts.
    var retryStaleKeepAlive: Bool {
        get { lock.withLock { _retryStaleKeepAlive } }
        set { lock.withLock { _retryStaleKeepAlive = newValue } }
    }
    private var _retryStaleKeepAlive: Bool

    init(port: Int, keepAlive: Int, close: Int, path: String = "/v/pid", retryStaleKeepAlive: Bool = false) {
        self.port = port
        self.path = path
        _retryStaleKeepAlive = retryStaleKeepAlive
        for i in 0..<(keepAlive + close) {
            let t = Thread { [self] in self.client(keepAlive: i < keepAlive) }
            t.stackSize = 1 << 20
            threads.append(t)
        }
        for t in threads { t.start() }
    }

    var isRunning: Bool { lock.withLock { running } }

    private func add(_ r: Record) { lock.withLock { records.append(r) } }

    private func client(keepAlive: Bool) {
        var conn: HTTPClient?
        while isRunning {
            let start = Host.monotonicNanoseconds()
            var localPort = 0
            let reused = conn != nil
            var staleRetry = false
            var staleCloseNs: UInt64 = 0
            do {
                if conn == nil { conn = try HTTPClient(port: port) }
                localPort = conn!.localPort
                var r: HTTPClient.Response
                do {
                    r = try conn!.get(path, close: !keepAlive, timeout: 20)
                } catch HTTPClient.Failure.closedBeforeResponse where reused && retryStaleKeepAlive {
                    staleRetry = true
                    staleCloseNs = Host.monotonicNanoseconds()
                    conn = try HTTPClient(port: port)
                    localPort = conn!.localPort
                    r = try conn!.get(path, close: !keepAlive, timeout: 20)
                }
                let end = Host.monotonicNanoseconds()
                let ok = (200..<300).contains(r.status)
                add(Record(endNs: end, latencyNs: end - start, ok: ok, clientPort: localPort,
                           failure: ok ? nil : "status \(r.status): \(r.body.prefix(120))", reused: reused, staleRetry: staleRetry, staleCloseNs: staleCloseNs))
                if !keepAlive || r.headers["connection"]?.lowercased() == "close" { conn = nil }
            } catch {
                let end = Host.monotonicNanoseconds()
                add(Record(endNs: end, latencyNs: end - start, ok: false, clientPort: localPort, failure: "\(error)",
                           reused: reused, staleRetry: staleRetry, staleCloseNs: staleCloseNs))
                conn = nil
                usleep(10_000)  // a refused connect must not turn into a busy loop
            }
        }
        lock.withLock { finished += 1 }
    }

    func stop() {
        lock.withLock { running = false }
        waitUntil(30) { self.lock.withLock { self.finished == self.threads.count } }
    }

    func snapshot() -> [Record] { lock.withLock { records } }

    struct Summary: CustomStringConvertible {
        let requests: Int
        let failures: [Record]
        let p99Ms: Double
        let longestGapMs: Double
        /// Requests sent again after a reused keep-alive connection closed before any response byte.
        let staleRetries: Int
        var description: String {
            String(format: "%6d requests, %d failed, p99 %.1f ms, longest gap without a success %.0f ms, %d resent after a keep-alive close",
                   requests, failures.count, p99Ms, longestGapMs, staleRetries)
        }
    }

    /// Requests that ended between `from` and `to` (monotonic ns).
    func summary(from: UInt64, to: UInt64) -> Summary {
        let window = snapshot().filter { $0.endNs >= from && $0.endNs <= to }
        let latencies = window.map(\.latencyNs).sorted()
        let p99 = latencies.isEmpty ? 0 : Double(latencies[min(latencies.count - 1, latencies.count * 99 / 100)]) / 1e6
        var gap: UInt64 = 0
        var last = from
        for r in window.filter(\.ok).sorted(by: { $0.endNs < $1.endNs }) {
            gap = max(gap, r.endNs - last)
            last = r.endNs
        }
        gap = max(gap, to - last)
        return Summary(requests: window.count, failures: window.filter { !$0.ok }, p99Ms: p99, longestGapMs: Double(gap) / 1e6,
                       staleRetries: snapshot().filter { $0.staleRetry && $0.staleCloseNs >= from && $0.staleCloseNs <= to }.count)
    }

    /// Waits until at least `count` more requests succeed (the load is flowing).
    func waitForSuccesses(_ count: Int, within seconds: Double = 20) -> Bool {
        let base = snapshot().filter(\.ok).count
        return waitUntil(seconds) { self.snapshot().filter(\.ok).count >= base + count }
    }
}
