import Foundation
import Testing
@testable import Shared

/// Worker lifecycle in zerg mode, as a client sees it: harakiri, recycling
/// under load, touch reloads and warm-up before traffic.
@Suite(.serialized)
struct LifecycleTests {
    @Test func aRequestPastHarakiriKillsItsWorkerAndTheNextOneSucceeds() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        let zerg = try setup.startZerg(workers: 2, args: ["--harakiri", "1"])
        let start = Date()
        // Killed before answering, the GET goes to the other worker once (nginx's
        // proxy_next_upstream); killed there too, the client gets 502.
        let r = try HTTPClient.once(port: setup.port, "/v/pid?ms=5000", timeout: 10)
        let took = Date().timeIntervalSince(start)
        print("a 5 s request under harakiri = 1 ended after \(String(format: "%.2f", took)) s")
        #expect(r.status == 502)
        #expect(took >= 1.8 && took < 5)
        #expect(waitUntil(5) { zerg.logLines(containing: "HARAKIRI").count == 2 })
        #expect(zerg.logLines(containing: "HARAKIRI").allSatisfy { $0.contains("GET /v/pid?ms=5000") })
        #expect(try HTTPClient.once(port: setup.port, "/v/pid").status == 200)
        #expect(waitUntil(10) { setup.workers(of: zerg).count == 2 })
    }

    @Test func maxRequestsRecyclesWorkersWithoutFailingARequest() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        let zerg = try setup.startZerg(workers: 2, args: ["--max-requests", "40", "--min-worker-lifetime", "0"])
        let before = Set(setup.workers(of: zerg))
        let start = Host.monotonicNanoseconds()
        let load = LoadGenerator(port: setup.port, keepAlive: 3, close: 3)
        defer { load.stop() }
        #expect(load.waitForSuccesses(400))
        #expect(waitUntil(20) { zerg.logLines(containing: "recycled: max-requests").count >= 4 })
        #expect(load.waitForSuccesses(100))
        load.stop()
        let s = load.summary(from: start, to: Host.monotonicNanoseconds())
        print("max-requests 40 under load: \(s); \(zerg.logLines(containing: "recycled").count) recycles")
        #expect(s.failures.isEmpty, "\(s.failures.prefix(5).map { $0.failure ?? "" })")
        #expect(Set(setup.workers(of: zerg)).isDisjoint(with: before))
    }

    @Test func reloadOnRSSRecyclesAGrowingWorkerWithoutFailingARequest() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        let zerg = try setup.startZerg(workers: 2, args: ["--reload-on-rss", "120", "--min-worker-lifetime", "0"])
        let start = Host.monotonicNanoseconds()
        let load = LoadGenerator(port: setup.port, keepAlive: 2, close: 2, path: "/v/grow?mb=4")
        defer { load.stop() }
        #expect(waitUntil(30) { zerg.logLines(containing: "recycled: reload-on-rss").count >= 2 }, "\(zerg.log().suffix(1500))")
        #expect(load.waitForSuccesses(50))
        load.stop()
        let s = load.summary(from: start, to: Host.monotonicNanoseconds())
        print("reload-on-rss 120 MB with 4 MB kept per request: \(s); \(zerg.logLines(containing: "recycled").count) recycles")
        #expect(s.failures.isEmpty, "\(s.failures.prefix(5).map { $0.failure ?? "" })")
    }

    @Test func touchingTheWSGIFileRollsEveryWorkerOntoTheNewCode() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        func app(_ version: String) -> String {
            """
            VERSION = "\(version)"
            def application(environ, start_response):
                body = VERSION.encode()
                start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
                return [body]
            """
        }
        try setup.dir.write("app.py", app("v1"))
        let zerg = try TestProcess("zerg", ["--zerg", setup.socketPath, "--wsgi-file", setup.dir.file("app.py"), "--processes", "3",
                                            "--disable-logging", "--touch-workers-reload", setup.dir.file("app.py")],
                                   log: setup.dir.file("zerg-touch.log"), cwd: setup.dir.path)
        setup.zergs.append(zerg)
        #expect(waitUntil(30) { (try? HTTPClient.once(port: setup.port, "/", timeout: 2).body) == "v1" })
        let load = LoadGenerator(port: setup.port, keepAlive: 3, close: 3, path: "/")
        defer { load.stop() }
        #expect(load.waitForSuccesses(200))
        let start = Host.monotonicNanoseconds()
        try setup.dir.write("app.py", app("v2"))
        #expect(waitUntil(20) { !zerg.logLines(containing: "rolling reload done").isEmpty }, "\(zerg.log())")
        #expect(load.waitForSuccesses(200))
        load.stop()
        let s = load.summary(from: start, to: Host.monotonicNanoseconds())
        print("touch-workers-reload of 3 workers under load: \(s)")
        #expect(s.failures.isEmpty, "\(s.failures.prefix(5).map { $0.failure ?? "" })")
        for _ in 0..<10 { #expect(try HTTPClient.once(port: setup.port, "/").body == "v2") }
    }

    @Test func warmUpDelaysReadyAndNoClientRequestReachesAColdWorker() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        let events = setup.dir.file("events.log")
        // Clients are already waiting in the vassal's queue when the workers start.
        let clients = try (0..<12).map { _ in try HTTPClient(port: setup.port) }
        for c in clients { try c.send("GET /v/pid HTTP/1.1\r\nHost: t\r\n\r\n") }
        let zerg = try setup.startZerg(workers: 2, args: ["--warmup", "/v/pid?ms=300"], env: ["TEST_EVENTS": events], wait: false)
        for c in clients { #expect(try c.readResponse(timeout: 30).status == 200) }
        // Both workers' ready lines (the clients may all have been served by the first one ready).
        #expect(waitUntil(10) { zerg.logLines(containing: "ready in").count >= 2 })
        let readyLines = zerg.logLines(containing: "warm-up ")
        print(readyLines.filter { $0.contains("ready in") }.joined(separator: "\n"))
        let warmups = readyLines.filter { $0.contains("ready in") }.compactMap { line -> Int? in
            guard let r = line.range(of: "warm-up ") else { return nil }
            return Int(line[r.upperBound...].prefix { $0.isNumber })
        }
        #expect(warmups.count == 2 && warmups.allSatisfy { $0 >= 300 && $0 < 1500 })
        // Per worker: every client request started after its warm-up ended.
        let text = (try? String(contentsOfFile: events, encoding: .utf8)) ?? ""
        let served: [[String]] = text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            .filter { $0.count == 5 && $0[0] == "served" }
        var warmEnd: [String: UInt64] = [:]
        for e in served where e[2] == "zerg-warmup" {
            warmEnd[e[1]] = max(warmEnd[e[1]] ?? 0, UInt64(e[4]) ?? 0)
        }
        let clientRequests = served.filter { $0[2] != "zerg-warmup" }
        #expect(clientRequests.count == 12)
        for e in clientRequests {
            let end = try #require(warmEnd[e[1]], "pid \(e[1]) served a client without a warm-up")
            let began = UInt64(e[3]) ?? 0
            #expect(began >= end)
        }
    }
}

