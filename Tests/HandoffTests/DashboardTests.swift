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

    @Test func historyMatchesAKnownLoadEventsShowATouchAndASwapAndBothOutliveAnUpgrade() throws {
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
        func events() -> [[String: Any]] { ((try? Self.json(statusPort, "/events.json?since=\(before)"))?["events"] as? [[String: Any]]) ?? [] }
        func has(_ event: String, _ build: String, cause: String) -> Bool {
            events().contains { $0["event"] as? String == event && $0["build"] as? String == build && ($0["cause"] as? String ?? "").contains(cause) }
        }
        // (Both builds' zerg.ini link the same skeleton: both reload.)
        s.touch("builds/a/zerg.ini")
        #expect(waitUntil(10) { has("reloaded", "a", cause: "config changed") }, "\(events())")
        #expect(waitUntil(10) { has("ready", "a", cause: "reloaded") && has("ready", "b", cause: "reloaded") }, "\(events())")
        let hactl = TestProcess.binDirectory + "/hactl"
        let (rc, out) = try runCapturing(hactl, ["--deploy", s.dir.path, "--status", "127.0.0.1:\(statusPort)", "--nginx-reload", "true", "swap-live"])
        #expect(rc == 0, "\(out)")
        #expect(waitUntil(5) { has("live", "b", cause: "hactl swap-live") && has("stage", "a", cause: "hactl swap-live") }, "\(events())")
        #expect(has("nginx reloaded", "b", cause: "hactl swap-live"), "\(events())")
        // Written to the log too.
        #expect(waitUntil(5) { s.emperor.log().contains("event: build b live (hactl swap-live; was a)") }, "\(s.emperor.log())")

        // A worker killed: its master starts another, an event of its build.
        let worker = try #require(s.zergWorkers("a").first)
        kill(worker, SIGKILL)
        #expect(waitUntil(10) { has("worker recycled", "a", cause: "died") }, "\(events())")

        // An upgrade of the emperor (SIGUSR2, re-exec) keeps the history and the events.
        s.emperor.signal(SIGUSR2)
        #expect(waitUntil(10) { has("emperor upgraded", "", cause: "SIGUSR2") }, "\(events())")
        #expect(has("live", "b", cause: "hactl swap-live"), "events kept: \(events())")
        let kept = try Self.json(statusPort, "/history.json?build=a&since=\(load.fromMs)&step=1")
        let keptRows = ((kept["builds"] as? [String: Any])?["a"] as? [String: Any])?["points"] as? [[Any]] ?? []
        #expect(keptRows.count >= rows.count, "points of the load kept: \(keptRows.count) of \(rows.count)")
    }
}

extension DashboardTests {
    /// Headless Chromium (Debian's) renders the page after a swap: no script
    /// error, each chart has the points of the last minute that /history.json
    /// has, the swap is a marker on the new live build's chart and in the event
    /// list, and `#worker=a/1` opens that worker's popover with its fields.
    @Test func thePageDrawsHistoryEventsAndPopoversInABrowser() throws {
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: FileSystem.exists) else {
            Issue.record("chromium is not installed (scripts/setup.sh installs it)")
            return
        }
        guard let (s, statusPort) = try StatusPageTests.startBuilds() else { return }
        defer { s.cleanup() }
        try FileManager.default.createSymbolicLink(atPath: s.dir.file("builds/_live"), withDestinationPath: "a")
        try FileManager.default.createSymbolicLink(atPath: s.dir.file("builds/_stage"), withDestinationPath: "b")
        _ = Self.pacedLoad(port: s.ports["a"]!, path: "/v/pid", clients: 2, perClient: 20, seconds: 4)
        let (rc, out) = try runCapturing(TestProcess.binDirectory + "/hactl", ["--deploy", s.dir.path, "--status", "127.0.0.1:\(statusPort)", "--nginx-reload", "true", "swap-live"])
        #expect(rc == 0, "\(out)")
        _ = Self.pacedLoad(port: s.ports["b"]!, path: "/v/pid", clients: 2, perClient: 20, seconds: 3)
        // The emperor's last minute of points, per build (a point a second since the builds started).
        func recentPoints(_ build: String) -> Int {
            let history = (try? Self.json(statusPort, "/history.json?step=1&build=\(build)")) ?? [:]
            let points = (((history["builds"] as? [String: Any])?[build] as? [String: Any])?["points"] as? [[Any]]) ?? []
            return points.filter { (($0[0] as? Double) ?? 0) > Date().timeIntervalSince1970 * 1000 - 60_000 }.count
        }
        // On a slow machine the loads above may take less than 8 s of the emperor's samples: wait for them.
        #expect(waitUntil(10) { recentPoints("a") >= 8 && recentPoints("b") >= 8 })

