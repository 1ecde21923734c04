import Foundation
import Testing
@testable import Shared

/// CPU slots through the vassal (`SlotPacking`): while the workers' app is
/// CPU-bound, the vassal hands new connections to `cpu-slots` of them; an app
/// that waits keeps them all busy; a slot holder that overruns its slot is
/// passed over.
@Suite(.serialized)
struct SlotPackingTests {
    /// A response of `/v/spin`: the worker's pid and when the app ran.
    struct Spin {
        let pid: pid_t
        let start: UInt64
        let end: UInt64
    }

    final class Collected: @unchecked Sendable {
        private let lock = NSLock()
        private var all: [Spin] = []
        private(set) var failures = 0
        func add(_ s: Spin?) { lock.withLock { if let s { all.append(s) } else { failures += 1 } } }
        var snapshot: [Spin] { lock.withLock { all } }
    }

    static func spin(_ response: HTTPClient.Response) -> Spin? {
        let parts = response.body.split(separator: " ")
        guard response.status == 200, parts.count == 3, let pid = pid_t(parts[0]), let s = UInt64(parts[1]), let e = UInt64(parts[2]) else { return nil }
        return Spin(pid: pid, start: s, end: e)
    }

    /// `clients` threads, each on a new keep-alive connection, request `path` for `seconds`.
    static func load(port: Int, path: String, clients: Int, seconds: Double, close: Bool = false) -> Collected {
        let collected = Collected()
        let deadline = Date().addingTimeInterval(seconds)
        let done = DispatchGroup()
        for _ in 0..<clients {
            done.enter()
            Thread {
                defer { done.leave() }
                var client: HTTPClient?
                while Date() < deadline {
                    if client == nil { client = try? HTTPClient(port: port) }
                    guard let c = client else { return collected.add(nil) }
                    let response = try? c.get(path, close: close)
                    collected.add(response.flatMap(spin))
                    if close || response == nil { client = nil }
                }
            }.start()
        }
        done.wait()
        return collected
    }

    /// Requests in progress on average over `spins`.
    static func concurrency(_ spins: [Spin]) -> Double {
        guard let first = spins.map(\.start).min(), let last = spins.map(\.end).max(), last > first else { return 0 }
        return spins.reduce(0.0) { $0 + Double($1.end - $1.start) } / Double(last - first)
    }

    /// A zerg of 4 workers with 2 slots, attached; every worker has learnt what the app is like.
    func start(_ setup: VassalSetup, learning path: String) throws {
        try setup.startZerg(workers: 4, args: ["--cpu-slots", "2"])
        // Connection: close requests from 4 clients reach every worker (nothing packs before all have learnt).
        let learnt = Self.load(port: setup.port, path: path, clients: 4, seconds: 1, close: true)
        #expect(learnt.failures == 0 && Set(learnt.snapshot.map(\.pid)).count == 4)
    }

    /// 8 keep-alive clients of an app computing 3 ms per request: 2 workers
    /// serve them (the measure fails without packing: `--cpu-slots 0` spreads
    /// them over all 4, see the next test).
    @Test func keepAliveClientsOfACPUBoundAppArePackedOnTheSlots() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        try start(setup, learning: "/v/spin?ms=3")
        let run = Self.load(port: setup.port, path: "/v/spin?ms=3", clients: 8, seconds: 2)
        let spins = run.snapshot
        let pids = Set(spins.map(\.pid))
        #expect(run.failures == 0 && spins.count > 200, "\(run.failures) failed, \(spins.count) served")
        #expect(pids.count == 2, "served by \(pids.count) workers")
        #expect(Self.concurrency(spins) < 2.2, "computing at once: \(Self.concurrency(spins))")
    }

    /// The same app and clients with `cpu-slots = 0` (the gate off): all 4 serve.
    /// And an app that waits (20 ms asleep per request) is never packed.
    @Test(arguments: ["--cpu-slots 0", "sleep"])
    func withTheGateOffOrAnAppThatWaitsEveryWorkerServes(_ variant: String) throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        let path = variant == "sleep" ? "/v/spin?sleep=20" : "/v/spin?ms=3"
        try setup.startZerg(workers: 4, args: ["--cpu-slots", variant == "sleep" ? "2" : "0"])
        _ = Self.load(port: setup.port, path: path, clients: 4, seconds: 1, close: true)
        let run = Self.load(port: setup.port, path: path, clients: 8, seconds: 2)
        let pids = Set(run.snapshot.map(\.pid))
        #expect(run.failures == 0 && run.snapshot.count > 100)
        #expect(pids.count == 4, "served by \(pids.count) workers")
        if variant == "sleep" { #expect(Self.concurrency(run.snapshot) > 3, "waiting at once: \(Self.concurrency(run.snapshot))") }
    }

    /// Both slot holders busy in a 600 ms request (past their slot's deadline):
    /// a new client is served by another worker at once, not after them.
    @Test func aHolderThatOverrunsItsSlotIsPassedOver() throws {
        let setup = try VassalSetup()
        defer { setup.cleanup() }
        try start(setup, learning: "/v/spin?ms=3")
        let port = setup.port
        let long = DispatchGroup()
        let slow = Collected()
        for _ in 0..<2 {
            long.enter()
            Thread {
                slow.add((try? HTTPClient.once(port: port, "/v/spin?ms=600", timeout: 10)).flatMap(Self.spin))
                long.leave()
            }.start()
        }
        defer { long.wait() }
        usleep(100_000)
        let began = Date()
        let quick = try HTTPClient.once(port: port, "/v/spin?ms=1", timeout: 10)
        let waited = Date().timeIntervalSince(began)
        long.wait()
        let holders = Set(slow.snapshot.map(\.pid))
        #expect(holders.count == 2, "the long requests went to \(holders.count) workers")
        let served = try #require(Self.spin(quick))
        #expect(!holders.contains(served.pid))
        #expect(waited < 0.3, "the new client waited \(waited) s")
    }
}
