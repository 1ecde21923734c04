import Foundation
import Testing
@testable import Shared

/// The emperor's history and events (`/history.json`, `/events.json`,
/// `/metrics` histograms) against what clients measured, over two real builds.
@Suite(.serialized)
struct DashboardTests {
    static func json(_ port: Int, _ path: String) throws -> [String: Any] {
        let r = try HTTPClient.once(port: port, path, timeout: 10)
        #expect(r.status == 200, "\(path): \(r.status)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any])
    }

    /// `clients` keep-alive clients, each sending a request every `1/perClient` s for
    /// `seconds`; the latencies (ms) of the answers, sorted, and the wall-clock window (epoch ms).
    static func pacedLoad(port: Int, path: String, clients: Int, perClient: Double, seconds: Double) -> (latencies: [Double], failed: Int, fromMs: Int64, toMs: Int64) {
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var latencies: [Double] = []
            var failed = 0
        }
        let results = Results()
        let fromMs = Int64(Date().timeIntervalSince1970 * 1000)
        DispatchQueue.concurrentPerform(iterations: clients) { c in
            var client = try? HTTPClient(port: port)
            let start = DispatchTime.now().uptimeNanoseconds + UInt64(Double(c) / Double(clients) / perClient * 1e9)
            for i in 0..<Int(seconds * perClient) {
                let due = start + UInt64(Double(i) / perClient * 1e9)
                let now = DispatchTime.now().uptimeNanoseconds
                if due > now { usleep(UInt32((due - now) / 1000)) }
                let t0 = DispatchTime.now().uptimeNanoseconds
                if client == nil { client = try? HTTPClient(port: port) }
                let ok = (try? client?.get(path).status) == 200
                let ms = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
                results.lock.withLock { if ok { results.latencies.append(ms) } else { results.failed += 1 } }
                if !ok { client = nil }
            }
        }
        return (results.latencies.sorted(), results.failed, fromMs, Int64(Date().timeIntervalSince1970 * 1000))
    }

    @Test func historyMatchesAKnownLoadAndEventsShowATouchAndASwap() throws {
        guard let (s, statusPort) = try StatusPageTests.startBuilds() else { return }
        defer { s.cleanup() }
        try FileManager.default.createSymbolicLink(atPath: s.dir.file("builds/_live"), withDestinationPath: "a")
        try FileManager.default.createSymbolicLink(atPath: s.dir.file("builds/_stage"), withDestinationPath: "b")
        // The emperor has sampled the links once before they change below.
        #expect(waitUntil(5) { ((try? Self.json(statusPort, "/history.json?build=a"))?["builds"] as? [String: Any])?["a"] != nil })
        Thread.sleep(forTimeInterval: 1.2)

        // 100 requests/s of 8 ms each for 10 s through build a.
        let load = Self.pacedLoad(port: s.ports["a"]!, path: "/v/pid?ms=8", clients: 4, perClient: 25, seconds: 10)
        #expect(load.failed == 0)
        let clientRate = Double(load.latencies.count) / (Double(load.toMs - load.fromMs) / 1000)
        let clientP99 = load.latencies[Int(Double(load.latencies.count) * 0.99) - 1]
        // A few 500s: they show as 5xx.
        for _ in 0..<5 { _ = try HTTPClient.once(port: s.ports["a"]!, "/raw/raise") }
        Thread.sleep(forTimeInterval: 2.2)  // two more samples

        let doc = try Self.json(statusPort, "/history.json?build=a&since=\(load.fromMs)")
        let columns = try #require(doc["columns"] as? [String])
        let rows = try #require(((doc["builds"] as? [String: Any])?["a"] as? [String: Any])?["points"] as? [[Any]])
        func column(_ name: String) -> [Double] { let i = columns.firstIndex(of: name)!; return rows.map { ($0[i] as? Double) ?? .nan } }
        let times = column("t"), rps = column("rps"), p99 = column("p99"), serverErrors = column("5xx"), seconds = column("seconds")
        // The points wholly inside the load (a second in from each end).
        let inside = times.indices.filter { times[$0] > Double(load.fromMs) + 1500 && times[$0] < Double(load.toMs) - 500 }
        #expect(inside.count >= 6, "points: \(times)")
        let rate = inside.map { rps[$0] * seconds[$0] }.reduce(0, +) / inside.map { seconds[$0] }.reduce(0, +)
        #expect(abs(rate - clientRate) / clientRate < 0.10, "history \(rate) req/s, client \(clientRate)")
        let historyP99 = inside.map { p99[$0] }.filter { !$0.isNaN }.sorted()
        let median = historyP99[historyP99.count / 2]
        // The worker's time is within the client's, which adds the network and the vassal.
        #expect(median > load.latencies[load.latencies.count / 2] * 0.7 && median < clientP99 * 1.5,
                "history p99 \(historyP99), client p50 \(load.latencies[load.latencies.count / 2]) p99 \(clientP99)")
        #expect(zip(times, serverErrors).filter { $0.0 > Double(load.toMs) }.map { $0.1 }.reduce(0, +) >= 4.5, "5xx: \(serverErrors)")

        // Prometheus: the response-time histogram and the classes.
        let metrics = try HTTPClient.once(port: statusPort, "/metrics").body
        #expect(metrics.contains("# TYPE hadjango_request_duration_seconds histogram"))
        #expect(metrics.contains("hadjango_request_duration_seconds_bucket{build=\"a\",le=\"0.01\"}"))
        #expect(metrics.contains("hadjango_responses_total{build=\"a\",class=\"5xx\"} 5"))

        // A touch of build a's zerg.ini, then a swap by hactl: both in /events.json.
        let before = Int64(Date().timeIntervalSince1970 * 1000)
        s.touch("builds/a/zerg.ini")
        let hactl = TestProcess.binDirectory + "/hactl"
        let (rc, out) = try runCapturing(hactl, ["--deploy", s.dir.path, "--nginx-reload", "true", "swap-live"])
        #expect(rc == 0, "\(out)")
        func events() -> [[String: Any]] { ((try? Self.json(statusPort, "/events.json?since=\(before)"))?["events"] as? [[String: Any]]) ?? [] }
        func has(_ event: String, _ build: String, cause: String) -> Bool {
            events().contains { $0["event"] as? String == event && $0["build"] as? String == build && ($0["cause"] as? String ?? "").contains(cause) }
        }
        #expect(waitUntil(10) { has("reloaded", "a", cause: "config changed") }, "\(events())")
        #expect(waitUntil(10) { has("ready", "a", cause: "reloaded") }, "\(events())")
        #expect(waitUntil(5) { has("live", "b", cause: "hactl swap-live") && has("stage", "a", cause: "hactl swap-live") }, "\(events())")
        #expect(has("nginx reloaded", "b", cause: "hactl swap-live"), "\(events())")
        // Written to the log too.
        #expect(waitUntil(5) { s.emperor.log().contains("event: build b live (hactl swap-live; was a)") }, "\(s.emperor.log())")
    }
}
