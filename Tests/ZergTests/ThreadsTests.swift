import Foundation
import Testing
@testable import Shared

/// `threads`: request threads per worker, each a core of its own.
@Suite(.serialized) struct ThreadsTests {
    /// The answers of `clients` concurrent requests for `path`, and how long
    /// they took together (each on its own connection).
    static func concurrently(port: Int, path: String, clients: Int) -> (bodies: [String], seconds: Double) {
        final class Bodies: @unchecked Sendable {
            let lock = NSLock()
            var all: [String] = []
        }
        let bodies = Bodies()
        let done = DispatchGroup()
        let start = Date()
        for _ in 0..<clients {
            done.enter()
            Thread {
                defer { done.leave() }
                guard let fd = try? FileDescriptor.connect(host: "127.0.0.1", port: port) else { return }
                defer { fd.close() }
                let x = (try? fd.writeAll("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
                    .flatMap { try? ZergHarness.read(fd, responses: 1, timeout: 10) }
                guard let r = x?.first, r.status == 200 else { return }
                bodies.lock.withLock { bodies.all.append(String(decoding: r.body, as: UTF8.self)) }
            }.start()
        }
        done.wait()
        return (bodies.lock.withLock { bodies.all }, Date().timeIntervalSince(start))
    }

    /// The measure: 8 concurrent 0.5 s requests on 2 processes × 4
    /// threads finish together in under 0.7 s. With one thread per worker the
    /// same requests take four rounds (the check that the measure can fail).
    @Test(arguments: [4, 1])
    func eightSleepingRequestsOnTwoWorkers(threads: Int) throws {
        let z = try ZergHarness(["--processes", "2", "--threads", String(threads), "--disable-logging"])
        defer { z.cleanup() }
        let (bodies, seconds) = Self.concurrently(port: z.port, path: "/v/pid?ms=500", clients: 8)
        #expect(bodies.count == 8, "every request answered: \(bodies.count)\n\(z.log())")
        #expect(Set(bodies.map { $0.split(separator: " ")[0] }).count == 2, "both workers served")
        if threads == 4 {
            #expect(seconds < 0.7, "8 × 0.5 s on 2 × 4 threads: \(seconds) s")
        } else {
            #expect(seconds > 1.9, "8 × 0.5 s on 2 × 1: four rounds, \(seconds) s")
        }
    }

    /// The app is told it may be called from several threads; stats list one
    /// core per thread with its own count, and the log line names the core.
    @Test func theAppAndStatsSeeTheThreads() throws {
        let z = try ZergHarness(["--processes", "1", "--threads", "3", "--stats", "zerg.stats"])
        defer { z.cleanup() }
        let echo = try z.exchange("GET /v/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").responses.first?.json()
        #expect(echo?["wsgi.multithread"] as? Bool == true)
        // Three slow requests at once: each thread takes one.
        let (bodies, _) = Self.concurrently(port: z.port, path: "/v/pid?ms=300", clients: 3)
        #expect(bodies.count == 3)
        let stats = try FileDescriptor.connect(unixPath: z.dir + "/zerg.stats")
        defer { stats.close() }
        let document = try JSONSerialization.jsonObject(with: Data(try stats.readToEnd())) as? [String: Any]
        let worker = (document?["workers"] as? [[String: Any]])?.first
        let cores = worker?["cores"] as? [[String: Any]] ?? []
        #expect(cores.map { $0["id"] as? Int } == [0, 1, 2])
        let perCore = cores.compactMap { $0["requests"] as? Int }
        #expect(perCore.allSatisfy { $0 >= 1 }, "every thread served: \(perCore)")
        #expect(perCore.reduce(0, +) == worker?["requests"] as? Int)
        #expect(z.log().contains("switches on core 2)"), "the log line names the core")
    }

    /// How many of the first worker's cores are in a request now (stats).
    static func coresInRequest(_ z: ZergHarness) -> Int {
        guard let stats = try? FileDescriptor.connect(unixPath: z.dir + "/zerg.stats") else { return 0 }
        defer { stats.close() }
        guard let bytes = try? stats.readToEnd(),
              let document = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let worker = (document["workers"] as? [[String: Any]])?.first else { return 0 }
        return (worker["cores"] as? [[String: Any]] ?? []).filter { $0["in_request"] as? Int == 1 }.count
    }

    /// Harakiri on any thread replaces the whole worker (the other threads
    /// serve meanwhile); a graceful stop waits for every thread's request.
    @Test func harakiriReplacesTheWorkerAndStopsWaitForEveryThread() throws {
        let z = try ZergHarness(["--processes", "1", "--threads", "4", "--harakiri", "2", "--stats", "zerg.stats"])
        defer { z.cleanup() }
        let port = z.port
        let stuck = Thread {
            if let fd = try? FileDescriptor.connect(host: "127.0.0.1", port: port) {
                try? fd.writeAll("GET /v/pid?ms=5000 HTTP/1.1\r\nHost: x\r\n\r\n")
                _ = try? ZergHarness.read(fd, responses: 1, timeout: 10)
                fd.close()
            }
        }
        stuck.start()
        #expect(z.waitUntil(3) { Self.coresInRequest(z) == 1 })
        let before = z.workers()
        let (quick, seconds) = Self.concurrently(port: z.port, path: "/v/pid", clients: 3)
        #expect(quick.count == 3 && seconds < 1, "the other threads serve meanwhile: \(seconds) s")
        #expect(z.waitUntil(6) { z.log().contains("HARAKIRI") && !z.workers().isEmpty && z.workers() != before })
        #expect(z.waitUntil(5) { z.log().components(separatedBy: " ready (").count >= 3 }, "a replacement is ready")

        // Four requests in flight, one per thread, when SIGTERM arrives: all four are answered.
        final class Answers: @unchecked Sendable {
            let lock = NSLock()
            var count = 0
        }
        let answers = Answers()
        let done = DispatchGroup()
        for _ in 0..<4 {
            done.enter()
            Thread {
                defer { done.leave() }
                guard let fd = try? FileDescriptor.connect(host: "127.0.0.1", port: port) else { return }
                defer { fd.close() }
                try? fd.writeAll("GET /v/pid?ms=800 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if (try? ZergHarness.read(fd, responses: 1, timeout: 10))?.first?.status == 200 { answers.lock.withLock { answers.count += 1 } }
            }.start()
        }
        #expect(z.waitUntil(3) { Self.coresInRequest(z) == 4 }, "each thread holds one request")
        z.signal(SIGTERM)
        done.wait()
        #expect(answers.count == 4, "every in-flight request answered: \(answers.count)\n\(z.log())")
        #expect(z.waitUntil(5) { z.hasExited() })
    }
}