        // An empty dump is Chromium not rendering at all (seen once under the whole suite's
        // load), not the page: it gets a second start.
        var page = ""
        for _ in 0..<2 where page.isEmpty {
            page = try runCapturing(chromium, [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=\(s.dir.file("chromium"))",
                "--window-size=1400,1000", "--virtual-time-budget=3000", "--dump-dom", "http://127.0.0.1:\(statusPort)/#worker=a/1",
            ], discardErrors: true).1
        }
        // No script error, no console error (a failed fetch is one), and the page says when it updated.
        #expect(!page.contains("data-errors="), "\(page.prefix(3000))")
        let sub = page.components(separatedBy: "id=\"sub\">").dropFirst().first?.components(separatedBy: "</div>").first ?? ""
        #expect(sub.contains("emperor pid") && sub.contains("updated ") && !sub.contains("cannot reach"), "\(sub)")
        // The charts: as many points of the last minute as the emperor has (a tick may fall between).
        for build in ["a", "b"] {
            let recent = recentPoints(build)
            let drawn = Self.attribute("data-last-minute", of: "data-chart=\"\(build)\"", in: page).flatMap { Int($0) } ?? -1
            #expect(recent >= 8 && abs(drawn - recent) <= 3, "build \(build): drawn \(drawn), history \(recent)")
        }
        #expect(page.contains("class=\"c2\""), "a stacked 2xx area")
        #expect(page.contains("class=\"p99\""), "a p99 line")
        // The swap: a marker on b's chart, and rows in the event list.
        let bChart = page.components(separatedBy: "data-chart=\"b\"").dropFirst().first?.components(separatedBy: "</svg>").first ?? ""
        #expect(bChart.contains("class=\"marker swap\" data-event=\"live\""), "\(bChart.suffix(1500))")
        #expect(page.contains("<tr data-event=\"live\" data-build=\"b\">"))
        // The popover of worker 1 of build a, opened by the address.
        let popover = page.components(separatedBy: "id=\"pop\"").dropFirst().first?.components(separatedBy: "</div>").first ?? ""
        #expect(popover.contains("display: block"), "\(popover)")
        for field in ["worker 1", "pid ", "requests ", "exceptions ", "avg response ", "RSS ", "ready in ", "recycled "] {
            #expect(popover.contains(field), "\(field): \(popover)")
        }
    }

    /// The value of `name` on the element whose attributes include `marker`.
    static func attribute(_ name: String, of marker: String, in page: String) -> String? {
        guard let tag = page.components(separatedBy: "<").first(where: { $0.contains(marker) }),
              let start = tag.range(of: name + "=\"") else { return nil }
        return String(tag[start.upperBound...].prefix { $0 != "\"" })
    }
}

extension DashboardTests {
    /// `hactl top` in a pseudo-terminal: frames redrawn (screen cleared each
    /// time), a row per build with its figures, the live/stage marks and the last event.
    @Test func hactlTopDrawsARowPerBuildInATerminal() throws {
        guard let (s, statusPort) = try StatusPageTests.startBuilds() else { return }
        defer { s.cleanup() }
        try FileManager.default.createSymbolicLink(atPath: s.dir.file("builds/_live"), withDestinationPath: "a")
        // Load on build a while top runs (from a second before it, so its frames see it).
        let port = s.ports["a"]!
        let loadDone = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            _ = Self.pacedLoad(port: port, path: "/v/pid?ms=5", clients: 2, perClient: 20, seconds: 5)
            loadDone.signal()
        }
        defer { loadDone.wait() }
        Thread.sleep(forTimeInterval: 1.2)
        // Python's pty module runs hactl on a terminal for 3.5 s, then interrupts it.
        let script = """
            import os, pty, select, signal, sys, time
            pid, fd = pty.fork()
            if pid == 0:
                os.execv(sys.argv[1], sys.argv[1:])
            out, end = b"", time.time() + 3.5
            while time.time() < end:
                if select.select([fd], [], [], 0.2)[0]:
                    try: out += os.read(fd, 65536)
                    except OSError: break
            os.kill(pid, signal.SIGINT)
            for _ in range(40):
                if os.waitpid(pid, os.WNOHANG)[0]: break
                time.sleep(0.05)
            else:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                out += b"\\nNOT STOPPED BY SIGINT\\n"
            sys.stdout.write(out.decode("utf-8", "replace"))
            """
        let (_, out) = try runCapturing("/usr/bin/python3", ["-c", script, TestProcess.binDirectory + "/hactl",
                                                             "--status", "127.0.0.1:\(statusPort)", "top"])
        let frames = out.components(separatedBy: "\u{1B}[H\u{1B}[2J").filter { !$0.isEmpty }
        #expect(frames.count >= 3, "\(out)")
        #expect(!out.contains("NOT STOPPED BY SIGINT"), "Ctrl-C quits")
        let last = try #require(frames.last)
        #expect(last.contains("req/s") && last.contains("p99 ms") && last.contains("busy/ready") && last.contains("last event"), "\(last)")
        let lines = last.components(separatedBy: .newlines)
        let a = try #require(lines.first { $0.hasPrefix("a ") }, "\(last)")
        let b = try #require(lines.first { $0.hasPrefix("b ") }, "\(last)")
        #expect(a.contains("live") && !b.contains("live"))
        // Build a's row has its figures: req/s of its load (40/s), p50/p99 in ms, workers busy/ready of 2, RSS in MB.
        let cells = a.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        #expect(cells.count >= 10, "\(a)")
        if cells.count >= 10 {
            #expect((Double(cells[2]) ?? 0) > 20 && (Double(cells[3]) ?? 0) >= 5 && (Double(cells[4]) ?? 0) >= 5, "\(a)")
            #expect(cells[7].hasSuffix("/2") && Int(cells[8]) != nil && cells[9] == "MB", "\(a)")
        }
        #expect(a.contains("ago:"), "the last event: \(a)")
    }
}
