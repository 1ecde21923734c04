import Foundation
import Testing
@testable import Shared

/// Seated workers (`HandoffSeat`) hold their keep-alive connections between
/// requests; what the vassal promised for connections it held must hold for
/// these too: a worker's death, a rolling reload, a request head that comes in
/// pieces. Each test uses one keep-alive connection throughout (HTTPClient
/// fails on a closed one), so "the client never knew" is what it checks.
@Suite(.serialized)
struct HeldConnectionTests {
    func stats(_ setup: VassalSetup) throws -> [String: Any] { try StatsTests.read(setup.statsPath, http: false) }

    func pid(_ response: HTTPClient.Response) -> pid_t { pid_t(response.body.split(separator: " ")[0]) ?? 0 }

    @Test func anIdleHeldConnectionOutlivesItsWorker() throws {
        let setup = try VassalSetup(withStats: true)
        defer { setup.cleanup() }
        try setup.startZerg(workers: 2)
        let client = try HTTPClient(port: setup.port)
        let first = try client.get("/v/pid")
        #expect(first.status == 200)
        // Held by its worker, not parked in the vassal; later requests on it go to the same worker.
        #expect(waitUntil(5) { (try? stats(setup))?["held_connections"] as? Int == 1 })
        #expect(try stats(setup)["parked_connections"] as? Int == 0)
        usleep(20_000)
        #expect(pid(try client.get("/v/pid")) == pid(first))
        // Idle: its worker has finished with the response (killed between its last write and
        // this, the vassal could not tell a whole response from a cut one, and would close it).
        #expect(waitUntil(5) { StatsTests.workers((try? stats(setup)) ?? [:]).allSatisfy { $0["status"] as? String == "idle" } })
        kill(pid(first), SIGKILL)
        #expect(waitUntil(10) { !setup.vassal.logLines(containing: "idle connection(s) it held are parked here").isEmpty },
                "\(setup.vassal.log())")
        // The vassal took it over: the next request on it goes to the other worker.
        let after = try client.get("/v/pid")
        #expect(after.status == 200 && pid(after) != pid(first), "\(setup.vassal.log())")
        #expect(setup.vassal.logLines(containing: "502").isEmpty && setup.vassal.logLines(containing: "cut").isEmpty)
    }

    @Test func aRollingReloadGivesHeldConnectionsBack() throws {
        let setup = try VassalSetup(withStats: true)
        defer { setup.cleanup() }
        let zerg = try setup.startZerg(workers: 2)
        let client = try HTTPClient(port: setup.port)
        let before = Set(setup.workers(of: zerg))
        #expect(try client.get("/v/pid").status == 200)
        zerg.signal(SIGHUP)
        #expect(waitUntil(20) { !zerg.logLines(containing: "rolling reload done").isEmpty }, "\(zerg.log())")
        // Every old worker handed its connection back before it left; a new one serves it.
        let after = try client.get("/v/pid")
        #expect(after.status == 200)
        #expect(!before.contains(pid(after)), "\(before) \(after.body)")
        let handoff = try stats(setup)["handoff"] as? [String: Any]
        #expect((handoff?["handed_back"] as? Int ?? 0) >= 1)
    }

    /// A seated worker notes the connections it closes in its seat (the closed
    /// ring) and the vassal closes its copies at its next turn, without a message
    /// per connection; a worker that predates the ring (version 5) still says
    /// `heldClosed`. Either way no copy stays open in the vassal.
    @Test func closedConnectionsAreNotedInTheSeat() throws {
        let setup = try VassalSetup(withStats: true)
        defer { setup.cleanup() }
        func openFds() -> Int { ((try? FileSystem.list("/proc/\(setup.vassal.pid)/fd")) ?? []).count }
        func closedInSeats() -> Int { (try? stats(setup))?["handoff"].flatMap { ($0 as? [String: Any])?["closed_in_seats"] as? Int } ?? -1 }
        for version in ["5", "6"] {
            let zerg = try setup.startZerg(workers: 2, env: ["HADJANGO_HANDOFF_VERSION": version])
            let baseline = openFds()
            let before = closedInSeats()
            for _ in 0..<200 { #expect(try HTTPClient.once(port: setup.port, "/v/pid").status == 200) }
            // Every copy closes within the vassal's idle wait (250 ms), the stats socket's reads aside.
            #expect(waitUntil(3) { openFds() <= baseline && (try? stats(setup))?["held_connections"] as? Int == 0 },
                    "version \(version): \(openFds()) fds (\(baseline) before)")
            let noted = closedInSeats() - before
            #expect(version == "5" ? noted == 0 : noted == 200, "version \(version): \(noted) closed in seats")
            zerg.stop()
            #expect(waitUntil(10) { StatsTests.workers((try? stats(setup)) ?? [:]).isEmpty })
        }
        #expect(setup.vassal.logLines(containing: "detaching it").isEmpty, "\(setup.vassal.log())")
    }

    /// A seated worker that comes free tells a sleeping vassal (`available`,
    /// board word 2) and only then: 10 clients at once on one worker, each a
    /// 40 ms request; the vassal hands the next as the last ends, not at its
    /// idle wake-up (250 ms).
    @Test func aWorkerThatComesFreeWakesASleepingVassal() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        try setup.startZerg(workers: 1)
        let port = setup.port
        let done = DispatchGroup()
        let served = SlotPackingTests.Collected()
        for _ in 0..<10 {
            done.enter()
            Thread {
                served.add((try? HTTPClient.once(port: port, "/v/spin?sleep=40", timeout: 20)).flatMap(SlotPackingTests.spin))
                done.leave()
            }.start()
        }
        done.wait()
        let runs = served.snapshot.sorted { $0.start < $1.start }
        #expect(served.failures == 0 && runs.count == 10)
        // Idle time of the one worker between requests.
        let idleMs = zip(runs, runs.dropFirst()).reduce(0.0) { $0 + Double($1.1.start &- min($1.1.start, $1.0.end)) / 1e6 }
        #expect(idleMs < 150, "the worker stood idle \(idleMs) ms between 10 requests")
    }

    /// A head that comes in pieces on a held connection goes back to the vassal,
    /// which reads the rest under its own deadline: the worker is free meanwhile.
    @Test func aHeadInPiecesOnAHeldConnectionIsReadByTheVassal() throws {
        let setup = try VassalSetup(withStats: true)
        defer { setup.cleanup() }
        try setup.startZerg(workers: 1)
        let client = try HTTPClient(port: setup.port)
        #expect(try client.get("/v/pid").status == 200)
        #expect(waitUntil(5) { (try? stats(setup))?["held_connections"] as? Int == 1 })
        try client.send("GET /v/echo?x=3 HTTP/1.1\r\nHo")
        #expect(waitUntil(5) { (try? stats(setup))?["parked_connections"] as? Int == 1 })
        // The one worker serves another client meanwhile.
        #expect(try HTTPClient.once(port: setup.port, "/v/pid", timeout: 5).status == 200)
        try client.send("st: t\r\n\r\n")
        let r = try client.readResponse(timeout: 5)
        #expect(r.status == 200 && r.body.contains("\"QUERY_STRING\": \"x=3\""), "\(r.body)")
    }
}

