import Foundation
import Testing
@testable import Shared

/// The standalone zerg (`http-socket`) against clients that send slowly on
/// purpose: a head deadline, not a timer each byte resets, and no worker
/// waiting at a client's pace for a body its app did not read.
@Suite struct SlowClientTests {
    @Test func slowlorisHeadsAreAnswered408AtTheHeadDeadline() throws {
        let z = try ZergHarness(["--http-headers-timeout", "2", "--processes", "2", "--stats", "zerg.stats"])
        defer { z.cleanup() }
        let clients = try (0..<50).map { _ in try FileDescriptor.connect(host: "127.0.0.1", port: z.port) }
        defer { for c in clients { c.close() } }
        for c in clients { try c.writeAll("GET /v/pid HTTP/1.1\r\nHost: t\r\nX-Slow: ") }
        let start = Date()
        var answers: [Int: (String, Double)] = [:]
        while answers.count < clients.count && Date().timeIntervalSince(start) < 8 {
            for (i, c) in clients.enumerated() where answers[i] == nil {
                if (try? c.wait(timeoutMs: 0)) == true {
                    let text = (try? ZergHarness.read(c, responses: 1, timeout: 1).text) ?? ""
                    answers[i] = (String(text.prefix(12)), Date().timeIntervalSince(start))
                } else {
                    _ = try? c.writeAll("x")
                }
            }
            // A normal request is served meanwhile.
            #expect(try z.exchange("GET /v/pid HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").status == 200)
            usleep(500_000)
        }
        let latest = answers.values.map(\.1).max() ?? 0
        print("standalone slowloris: 50 clients, a header byte every 0.5 s, http-headers-timeout 2: answered by \(String(format: "%.2f", latest)) s")
        #expect(answers.count == clients.count)
        #expect(answers.values.allSatisfy { $0.0 == "HTTP/1.1 408" }, "\(Set(answers.values.map(\.0)))")
        #expect(latest <= 3.6)  // the deadline, the workers' once-a-second sweep, one dribble round
        // Counted in the zerg's stats (all workers' together).
        let stats = try FileDescriptor.connect(unixPath: z.dir + "/zerg.stats")
        defer { stats.close() }
        let document = try JSONSerialization.jsonObject(with: Data(try stats.readToEnd())) as? [String: Any]
        #expect(document?["head_timeouts"] as? Int == clients.count, "\(document?["head_timeouts"] ?? "none")")
    }

    /// The app answers without reading the body; the client sends the rest
    /// slowly. The worker answers and closes at once rather than reading the
    /// body at the client's pace, so the next request is not held behind it.
    @Test func anUnreadBodyIsNotAwaitedAtTheClientsPace() throws {
        let z = try ZergHarness(["--processes", "1"])
        defer { z.cleanup() }
        let slow = try FileDescriptor.connect(host: "127.0.0.1", port: z.port)
        defer { slow.close() }
        try slow.writeAll("POST /v/pid HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n0123456789")
        let answered = try ZergHarness.read(slow, responses: 1, timeout: 2)
        #expect(answered.status == 200)
        let start = Date()
        #expect(try z.exchange("GET /v/pid HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").status == 200)
        let waited = Date().timeIntervalSince(start)
        #expect(waited < 0.5, "the only worker was held for \(waited) s by a body nobody reads")
        // The slow client's connection was closed, not kept for its next request.
        #expect((try? slow.wait(timeoutMs: 1000)) == true)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { buffer.deallocate() }
        if case .completed(let n)? = try? slow.read(into: buffer) { #expect(n == 0) } else { Issue.record("no end of file") }
    }

    /// At `max-connections` a standalone worker lets its longest-idle
    /// keep-alive connection go to take a new client; with none idle, the new
    /// client is answered 503 at once rather than left waiting.
    @Test func atMaxConnectionsIdleOnesGoFirstThenNewcomersGet503() throws {
        let z = try ZergHarness(["--processes", "1", "--max-connections", "4"])
        defer { z.cleanup() }
        let request = "GET /v/pid HTTP/1.1\r\nHost: t\r\n\r\n"
        var idle: [FileDescriptor] = []
        defer { for c in idle { c.close() } }
        for _ in 0..<4 {
            let c = try FileDescriptor.connect(host: "127.0.0.1", port: z.port)
            try c.writeAll(request)
            #expect(try ZergHarness.read(c, responses: 1, timeout: 2).status == 200)
            idle.append(c)
        }
        // The cap is reached by idle ones: a new client is served, the oldest idle one closed.
        #expect(try z.exchange("GET /v/pid HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").status == 200)
        #expect((try? idle[0].wait(timeoutMs: 1000)) == true)  // end of file
        // Four half-sent heads fill it with nothing idle: the next client gets 503 at once.
        var partial: [FileDescriptor] = []
        defer { for c in partial { c.close() } }
        for _ in 0..<4 {
            let c = try FileDescriptor.connect(host: "127.0.0.1", port: z.port)
            try c.writeAll("GET /v/pid HTTP/1.1\r\n")
            partial.append(c)
        }
        usleep(200_000)
        let start = Date()
        #expect(try z.exchange("GET /v/pid HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").status == 503)
        #expect(Date().timeIntervalSince(start) < 1)
    }

    /// A standalone worker killed with -9 takes its idle keep-alive connections
    /// with it: the kernel closes them cleanly (end of file, not a reset or a
    /// hang), so their clients send the next request on a new connection.
    @Test func aKilledWorkersIdleConnectionsEndCleanly() throws {
        let z = try ZergHarness(["--processes", "2"])
        defer { z.cleanup() }
        let c = try FileDescriptor.connect(host: "127.0.0.1", port: z.port)
        defer { c.close() }
        try c.writeAll("GET /v/pid HTTP/1.1\r\nHost: t\r\n\r\n")
        let served = try ZergHarness.read(c, responses: 1, timeout: 2)
        let pid = try #require(Int32(String(decoding: served.first?.body ?? [], as: UTF8.self).split(separator: " ").first ?? ""))
        kill(pid, SIGKILL)
        #expect((try? c.wait(timeoutMs: 2000)) == true)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
        defer { buffer.deallocate() }
        if case .completed(let n)? = try? c.read(into: buffer) { #expect(n == 0) } else { Issue.record("a reset, not an end of file") }
        #expect(try z.exchange("GET /v/pid HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").status == 200)
    }

    /// A body the app reads, trickled below the floor rate: cut at
    /// `http-body-timeout` (400: the body is short), counted in stats.
    @Test func aTrickledBodyIsCutAtTheBodyDeadline() throws {
        let z = try ZergHarness(["--processes", "1", "--http-body-timeout", "1", "--stats", "zerg.stats"])
        defer { z.cleanup() }
        let c = try FileDescriptor.connect(host: "127.0.0.1", port: z.port)
        defer { c.close() }
        try c.writeAll("POST /v/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
        let start = Date()
        var answered = false
        while !answered && Date().timeIntervalSince(start) < 5 {
            _ = try? c.writeAll("b")
            answered = (try? c.wait(timeoutMs: 300)) == true
        }
        let waited = Date().timeIntervalSince(start)
        #expect(answered && waited < 2.5, "answered: \(answered) after \(waited) s")
        #expect(try ZergHarness.read(c, responses: 1, timeout: 1).status == 400)
        let stats = try FileDescriptor.connect(unixPath: z.dir + "/zerg.stats")
        defer { stats.close() }
        let document = try JSONSerialization.jsonObject(with: Data(try stats.readToEnd())) as? [String: Any]
        #expect(document?["body_timeouts"] as? Int == 1)
        #expect(z.log().contains("request body too slow"))
    }
}