/// SIGTSTP on the zerg master pauses and resumes every worker.
@Suite(.serialized)
struct PauseTests {
    @Test func sigtstpPausesTheWorkersAndASecondOneResumesThem() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        let zerg = try setup.startZerg(workers: 2)
        zerg.signal(SIGTSTP)
        #expect(waitUntil(10) { zerg.logLines(containing: "paused: taking no new connections").count == 2 })
        // Paused: the request waits in the vassal's queue...
        let client = try HTTPClient(port: setup.port)
        try client.send("GET /v/pid HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(throws: (any Error).self) { try client.readResponse(timeout: 0.5) }
        // ...and is served once the workers resume.
        zerg.signal(SIGTSTP)
        #expect(try client.readResponse(timeout: 10).status == 200)
        // The first worker to resume may serve it before the other has logged.
        #expect(waitUntil(5) { zerg.logLines(containing: "resumed").count == 2 })
    }
}

/// The adaptive worker count with the busyness algorithm (short windows so
/// the test runs in seconds): load grows the workers, quiet shrinks them.
@Suite(.serialized)
struct CheaperTests {
    @Test func busynessGrowsWorkersUnderLoadAndRetiresThemWhenIdle() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        let zerg = try setup.startZerg(workers: 1, args: [
            "--workers", "4", "--cheaper", "1", "--cheaper-algo", "busyness", "--cheaper-overload", "1",
            "--cheaper-busyness-multiplier", "1", "--cheaper-busyness-penalty", "0",
        ])
        #expect(setup.workers(of: zerg).count == 1)
        let start = Host.monotonicNanoseconds()
        let load = LoadGenerator(port: setup.port, keepAlive: 4, close: 4, path: "/v/pid?ms=15")
        defer { load.stop() }
        #expect(waitUntil(20) { setup.workers(of: zerg).count == 4 }, "\(zerg.log())")
        let grew = Host.monotonicNanoseconds()
        #expect(load.waitForSuccesses(100))
        load.stop()
        let stopped = Host.monotonicNanoseconds()
        #expect(waitUntil(30) { setup.workers(of: zerg).count == 1 }, "\(zerg.log())")
        let shrank = Host.monotonicNanoseconds()
        let s = load.summary(from: start, to: stopped)
        print("busyness: 1 → 4 workers in \((grew - start) / 1_000_000) ms under load, back to 1 in \((shrank - grew) / 1_000_000) ms; \(s)")
        print(zerg.logLines(containing: "cheaper (").joined(separator: "\n"))
        #expect(s.failures.isEmpty, "\(s.failures.prefix(5).map { $0.failure ?? "" })")
        #expect(zerg.logLines(containing: "retiring idle worker").count >= 3)
        // The queue drained, and one request still works.
        setup.vassal.signal(SIGUSR1)
        #expect(waitUntil(5) { setup.vassal.logLines(containing: "queued: 0;").count > 0 })
        #expect(try HTTPClient.once(port: setup.port, "/v/pid").status == 200)
    }
}

