import Foundation
import Testing
@testable import Shared

/// Clients that send slowly on purpose (slowloris heads, trickled bodies):
/// deadlines end them, and no worker waits on them meanwhile.
@Suite struct HostileClientTests {
    /// Sends one byte to every client still open, `every` seconds, until each is
    /// answered or `seconds` have passed; returns each client's status (0: none)
    /// and when it was answered (seconds from the start).
    static func dribble(_ clients: [HTTPClient], byte: String, every: Double, for seconds: Double,
                        beside: (() -> Void)? = nil) -> [(status: Int, at: Double)] {
        let start = Date()
        var outcome = [(status: Int, at: Double)](repeating: (0, 0), count: clients.count)
        var open = Set(clients.indices)
        var nextSend = Date()
        var nextBeside = Date()
        while !open.isEmpty && Date().timeIntervalSince(start) < seconds {
            // One poll(2) over every open client: the loop stays cheap on a loaded machine.
            var fds = open.map { pollfd(fd: clients[$0].fd.rawValue, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), 10)
            let now = Date().timeIntervalSince(start)
            for p in fds where p.revents != 0 {
                guard let i = open.first(where: { clients[$0].fd.rawValue == p.fd }) else { continue }
                outcome[i] = ((try? clients[i].readResponse(timeout: 1))?.status ?? -1, now)
                open.remove(i)
            }
            if Date() >= nextSend {
                for i in open { try? clients[i].send(byte) }
                nextSend = Date().addingTimeInterval(every)
            }
            if Date() >= nextBeside {
                beside?()
                nextBeside = Date().addingTimeInterval(0.05)
            }
        }
        return outcome
    }

    /// Latencies (ms) of `count` requests one after the other.
    static func latencies(_ port: Int, _ count: Int) -> [Double] {
        (0..<count).map { _ in
            let start = Date()
            let ok = (try? HTTPClient.once(port: port, "/v/pid", timeout: 2).status) == 200
            return ok ? Date().timeIntervalSince(start) * 1000 : .infinity
        }
    }

    static func p90(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? .infinity : sorted[min(sorted.count - 1, sorted.count * 9 / 10)]
    }

    @Test func slowlorisHeadsAreAnswered408AtTheHeadDeadline() throws {
        // A backlog that holds all 200 at once: the deadline then starts for all alike.
        let setup = try VassalSetup(vassalArgs: ["--http-headers-timeout", "2", "--listen", "1024"], withStats: true)
        defer { setup.cleanup() }
        try setup.startZerg(workers: 2)
        let clients = try (0..<200).map { _ in try HTTPClient(port: setup.port) }
        for c in clients { try c.send("GET /v/pid HTTP/1.1\r\nHost: t\r\nX-Slow: ") }
        var normal: [Int] = []
        let outcome = Self.dribble(clients, byte: "x", every: 0.5, for: 8) {
            if normal.count < 20 { normal.append((try? HTTPClient.once(port: setup.port, "/v/pid", timeout: 2).status) ?? 0) }
        }
        let latest = outcome.map(\.at).max() ?? 0
        print("slowloris: 200 clients dribbling a header byte every 0.5 s, http-headers-timeout 2: all answered \(Set(outcome.map(\.status))) by \(String(format: "%.2f", latest)) s")
        #expect(outcome.allSatisfy { $0.status == 408 }, "\(Dictionary(grouping: outcome, by: \.status).mapValues(\.count))")
        #expect(latest <= 3.0)  // the head deadline + 1 s
        #expect(normal.allSatisfy { $0 == 200 }, "\(normal)")
        let stats = try StatsTests.read(setup.statsPath)
        #expect((stats["handoff"] as? [String: Any])?["head_timeouts"] as? Int == 200)
        // One line per sweep (4 a second), not one per client.
        #expect(setup.vassal.logLines(containing: "did not send a request head within 2 s").count <= 12)
    }

