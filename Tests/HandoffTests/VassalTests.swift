import Foundation
import Testing
@testable import Shared

/// The vassal and zerg mode, as real processes on loopback: connections are
/// accepted by the vassal and handed to zerg workers over the zerg-server socket.
@Suite(.serialized)
struct VassalTests {
    @Test func requestsAreServedThroughTheVassalAndKeepAliveConnectionsStayWithTheirWorker() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        try setup.startZerg(workers: 2)
        let workers = Set(setup.workers(of: setup.zergs[0]))

        // One keep-alive connection, pauses longer than the linger: its worker
        // holds it between requests (`HandoffSeat`), and serves each one.
        let client = try HTTPClient(port: setup.port)
        var servedBy = Set<String>()
        for _ in 0..<6 {
            let r = try client.get("/v/pid")
            #expect(r.status == 200)
            servedBy.insert(String(r.body.split(separator: " ")[0]))
            usleep(20_000)
        }
        #expect(servedBy.isSubset(of: Set(workers.map(String.init))))
        #expect(servedBy.count == 1, "\(servedBy)")
        // Pipelined requests in one write: answered in order on the same connection.
        try client.send("GET /v/pid HTTP/1.1\r\nHost: t\r\n\r\nGET /v/echo?x=2 HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try client.readResponse().status == 200)
        let echo = try client.readResponse()
        #expect(echo.status == 200 && echo.body.contains("\"QUERY_STRING\": \"x=2\""))
        // The vassal's status line counts the connections workers hold.
        setup.vassal.signal(SIGUSR1)
        #expect(waitUntil(5) { !setup.vassal.logLines(containing: "by workers: 1,").isEmpty }, "\(setup.vassal.log())")
        // Connection: close is honoured.
        let last = try client.get("/v/pid", close: true)
        #expect(last.status == 200 && last.headers["connection"] == "close")
    }

