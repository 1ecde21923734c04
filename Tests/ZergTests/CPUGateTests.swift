import Foundation
import Testing
@testable import Shared

/// `cpu-slots`: workers of a CPU-bound app compute at most that many at once;
/// an app that waits on I/O keeps every worker busy.
@Suite(.serialized) struct CPUGateTests {
    typealias Interval = (start: UInt64, end: UInt64, pid: Int)

    /// The intervals the clients collected (filled from their threads).
    final class Intervals: @unchecked Sendable {
        private let lock = NSLock()
        private var all: [Interval] = []
        func add(_ i: Interval) { lock.withLock { all.append(i) } }
        var snapshot: [Interval] { lock.withLock { all } }
    }

    /// `clients` threads request `path` for `seconds` (a new connection per
    /// request, or one kept alive per client); returns the server-side
    /// intervals (monotonic ns) the app reported.
    static func load(port: Int, path: String, clients: Int, seconds: Double, keepAlive: Bool = false) -> [Interval] {
        let collected = Intervals()
        let deadline = Date().addingTimeInterval(seconds)
        let request = "GET \(path) HTTP/1.1\r\nHost: x\r\n\(keepAlive ? "" : "Connection: close\r\n")\r\n"
        let done = DispatchGroup()
        for _ in 0..<clients {
            done.enter()
            Thread {
                defer { done.leave() }
                var fd: FileDescriptor?
                defer { fd?.close() }
                while Date() < deadline {
                    if fd == nil { fd = try? FileDescriptor.connect(host: "127.0.0.1", port: port) }
                    guard let conn = fd else { continue }
                    let x = (try? conn.writeAll(request)).flatMap { try? ZergHarness.read(conn, responses: 1, timeout: 10, waitForClose: false) }
                    if !keepAlive || x?.first == nil {
                        conn.close()
                        fd = nil
                    }
                    guard let body = x?.first?.body else { continue }
                    let parts = String(decoding: body, as: UTF8.self).split(separator: " ")
                    guard parts.count == 3, let pid = Int(parts[0]), let s = UInt64(parts[1]), let e = UInt64(parts[2]) else { continue }
                    collected.add((s, e, pid))
                }
            }.start()
        }
        done.wait()
        return collected.snapshot
    }

    /// Requests in progress on average, over the intervals that start after
    /// the first `skipSeconds` (workers learn what their app is like first).
    static func concurrency(_ all: [Interval], skipSeconds: Double = 0.5) -> (average: Double, requests: Int) {
        guard let t0 = all.map(\.start).min() else { return (0, 0) }
        let intervals = all.filter { $0.start > t0 + UInt64(skipSeconds * 1e9) }
        guard let first = intervals.map(\.start).min(), let last = intervals.map(\.end).max(), last > first else { return (0, 0) }
        let busy = intervals.reduce(0.0) { $0 + Double($1.end - $1.start) }
        return (busy / Double(last - first), intervals.count)
    }

    /// Three workers of an app that computes 5 ms per request, six clients:
    /// with one slot the requests barely overlap; with the gate off (0) all
    /// three workers compute at once (the check that the measure can fail).
    @Test(arguments: [1, 0])
    func aCPUBoundAppComputesOnAtMostItsSlots(slots: Int) throws {
        let z = try ZergHarness(["--processes", "3", "--cpu-slots", String(slots), "--disable-logging"])
        defer { z.cleanup() }
        let (average, requests) = Self.concurrency(Self.load(port: z.port, path: "/v/spin?ms=5", clients: 6, seconds: 2.5))
        #expect(requests > 100, "requests kept flowing: \(requests)")
        if slots == 1 {
            #expect(average < 1.3, "one worker computes at a time: \(average)")
        } else {
            #expect(average > 1.6, "every worker computes: \(average)")
        }
    }

    /// The same workers, first computing, then waiting 100 ms per request (a
    /// slow database, say): the gate lets all three serve at once again.
    @Test func workersWaitingOnIOAreNotHeldBack() throws {
        let z = try ZergHarness(["--processes", "3", "--cpu-slots", "1", "--disable-logging"])
        defer { z.cleanup() }
        _ = Self.load(port: z.port, path: "/v/spin?ms=5", clients: 6, seconds: 1)
        let (average, requests) = Self.concurrency(Self.load(port: z.port, path: "/v/spin?sleep=100", clients: 6, seconds: 2))
        #expect(requests > 20)
        #expect(average > 2.4, "all three workers wait at once: \(average)")
    }

    /// Keep-alive clients of an app computing 3 ms, 4 workers, 2 slots: a
    /// gated worker passes the requests that come ready on its connections to
    /// the slot holders through the ready pool, so 2 workers serve nearly all
    /// of them; with the gate off (0) each worker serves its own clients.
    /// (Counted by worker, not by overlap: 8 client threads share the 2 cores
    /// too, and how many requests overlap depends on how they are scheduled.)
    @Test(arguments: [2, 0])
    func keepAliveRequestsGoToTheSlotHolders(slots: Int) throws {
        let z = try ZergHarness(["--processes", "4", "--cpu-slots", String(slots), "--disable-logging"])
        defer { z.cleanup() }
        let all = Self.load(port: z.port, path: "/v/spin?ms=3", clients: 8, seconds: 3, keepAlive: true)
        let t0 = all.map(\.start).min() ?? 0
        let measured = all.filter { $0.start > t0 + 1_000_000_000 }  // after every worker has learnt the app computes
        let byWorker = Dictionary(grouping: measured, by: \.pid).values.map(\.count).sorted(by: >)
        let share = Double(byWorker.prefix(2).reduce(0, +)) / Double(max(1, measured.count))
        #expect(measured.count > 200, "requests kept flowing: \(measured.count)")
        if slots == 2 {
            #expect(share > 0.9, "the 2 busiest workers served \(share) (\(byWorker))")
        } else {
            #expect(share < 0.8, "the 2 busiest workers served \(share) (\(byWorker))")
        }
    }

    /// Keep-alive clients keep all three workers computing (each serves the
    /// clients it holds, with or without a slot): a new client is still
    /// accepted at once, by a slot holder, not left in the accept queue.
    @Test func aNewClientIsServedWhileKeepAliveClientsKeepEveryWorkerBusy() throws {
        let z = try ZergHarness(["--processes", "3", "--cpu-slots", "1", "--disable-logging"])
        defer { z.cleanup() }
        let background = DispatchGroup()
        background.enter()
        let port = z.port
        Thread {
            _ = Self.load(port: port, path: "/v/spin?ms=5", clients: 6, seconds: 4, keepAlive: true)
            background.leave()
        }.start()
        defer { background.wait() }
        usleep(1_000_000)  // every worker has learnt that the app computes
        for _ in 0..<5 {
            let start = Date()
            let x = try z.exchange("GET /v/spin?ms=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout: 5)
            let seconds = Date().timeIntervalSince(start)
            #expect(x.status == 200)
            #expect(seconds < 0.5, "a new client waited \(seconds) s")
        }
    }
}
