import Foundation
import Testing
@testable import Shared

/// The emperor's `status` page over two real builds: status.json merges every
/// instance's stats per build, /metrics is valid Prometheus text, / is the dashboard.
@Suite(.serialized)
struct StatusPageTests {
    static let root = FileSystem.directoryName(FileSystem.directoryName(FileSystem.directoryName("\(#filePath)")))

    /// Builds a and b under an emperor serving `--status`, both answering; nil
    /// (issue recorded, everything stopped) when they do not start.
    static func startBuilds(vassalExtra: String = "") throws -> (setup: BuildsSetup, statusPort: Int)? {
        let statusPort = try BuildsSetup.freePort()
        let s = try BuildsSetup(emperorArgs: ["--status", "127.0.0.1:\(statusPort)"], vassalExtra: vassalExtra)
        guard s.waitServing("a"), s.waitServing("b") else {
            Issue.record("builds did not start:\n\(s.emperor.log())")
            s.cleanup()
            return nil
        }
        return (s, statusPort)
    }

    static func get(_ port: Int, _ path: String) throws -> HTTPClient.Response {
        try HTTPClient.once(port: port, path, timeout: 10)
    }

    @Test func statusJSONMetricsAndDashboardFollowTheBuilds() throws {
        guard let (s, statusPort) = try Self.startBuilds() else { return }
        defer { s.cleanup() }
        try FileManager.default.createSymbolicLink(atPath: s.dir.file("builds/_live"), withDestinationPath: "a")
        try FileManager.default.createSymbolicLink(atPath: s.dir.file("builds/_stage"), withDestinationPath: "b")

        func status() throws -> [String: Any] {
            let r = try Self.get(statusPort, "/status.json")
            #expect(r.status == 200 && r.headers["content-type"] == "application/json")
            return try #require(try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any])
        }
        func build(_ doc: [String: Any], _ name: String) -> [String: Any]? {
            (doc["builds"] as? [[String: Any]])?.first { $0["name"] as? String == name }
        }
        func zergWorkers(_ b: [String: Any]?) -> [[String: Any]] {
            let zerg = (b?["instances"] as? [[String: Any]])?.first { $0["kind"] as? String == "zerg" }
            return ((zerg?["stats"] as? [String: Any])?["workers"] as? [[String: Any]]) ?? []
        }
        // Both builds, each with its vassal and zerg and their stats; live/stage from the links.
        #expect(waitUntil(10) { zergWorkers(build((try? status()) ?? [:], "b")).count == 2 })
        let doc = try status()
        let a = try #require(build(doc, "a")), b = try #require(build(doc, "b"))
        #expect(a["live"] as? Bool == true && a["stage"] as? Bool == false)
        #expect(b["stage"] as? Bool == true && b["live"] as? Bool == false)
        #expect((a["instances"] as? [[String: Any]])?.compactMap { $0["kind"] as? String }.sorted() == ["vassal", "zerg"])
        #expect(zergWorkers(a).count == 2)
        // Which binaries run: the emperor's build id, and each instance's.
        #expect((doc["emperor_build_id"] as? String)?.count == 40)
        for instance in (a["instances"] as? [[String: Any]]) ?? [] {
            let stats = instance["stats"] as? [String: Any]
            #expect((stats?["build_id"] as? String)?.count == 40, "\(instance["config"] ?? "?")")
            #expect(stats?["binary_replaced"] as? Bool == false)
        }

        // A slow request on build a: one of its workers is busy with it.
        let slow = try HTTPClient(port: s.ports["a"]!)
        try slow.send("GET /v/pid?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(waitUntil(5) { zergWorkers(build((try? status()) ?? [:], "a")).contains { $0["status"] as? String == "busy" } })
        let busy = zergWorkers(build(try status(), "a")).first { $0["status"] as? String == "busy" }
        #expect(busy?["request"] as? String == "GET /v/pid?ms=1500")
        #expect(try slow.readResponse().status == 200)

        // /metrics parses with prometheus_client's parser and has the per-worker families.
        let metrics = try Self.get(statusPort, "/metrics")
        #expect(metrics.status == 200)
        let file = s.dir.file("metrics.txt")
        try metrics.body.write(toFile: file, atomically: true, encoding: .utf8)
        let python = Self.root + "/.build/venv-django/bin/python"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", """
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            names = {f.name: len(f.samples) for f in text_string_to_metric_families(open(sys.argv[1]).read())}
            print(" ".join(f"{k}={v}" for k, v in sorted(names.items())))
            """, file]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(text)")
        #expect(text.contains("hadjango_worker_requests=4"), "\(text)")  // counters lose _total in the parser: 2 builds × 2 workers
        #expect(text.contains("hadjango_queue_depth=2"))
        #expect(text.contains("hadjango_instance_up=4"))
        #expect(text.contains("hadjango_static_requests=2"), "one per zerg")
        #expect(text.contains("hadjango_queue_wait_seconds="), "the dispatch wait histogram")

        // The dashboard page.
        let page = try Self.get(statusPort, "/")
        #expect(page.status == 200 && page.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(page.body.contains("status.json") && page.body.contains("<script>"))
        #expect(try Self.get(statusPort, "/nope").status == 404)
    }

    /// The probes an orchestrator uses: `/live` while the emperor answers;
    /// `/ready` when every build serves, or only the `_live` one once it exists.
    @Test func readyAndLiveFollowTheBuilds() throws {
        guard let (s, statusPort) = try Self.startBuilds() else { return }
        defer { s.cleanup() }
        let live = try Self.get(statusPort, "/live")
        #expect(live.status == 200 && live.body == "alive\n")
        // A build answers once its first worker is up; the emperor hears `ready` once all are.
        #expect(waitUntil(10) { (try? Self.get(statusPort, "/ready"))?.status == 200 })
        // A build whose workers cannot start (its app does not exist): not ready, and named.
        try FileManager.default.createDirectory(atPath: s.dir.file("builds/c"), withIntermediateDirectories: true)
        try s.dir.write("builds/c/zerg.ini", """
            [uwsgi]
            zerg = \(s.dir.file("run/c.sock"))
            wsgi-file = \(s.dir.file("no-such-app.py"))
            """)
        var answer = try Self.get(statusPort, "/ready")
        #expect(waitUntil(15) {
            answer = (try? Self.get(statusPort, "/ready")) ?? answer
            return answer.status == 503 && answer.body.contains("build c")
        }, "\(answer.body)")
        #expect(answer.body.contains("not ready: build c: ") && !answer.body.contains("build a"), "\(answer.body)")
        // Once `_live` names build a, only build a counts; swapped to c, c does; and back.
        try FileManager.default.createSymbolicLink(atPath: s.dir.file("builds/_live"), withDestinationPath: "a")
        #expect(try Self.get(statusPort, "/ready").status == 200)
        for (target, status) in [("c", 503), ("b", 200)] {
            try FileManager.default.createSymbolicLink(atPath: s.dir.file("builds/_live.new"), withDestinationPath: target)
            try FileSystem.rename(s.dir.file("builds/_live.new"), to: s.dir.file("builds/_live"))  // as hactl swaps it
            #expect(try Self.get(statusPort, "/ready").status == status, "_live → \(target)")
        }
        #expect(try Self.get(statusPort, "/live").status == 200)
    }

    /// Chromium (Debian's, headless) renders the dashboard: workers of both
    /// builds appear, each vassal's attached daemon too, and a worker serving
    /// a slow request turns busy.
    @Test func theDashboardRendersInAHeadlessBrowser() throws {
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: FileSystem.exists) else {
            Issue.record("chromium is not installed (scripts/setup.sh installs it)")
            return
        }
        guard let (s, statusPort) = try Self.startBuilds(vassalExtra: "attach-daemon = exec sleep 300") else { return }
        defer { s.cleanup() }
        func dom() throws -> String {
            try runCapturing(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=\(s.dir.file("chromium"))",
                                        "--virtual-time-budget=4000", "--dump-dom", "http://127.0.0.1:\(statusPort)/"], discardErrors: true).output
        }
        let page = try dom()
        #expect(page.contains("data-build=\"a\"") && page.contains("data-build=\"b\""), "\(page.prefix(2000))")
        // Rendered dots (the page's script has the attribute too, but not followed by a digit).
        let dots = page.components(separatedBy: "data-worker=\"").dropFirst().filter { $0.first?.isNumber == true }
        #expect(dots.count == 4, "two workers per build")
        #expect(page.components(separatedBy: "data-daemon-status=\"running\"").count == 3, "a running daemon per build's vassal: \(page.prefix(3000))")
        // A slow request on build a: the page shows one busy worker.
        let slow = try HTTPClient(port: s.ports["a"]!)
        try slow.send("GET /v/pid?ms=8000 HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(waitUntil(10) { ((try? dom()) ?? "").contains("data-status=\"busy\"") })
    }
}