    @Test func malformedHeadsAreRefusedByTheVassalItself() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        // No zerg attached: the vassal answers on its own.
        let bad = try HTTPClient(port: setup.port)
        try bad.send("GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n")
        #expect(try bad.readResponse(timeout: 5).status == 400)
        let long = try HTTPClient(port: setup.port)
        try long.send("GET / HTTP/1.1\r\nHost: t\r\nX-Big: \(String(repeating: "a", count: 8000))\r\n\r\n")
        #expect(try long.readResponse(timeout: 5).status == 431)
    }

    @Test func aRequestWaitsInTheQueueUntilAWorkerAttaches() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        let client = try HTTPClient(port: setup.port)
        try client.send("GET /v/pid HTTP/1.1\r\nHost: t\r\n\r\n")
        usleep(200_000)
        try setup.startZerg(workers: 1, wait: false)
        let r = try client.readResponse(timeout: 30)
        #expect(r.status == 200)
    }

    @Test func queueTimeoutAnswers503WithRetryAfter() throws {
        let setup = try VassalSetup(vassalArgs: ["--queue-timeout", "1"])
        defer { setup.cleanup() }
        let start = Date()
        let r = try HTTPClient.once(port: setup.port, "/v/pid", timeout: 10)
        #expect(r.status == 503)
        #expect(r.headers["retry-after"] == "1")
        #expect(Date().timeIntervalSince(start) >= 0.9)
    }

    /// A request given ahead of time to the only (busy) worker still obeys
    /// queue-timeout, also after a vassal reload: once its worker is free it is
    /// answered 503 without the app running, not served late.
    @Test func aRequestHandedAheadObeysQueueTimeout() throws {
        let setup = try VassalSetup(vassalArgs: ["--queue-timeout", "1"])
        defer { setup.cleanup() }
        try setup.startZerg(workers: 1)
        // Across a reload too: the new image knows what the attached worker understands.
        kill(setup.vassal.pid, SIGHUP)
        #expect(waitUntil(10) { setup.vassal.log().contains("reloaded:") })
        let slow = try HTTPClient(port: setup.port)
        try slow.send("GET /v/pid?ms=2500 HTTP/1.1\r\nHost: t\r\n\r\n")
        usleep(200_000)  // the worker is busy with it
        let late = try HTTPClient(port: setup.port)
        try late.send("GET /v/pid HTTP/1.1\r\nHost: t\r\nUser-Agent: late\r\n\r\n")
        #expect(try slow.readResponse().status == 200)
        let r = try late.readResponse(timeout: 5)
        #expect(r.status == 503, "\(r.body)")
        #expect(r.headers["retry-after"] == "1")
        #expect(setup.zergs[0].log().contains("waited past queue-timeout"))
    }

    @Test func slowClientsAndIdleKeepAliveConnectionsDoNotDelayOthers() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        try setup.startZerg(workers: 2)
        func medianLatencyMs() throws -> Double {
            var samples: [Double] = []
            for _ in 0..<30 {
                let start = Host.monotonicNanoseconds()
                #expect(try HTTPClient.once(port: setup.port, "/v/pid").status == 200)
                samples.append(Double(Host.monotonicNanoseconds() - start) / 1e6)
            }
            return samples.sorted()[samples.count / 2]
        }
        let baseline = try medianLatencyMs()
        // 500 keep-alive connections, each served once and then left idle (parked in the vassal).
        var idle: [HTTPClient] = []
        for _ in 0..<500 {
            let c = try HTTPClient(port: setup.port)
            #expect(try c.get("/v/pid").status == 200)
            idle.append(c)
        }
        // 8 clients that dribble a request head one byte at a time.
        let dribblers = try (0..<8).map { _ in try HTTPClient(port: setup.port) }
        let head = Array("GET /v/pid HTTP/1.1\r\nHost: t\r\n\r\n".utf8)
        for (i, d) in dribblers.enumerated() { try d.send(String(decoding: head[0..<(i + 1)], as: UTF8.self)) }
        let loaded = try medianLatencyMs()
        print("median request latency: \(String(format: "%.2f", baseline)) ms alone, \(String(format: "%.2f", loaded)) ms beside 500 idle keep-alive connections and 8 dribbling clients")
        #expect(loaded < baseline + 5)
        // The idle ones still work, and so do the dribblers once their heads complete.
        #expect(try idle[0].get("/v/pid").status == 200)
        for (i, d) in dribblers.enumerated() { try d.send(String(decoding: head[(i + 1)...], as: UTF8.self)) }
        for d in dribblers { #expect(try d.readResponse().status == 200) }
    }

    @Test func aVassalReloadUnderLoadLosesNoRequest() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        try setup.startZerg(workers: 2)
        let load = LoadGenerator(port: setup.port, keepAlive: 4, close: 4)
        defer { load.stop() }
        #expect(load.waitForSuccesses(200))
        let start = Host.monotonicNanoseconds()
        for n in 1...3 {
            setup.vassal.signal(SIGHUP)
            #expect(waitUntil(10) { setup.vassal.logLines(containing: "reloaded:").count >= n })
            #expect(load.waitForSuccesses(200))
        }
        load.stop()
        let s = load.summary(from: start, to: Host.monotonicNanoseconds())
        print("3 vassal reloads (re-exec) under load: \(s)")
        #expect(s.failures.isEmpty, "\(s.failures.prefix(5).map { $0.failure ?? "" })")
        #expect(!setup.vassal.hasExited())
    }

    @Test func twoZergsShareTheVassalAndOneLeavesGracefully() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        let old = try setup.startZerg(workers: 2, env: ["APP_VERSION": "old"])
        try setup.startZerg(workers: 2, env: ["APP_VERSION": "new"])
        let load = LoadGenerator(port: setup.port, keepAlive: 4, close: 4)
        defer { load.stop() }
        #expect(load.waitForSuccesses(300))
        let s = try #require(setup.stopGracefully(old, under: load))
        print("graceful stop of one of two zergs under load: \(s)")
        #expect(s.failures.isEmpty, "\(s.failures.prefix(5).map { $0.failure ?? "" })")
        #expect(old.exitStatus == .exited(0))
        // Only the new build answers now.
        #expect(try HTTPClient.once(port: setup.port, "/v/pid").body.hasSuffix(" new"))
    }

    @Test func killingAWorkerLosesOnlyWhatItHeld() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        let zerg = try setup.startZerg(workers: 3)
        let load = LoadGenerator(port: setup.port, keepAlive: 4, close: 4)
        defer { load.stop() }
        #expect(load.waitForSuccesses(300))
        let start = Host.monotonicNanoseconds()
        let victim = setup.workers(of: zerg)[0]
        kill(victim, SIGKILL)
        #expect(waitUntil(20) { setup.workers(of: zerg).count == 3 && !setup.workers(of: zerg).contains(victim) })
        #expect(load.waitForSuccesses(300))
        load.stop()
        let s = load.summary(from: start, to: Host.monotonicNanoseconds())
        print("kill -9 of a worker under load: \(s)")
        // Every failure is a response the vassal reports cut by the dead worker
        // (a request it had not answered went to another worker, or got 502).
        let lost = setup.vassal.logLines(containing: "pid \(victim)").filter { $0.contains("response under way") }
        for f in s.failures {
            #expect(lost.contains { $0.contains("127.0.0.1:\(f.clientPort))") }, "failure not explained by the vassal's log: \(f.failure ?? "")")
        }
        #expect(s.failures.count <= 1)
    }

    @Test func aWorkerOfAnotherUserIsRefused() throws {
        guard getuid() == 0, let nobody = Identity.uid("nobody") else {
            print("skipped: needs root and a `nobody` user")
            return
        }
        let setup = try VassalSetup(vassalArgs: ["--chmod-socket", "666", "--queue-timeout", "2"])
        defer { setup.cleanup() }
        chmod(setup.dir.path, 0o755)
        let z = try setup.startZerg(workers: 1, args: ["--uid", "nobody"], wait: false)
        #expect(waitUntil(20) { !setup.vassal.logLines(containing: "worker attach(es), the last from").isEmpty })
        #expect(setup.vassal.logLines(containing: "worker attach(es), the last from").first?.contains("uid \(nobody)") == true)
        #expect(waitUntil(20) { !z.logLines(containing: "refused this worker").isEmpty }, "\(z.log())")
        #expect(try HTTPClient.once(port: setup.port, "/v/pid").status == 503)
    }

    /// A second vassal given the same zerg-server path is refused in one line
    /// naming the running one; the first keeps its workers and its port.
    @Test func aSecondVassalOnTheSameZergServerIsRefused() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        try setup.startZerg(workers: 1)
        let second = try TestProcess("vassal", ["--http", "127.0.0.1:0", "--zerg-server", setup.socketPath],
                                     log: setup.dir.file("second.log"))
        defer { second.stop() }
        #expect(waitUntil(10) { second.hasExited() })
        let refusal = second.log().split(separator: "\n").filter { $0.contains("zerg-server") }
        #expect(refusal.count == 1 && refusal.first?.contains("pid \(setup.vassal.pid) listens there") == true, "\(second.log())")
        #expect(try HTTPClient.once(port: setup.port, "/v/pid").status == 200)
        #expect(FileSystem.exists(setup.socketPath))
    }

    /// Links to the zerg-server socket that never say hello (from another
    /// user when the tests run as root): at most 64 wait at a time, each for
    /// at most 2 s, so they cannot exhaust the vassal; real workers are not
    /// affected.
    @Test func silentZergServerLinksAreBoundedAndExpire() throws {
        let setup = try VassalSetup(vassalArgs: ["--chmod-socket", "666"])
        defer { setup.cleanup() }
        chmod(setup.dir.path, 0o755)
        try setup.startZerg(workers: 1)
        func openFds() -> Int { ((try? FileSystem.list("/proc/\(setup.vassal.pid)/fd")) ?? []).count }
        let baseline = openFds()
        let script = """
            import socket, sys, time
            held = []
            for _ in range(300):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                try:
                    s.connect(sys.argv[1]); held.append(s)
                except OSError:
                    pass
            print(len(held), flush=True)
            time.sleep(5)
            """
        let asOther = getuid() == 0 ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : []
        let holder = try TestProcess(asOther.first ?? "/usr/bin/python3", Array(asOther.dropFirst()) + (asOther.isEmpty ? [] : ["/usr/bin/python3"])
                                     + ["-c", script, setup.socketPath], log: setup.dir.file("holder.log"))
        defer { holder.stop() }
        #expect(waitUntil(10) { !holder.log().isEmpty })
        usleep(300_000)
        let during = openFds()
        #expect(during <= baseline + 64 + 2, "\(during) fds open with 300 silent links (\(baseline) before)")
        #expect(try HTTPClient.once(port: setup.port, "/v/pid").status == 200)
        #expect(waitUntil(4) { openFds() <= baseline + 1 }, "silent links still open: \(openFds()) fds (\(baseline) before)")
        #expect(setup.vassal.log().contains("that said no hello within 2 s"))
        #expect(try HTTPClient.once(port: setup.port, "/v/pid").status == 200)
    }
}
