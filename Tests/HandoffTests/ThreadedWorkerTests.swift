import Foundation
import Testing
@testable import Shared

/// Zerg workers with `threads` attached to a vassal: each thread attaches as a
/// core of its own, so a worker takes as many connections at once as it has threads.
@Suite(.serialized) struct ThreadedWorkerTests {
    /// Statuses of `clients` concurrent GETs of `path` (0: no answer), and how long they took together.
    static func concurrently(port: Int, path: String, clients: Int, during: () -> Void = {}) -> (statuses: [Int], seconds: Double) {
        final class Statuses: @unchecked Sendable {
            let lock = NSLock()
            var all: [Int] = []
        }
        let statuses = Statuses()
        let done = DispatchGroup()
        let start = Date()
        for _ in 0..<clients {
            done.enter()
            Thread {
                defer { done.leave() }
                let status = (try? HTTPClient.once(port: port, path))?.status ?? 0
                statuses.lock.withLock { statuses.all.append(status) }
            }.start()
        }
        during()
        done.wait()
        return (statuses.lock.withLock { statuses.all }, Date().timeIntervalSince(start))
    }

    /// Cores of every worker in a request now, from the zerg's stats socket.
    static func coresInRequest(_ statsPath: String) -> Int {
        guard let stats = try? FileDescriptor.connect(unixPath: statsPath) else { return 0 }
        defer { stats.close() }
        guard let bytes = try? stats.readToEnd(),
              let document = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else { return 0 }
        let cores = (document["workers"] as? [[String: Any]] ?? []).flatMap { $0["cores"] as? [[String: Any]] ?? [] }
        return cores.filter { $0["in_request"] as? Int == 1 }.count
    }

    /// 8 concurrent 0.5 s requests through the vassal on 2 workers × 4 threads
    /// finish together (< 0.7 s); a rolling reload of the zerg while 8 more are
    /// in flight answers every one of them.
    @Test func twoWorkersOfFourThreadsServeEightAtOnce() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        let zerg = try setup.startZerg(workers: 2, args: ["--threads", "4", "--stats", "zerg.stats"])
        let (statuses, seconds) = Self.concurrently(port: setup.port, path: "/v/pid?ms=500", clients: 8)
        #expect(statuses == Array(repeating: 200, count: 8))
        #expect(seconds < 0.7, "8 × 0.5 s on 2 × 4 threads: \(seconds) s")

        let (during, _) = Self.concurrently(port: setup.port, path: "/v/pid?ms=500", clients: 8) {
            #expect(waitUntil(3) { Self.coresInRequest(setup.dir.file("zerg.stats")) == 8 }, "each thread holds one request")
            zerg.signal(SIGHUP)
        }
        #expect(during == Array(repeating: 200, count: 8), "every request in flight answered: \(during)")
        #expect(waitUntil(15) { !zerg.logLines(containing: "rolling reload done").isEmpty })
        let after = try HTTPClient.once(port: setup.port, "/v/pid")
        #expect(after.status == 200)
    }
}
