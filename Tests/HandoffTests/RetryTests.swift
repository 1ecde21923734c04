import Foundation
import Testing
@testable import Shared

/// A worker killed before writing a byte of its response: the vassal sends a
/// GET to another worker (the client sees 200), and answers a POST with 502.
@Suite(.serialized)
struct RetryTests {
    /// The pid of the worker running `request`, from the zerg master's SIGUSR2 report.
    func busyWorker(_ z: TestProcess, running request: String) -> pid_t? {
        var found: pid_t?
        _ = waitUntil(5) {
            z.signal(SIGUSR2)
            usleep(100_000)
            guard let line = z.logLines(containing: ": \(request) for ").last,
                  let range = line.range(of: " pid ") else { return false }
            found = pid_t(line[range.upperBound...].prefix { $0.isNumber })
            return found != nil
        }
        return found
    }

    @Test func aGetIsRetriedAndAPostIsAnswered502() throws {
        let setup = try VassalSetup(withStats: true)
        defer { setup.cleanup() }
        let z = try setup.startZerg(workers: 2)

        // A keep-alive client: its first request is answered, then the second one's worker dies.
        let client = try HTTPClient(port: setup.port)
        #expect(try client.get("/v/pid").status == 200)
        usleep(50_000)  // back in the vassal, so the next request is handed over again
        try client.send("GET /v/pid?ms=1500 HTTP/1.1\r\nHost: t\r\n\r\n")
        let victim = try #require(busyWorker(z, running: "GET /v/pid?ms=1500"))
        kill(victim, SIGKILL)
        let retried = try client.readResponse(timeout: 10)
        #expect(retried.status == 200, "\(setup.vassal.log())")
        #expect(!retried.body.hasPrefix("\(victim) "))
        #expect(!setup.vassal.logLines(containing: "its request goes to another worker").isEmpty)

        let post = try HTTPClient(port: setup.port)
        try post.send("POST /v/pid?ms=1600 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
        let second = try #require(busyWorker(z, running: "POST /v/pid?ms=1600"))
        kill(second, SIGKILL)
        let answer = try post.readResponse(timeout: 10)
        #expect(answer.status == 502)
        #expect(answer.headers["connection"] == "close")

        let stats = try #require(StatsClient.fetch(.unix(setup.statsPath), timeoutMs: 2000))
        #expect(stats["handoff"]?["retried"]?.intValue == 1)
        #expect(stats["handoff"]?["bad_gateway"]?.intValue == 1)
    }

    /// The handoff's retry state survives a vassal reload (re-exec) in between.
    @Test func aRequestHeldAcrossAVassalReloadIsStillRetried() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        let z = try setup.startZerg(workers: 2)
        let client = try HTTPClient(port: setup.port)
        #expect(try client.get("/v/pid").status == 200)
        usleep(50_000)
        try client.send("GET /v/pid?ms=2000 HTTP/1.1\r\nHost: t\r\n\r\n")
        let victim = try #require(busyWorker(z, running: "GET /v/pid?ms=2000"))
        setup.vassal.signal(SIGHUP)
        #expect(waitUntil(10) { !setup.vassal.logLines(containing: "reloaded:").isEmpty }, "\(setup.vassal.log())")
        kill(victim, SIGKILL)
        let r = try client.readResponse(timeout: 10)
        #expect(r.status == 200, "\(setup.vassal.log())")
        #expect(!setup.vassal.logLines(containing: "its request goes to another worker").isEmpty)
    }
}

/// Through the vassal, an app that cannot load: the zerg says so to the
/// vassal, which answers 503 at once instead of after queue-timeout.
@Suite(.serialized)
struct AppFailureThroughTheVassalTests {
    @Test func requestsGet503AtOnceWhileTheAppCannotLoad() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        let broken = FileSystem.directoryName(TestProcess.appsPath) + "/broken_app.py"
        try setup.startZerg(workers: 2, args: ["--wsgi-file", broken], wait: false)
        #expect(waitUntil(10) { !setup.vassal.logLines(containing: "cannot load").isEmpty }, "\(setup.vassal.log())")
        let start = Date()
        let r = try HTTPClient.once(port: setup.port, "/", timeout: 5)
        #expect(r.status == 503)
        #expect(r.headers["retry-after"] == "1")
        #expect(r.body.contains("module_that_does_not_exist"))
        #expect(Date().timeIntervalSince(start) < 1)
    }
}
