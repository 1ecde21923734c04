import Foundation
import Testing
@testable import Shared

/// uWSGI-compatible stats sockets on the zerg and the vassal: valid JSON that
/// matches the live state, read by uwsgitop unchanged.
@Suite(.serialized)
struct StatsTests {
    static func read(_ path: String, http: Bool = false) throws -> [String: Any] {
        let fd = try FileDescriptor.connect(unixPath: path)
        defer { fd.close() }
        if http { try fd.writeAll("GET / HTTP/1.0\r\n\r\n") }
        var text = String(decoding: try fd.readToEnd(), as: UTF8.self)
        if http {
            #expect(text.hasPrefix("HTTP/1.0 200 OK\r\n"))
            text = String(text[text.range(of: "\r\n\r\n")!.upperBound...])
        }
        return try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text.prefix(200))")
    }

    static func workers(_ doc: [String: Any]) -> [[String: Any]] { doc["workers"] as? [[String: Any]] ?? [] }

    @Test func zergAndVassalStatsFollowTheLiveState() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        let vassalStats = setup.dir.file("v.stats"), zergStats = setup.dir.file("z.stats")
        // (the vassal above has no stats; this one does)
        let vassal = try TestProcess("vassal", ["--http", "127.0.0.1:0", "--zerg-server", setup.dir.file("s.sock"), "--stats", vassalStats,
                                                "--stats-http"], log: setup.dir.file("v2.log"))
        defer { vassal.stop() }
        guard waitUntil(10, { VassalSetup.listeningPort(of: vassal) != nil }), let port = VassalSetup.listeningPort(of: vassal) else {
            Issue.record("vassal did not start: \(vassal.log())")
            return
        }
        let zerg = try TestProcess("zerg", ["--zerg", setup.dir.file("s.sock"), "--wsgi-file", TestProcess.appsPath, "--processes", "2",
                                            "--disable-logging", "--stats", zergStats], log: setup.dir.file("z2.log"), cwd: setup.dir.path)
        defer { zerg.stop() }
        #expect(waitUntil(30) { zerg.log().contains("worker(s) serving") })

        for _ in 0..<7 { #expect(try HTTPClient.once(port: port, "/v/pid").status == 200) }
        // A slow request: its worker is busy with it while it runs.
        let slow = try HTTPClient(port: port)
        try slow.send("GET /v/pid?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(waitUntil(5) { Self.workers((try? Self.read(zergStats)) ?? [:]).contains { $0["status"] as? String == "busy" } })
        let during = try Self.read(zergStats)
        let busy = try #require(Self.workers(during).first { $0["status"] as? String == "busy" })
        #expect(busy["request"] as? String == "GET /v/pid?ms=1500")
        #expect((busy["cores"] as? [[String: Any]])?.first?["in_request"] as? Int == 1)
        let v = try Self.read(vassalStats, http: true)
        #expect(Self.workers(v).count == 2)
        #expect(Self.workers(v).filter { $0["status"] as? String == "busy" }.count == 1)
        #expect(try slow.readResponse().status == 200)

        // Counts add up to what was sent (7 + the slow one), in both documents (the worker
        // counts a request just after its response went out: wait for it).
        #expect(waitUntil(5) {
            let w = Self.workers((try? Self.read(zergStats)) ?? [:])
            return w.reduce(0) { $0 + ($1["requests"] as? Int ?? 0) } == 8 && w.allSatisfy { $0["status"] as? String == "idle" }
        })
        let after = try Self.read(zergStats)
        #expect(Self.workers(after).reduce(0) { $0 + ($1["requests"] as? Int ?? 0) } == 8)
        #expect(Self.workers(after).allSatisfy { $0["status"] as? String == "idle" })
        #expect(after["listen_queue"] as? Int == 0)
        #expect(Self.workers(after).allSatisfy { ($0["pid"] as? Int ?? 0) > 0 && $0["respawn_count"] as? Int == 1 })
        #expect(Self.workers(after).allSatisfy { ($0["ready_ms"] as? Int ?? -1) >= 0 })
        // The vassal counts requests as each worker's seat says.
        #expect(waitUntil(5) { Self.workers((try? Self.read(vassalStats, http: true)) ?? [:]).reduce(0) { $0 + ($1["requests"] as? Int ?? 0) } == 8 })
        let v2 = try Self.read(vassalStats, http: true)
        #expect((v2["handoff"] as? [String: Any])?["dispatched"] as? Int == 8)
        // The slow client's keep-alive connection, idle: its worker holds it.
        #expect(v2["parked_connections"] as? Int == 0)
        #expect(v2["held_connections"] as? Int == 1)
        #expect(Self.workers(v2).reduce(0) { $0 + ($1["held_connections"] as? Int ?? 0) } == 1)
    }

    @Test func uwsgitopShowsOurWorkers() throws {
        let root = FileSystem.directoryName(FileSystem.directoryName(FileSystem.directoryName("\(#filePath)")))
        let venv = root + "/.build/venv-django"
        let env = Process()
        env.executableURL = URL(fileURLWithPath: "/bin/bash")
        env.arguments = [root + "/scripts/python-env.sh"]
        env.standardOutput = FileHandle.nullDevice
        try env.run()
        env.waitUntilExit()
        let uwsgitop = venv + "/bin/uwsgitop"
        guard FileSystem.exists(uwsgitop), FileSystem.exists("/usr/bin/script") else {
            Issue.record("uwsgitop (examples/requirements.txt) or script(1) is missing")
            return
        }
        let setup = try VassalSetup(withStats: true)
        defer { setup.cleanup() }
        let stats = setup.dir.file("z.stats")
        let zerg = try setup.startZerg(workers: 2, args: ["--stats", stats])
        for _ in 0..<3 { #expect(try HTTPClient.once(port: setup.port, "/v/pid").status == 200) }
        for path in [stats, setup.statsPath] {
            let screen = try Self.uwsgitop(uwsgitop, path)
            #expect(screen.contains("WID") && screen.contains("STATUS"), "\(screen.prefix(500))")
            for pid in setup.workers(of: zerg) { #expect(screen.contains(String(pid)), "worker \(pid) not on the screen of \(path)") }
            #expect(screen.contains("idle"))
            #expect(!screen.contains("Traceback"))
        }
    }

    /// One screen of uwsgitop, non-interactively: script(1) gives it a terminal, timeout ends it.
    static func uwsgitop(_ uwsgitop: String, _ stats: String) throws -> String {
        try runCapturing("/usr/bin/timeout", ["3", "/usr/bin/script", "-q", "-c", "stty cols 140 rows 30; \(uwsgitop) \(stats)", "/dev/null"],
                         environment: ["TERM": "xterm", "PATH": "/usr/bin:/bin"]).output
    }
}