    @Test func trickledBodiesWaitInTheVassalNotInAWorker() throws {
        let setup = try VassalSetup(vassalArgs: ["--http-body-timeout", "2"])
        defer { setup.cleanup() }
        try setup.startZerg(workers: 2)
        let clients = try (0..<8).map { _ in try HTTPClient(port: setup.port) }
        for c in clients { try c.send("POST /v/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n") }
        let alone = Self.latencies(setup.port, 20)
        var beside: [Double] = []
        let outcome = Self.dribble(clients, byte: "b", every: 0.5, for: 8) { beside += Self.latencies(setup.port, 1) }
        print("8 bodies trickled at 2 bytes/s: normal requests p90 \(String(format: "%.1f", Self.p90(beside))) ms beside them (\(beside.count)), \(String(format: "%.1f", Self.p90(alone))) ms before; trickled ones answered \(Set(outcome.map(\.status)))")
        #expect(beside.count > 20)
        #expect(Self.p90(beside) < Self.p90(alone) + 100)
        #expect(outcome.allSatisfy { $0.status == 408 && $0.at <= 3.5 }, "\(outcome)")
        // No worker ever saw them.
        for z in setup.zergs { #expect(!z.log().contains("request body")) }
    }

    @Test func aSmallBodyIsBufferedByTheVassalAndReachesTheAppWhole() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        try setup.startZerg(workers: 1)
        let c = try HTTPClient(port: setup.port)
        try c.send("POST /v/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello")
        usleep(300_000)  // the rest comes later: the vassal holds the request meanwhile
        try c.send(" world")
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.body.contains("\"body\": \"hello world\""), "\(r.body)")
        // Chunked too, checked on the way: a malformed one is refused by the vassal.
        let bad = try HTTPClient(port: setup.port)
        try bad.send("POST /v/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n")
        #expect(try bad.readResponse().status == 400)
        #expect(try c.get("/v/pid").status == 200)
    }

    /// The vassal with 256 descriptors and 1,000 clients holding half-sent heads.
    /// With the default cap (the limit less 64) it holds 192 and answers the
    /// rest 503; with a cap above the limit it runs out of descriptors and
    /// answers 503 from its reserve one. Either way: no spinning, no worker
    /// detached (a handed-back connection whose fd cannot be received is
    /// replaced by the vassal's own copy), and everything works again as soon
    /// as the clients go.
    @Test(arguments: [[], ["--max-connections", "1000"]])
    func runningOutOfDescriptorsNeitherSpinsNorDetaches(_ extra: [String]) throws {
        let dir = try TestDirectory("vassal-nofile")
        defer { dir.remove() }
        let socket = dir.file("zerg.sock")
        let vassal = try TestProcess("/usr/bin/prlimit", ["--nofile=256:256", TestProcess.binDirectory + "/vassal", "--http", "127.0.0.1:0",
                                                          "--zerg-server", socket, "--listen", "2048"] + extra, log: dir.file("vassal.log"))
        defer { vassal.stop() }
        guard waitUntil(10, { VassalSetup.listeningPort(of: vassal) != nil }), let port = VassalSetup.listeningPort(of: vassal) else {
            Issue.record("the vassal did not start: \(vassal.log())")
            return
        }
        let zerg = try TestProcess("zerg", ["--zerg", socket, "--wsgi-file", TestProcess.appsPath, "--processes", "2", "--disable-logging"],
                                   log: dir.file("zerg.log"), cwd: dir.path)
        defer { zerg.stop() }
        #expect(waitUntil(30) { zerg.log().contains("worker(s) serving") })
        let keeper = try HTTPClient(port: port)  // a keep-alive client from before
        #expect(try keeper.get("/v/pid").status == 200)

        var flood = try (0..<1000).map { _ in try HTTPClient(port: port) }
        for c in flood { try? c.send("GET /v/pid HTTP/1.1\r\nHost: t\r\n") }
        let ticksBefore = ProcStat.read(vassal.pid)?.cpuTicks ?? 0
        var statuses: [Int] = []
        var kept: [Int] = []
        // The keeper sends its head in two parts: its worker gives the connection
        // back to the vassal to read the rest (`HeldConnectionTests`), through a
        // vassal out of descriptors.
        func inTwoParts() throws -> Int {
            try keeper.send("GET /v/pid HTTP/1.1\r\nHo")
            usleep(20_000)
            try keeper.send("st: t\r\n\r\n")
            return try keeper.readResponse(timeout: 2).status
        }
        let start = Date()
        while Date().timeIntervalSince(start) < 5 {
            statuses.append((try? HTTPClient.once(port: port, "/v/pid", timeout: 2).status) ?? 0)
            kept.append((try? inTwoParts()) ?? 0)
            usleep(200_000)
        }
        let ticks = (ProcStat.read(vassal.pid)?.cpuTicks ?? 0) - ticksBefore
        print("nofile 256, 1,000 half-sent heads\(extra.isEmpty ? "" : " (\(extra.joined(separator: " ")))"): vassal CPU \(ticks) ticks in 5 s; new clients saw \(Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count)), the keep-alive one \(Dictionary(grouping: kept, by: { $0 }).mapValues(\.count))")
        #expect(ticks < 50)  // < 10 % of a core (100 ticks a second)
        #expect(statuses.allSatisfy { $0 == 200 || $0 == 503 }, "\(statuses)")
        if extra.isEmpty {
            // At the cap, newcomers are told 503. (Idle keep-alive connections parked in
            // the vassal would be let go first, as nginx drains reusable ones; the keeper's
            // is held by its worker or being read, never idle here: it is served throughout.)
            #expect(statuses.contains(503), "\(statuses)")
            #expect(kept.allSatisfy { $0 == 200 }, "\(kept)")
        } else {
            // Under the cap but out of descriptors: its connection came back from
            // the worker without its fd, and the vassal's own copy carried on.
            #expect(kept.allSatisfy { $0 == 200 }, "\(kept)")
            #expect(vassal.log().contains("arrived without their fd"), "\(vassal.log().suffix(2000))")
        }
        #expect(!vassal.log().contains("detach"), "\(vassal.log().suffix(2000))")
        flood.removeAll()
        #expect(waitUntil(2) { (try? HTTPClient.once(port: port, "/v/pid", timeout: 1).status) == 200 })
    }
}