extension HeldConnectionTests {
    /// A vassal serves a mix of builds as during an upgrade, under load: workers
    /// of an older build that take no seat (they hand keep-alive connections
    /// back, as before seats), then seated ones beside them; the older zerg
    /// leaves without a failed request.
    @Test func seatedAndUnseatedWorkersShareTheVassal() throws {
        let setup = try VassalSetup(withStats: true)
        defer { setup.cleanup() }
        let old = try setup.startZerg(workers: 2, env: ["HADJANGO_HANDOFF_VERSION": "4", "APP_VERSION": "old"])
        let load = LoadGenerator(port: setup.port, keepAlive: 4, close: 4)
        defer { load.stop() }
        #expect(load.waitForSuccesses(300))
        // Alone, the old build's workers hand keep-alive connections back, unseated.
        let handedBack = { (try? stats(setup))?["handoff"].flatMap { ($0 as? [String: Any])?["handed_back"] as? Int } ?? 0 }
        #expect(waitUntil(10) { handedBack() > 0 })
        #expect(StatsTests.workers(try stats(setup)).allSatisfy { $0["held_connections"] == nil })
        // The new build's workers take seats beside them and serve too.
        try setup.startZerg(workers: 2, env: ["APP_VERSION": "new"])
        #expect(waitUntil(10) {
            let seated = StatsTests.workers((try? stats(setup)) ?? [:]).filter { $0["held_connections"] != nil }
            return seated.count == 2 && seated.contains { ($0["requests"] as? Int ?? 0) > 0 }
        }, "\(StatsTests.workers((try? stats(setup)) ?? [:]))")
        let s = try #require(setup.stopGracefully(old, under: load))
        print("an older build's zerg leaves a vassal it shared with seated workers, under load: \(s)")
        #expect(s.failures.isEmpty, "\(s.failures.prefix(5).map { $0.failure ?? "" })")
        #expect(try HTTPClient.once(port: setup.port, "/v/pid").body.hasSuffix(" new"))
    }
}
