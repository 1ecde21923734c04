import Testing
@testable import Shared
@testable import ZergCore

/// The adaptive worker count's decisions on synthetic series (no process):
/// one test per algorithm, fed the samples the master would take once a second.
@Suite struct CheaperTests {
    static func settings(_ options: [String]) throws -> Cheaper.Settings {
        let config = try ConfigLoader(role: .zerg).load(arguments: ["--http-socket", ":0", "--wsgi-file", "x.py"] + options)
        return try #require(Cheaper.Settings(config, workers: config.int("workers") ?? 1))
    }

    static func workers(_ count: Int, busy: Bool, micros: Int64 = 0) -> [Cheaper.Sample] {
        (1...count).map { Cheaper.Sample(id: $0, busy: busy, busyMicros: micros) }
    }

    @Test func optionsAreReadAsUWSGIDoes() throws {
        let s = try Self.settings(["--workers", "8", "--cheaper", "2", "--cheaper-initial", "3", "--cheaper-algo", "busyness",
                                   "--cheaper-overload", "5", "--cheaper-step", "2"])
        #expect((s.minimum, s.initial, s.maximum, s.overload, s.step, s.algorithm) == (2, 3, 8, 5, 2, .busyness))
        // cheaper >= workers leaves one worker to add; no `cheaper` is no adaptive count.
        #expect(try Self.settings(["--workers", "4", "--cheaper", "9"]).minimum == 3)
        let none = try ConfigLoader(role: .zerg).load(arguments: ["--workers", "4"])
        #expect(Cheaper.Settings(none, workers: 4) == nil)
    }

    @Test func spareAddsAfterOverloadBusyCyclesAndRetiresAfterOverloadIdleOnes() throws {
        var c = Cheaper(try Self.settings(["--workers", "4", "--cheaper", "1", "--cheaper-algo", "spare", "--cheaper-overload", "3"]), nowS: 0)
        let busy = Self.workers(2, busy: true)
        #expect(c.decide(nowS: 1, active: busy, backlog: 0, freeSlots: 2) == 0)
        #expect(c.decide(nowS: 2, active: busy, backlog: 0, freeSlots: 2) == 0)
        #expect(c.decide(nowS: 3, active: busy, backlog: 0, freeSlots: 2) == 1)
        // No free slot: nothing to start, however busy.
        for t in 4...9 { #expect(c.decide(nowS: Double(t), active: busy, backlog: 0, freeSlots: 0) == 0) }
        // All idle: the overload count drains first, then three idle cycles retire one.
        var c2 = Cheaper(c.settings, nowS: 0)
        let idle = Self.workers(3, busy: false)
        #expect(c2.decide(nowS: 1, active: idle, backlog: 0, freeSlots: 1) == 0)
        #expect(c2.decide(nowS: 2, active: idle, backlog: 0, freeSlots: 1) == 0)
        #expect(c2.decide(nowS: 3, active: idle, backlog: 0, freeSlots: 1) == -1)
        // Never below `cheaper`.
        let one = Self.workers(1, busy: false)
        for t in 4...10 { #expect(c2.decide(nowS: Double(t), active: one, backlog: 0, freeSlots: 3) == 0) }
    }

    @Test func spare2KeepsCheaperIdleWorkersAndRetiresAfterCheaperIdleCycles() throws {
        var c = Cheaper(try Self.settings(["--workers", "6", "--cheaper", "2", "--cheaper-algo", "spare2", "--cheaper-idle", "3",
                                           "--cheaper-step", "4"]), nowS: 0)
        // No idle worker: start enough for `cheaper` idle ones (within the step and the free slots).
        #expect(c.decide(nowS: 1, active: Self.workers(2, busy: true), backlog: 0, freeSlots: 4) == 2)
        #expect(c.decide(nowS: 2, active: Self.workers(2, busy: true), backlog: 0, freeSlots: 1) == 1)
        // Exactly `cheaper` idle: nothing.
        let mixed = Self.workers(2, busy: true) + [Cheaper.Sample(id: 3, busy: false, busyMicros: 0), Cheaper.Sample(id: 4, busy: false, busyMicros: 0)]
        #expect(c.decide(nowS: 3, active: mixed, backlog: 0, freeSlots: 2) == 0)
        // More idle than that for `cheaper-idle` cycles: one goes.
        let idle = Self.workers(4, busy: false)
        #expect(c.decide(nowS: 4, active: idle, backlog: 0, freeSlots: 2) == 0)
        #expect(c.decide(nowS: 5, active: idle, backlog: 0, freeSlots: 2) == 0)
        #expect(c.decide(nowS: 6, active: idle, backlog: 0, freeSlots: 2) == -1)
    }

    @Test func backlogFollowsTheQueue() throws {
        var c = Cheaper(try Self.settings(["--workers", "4", "--cheaper", "1", "--cheaper-algo", "backlog", "--cheaper-overload", "10",
                                           "--cheaper-step", "2"]), nowS: 0)
        let two = Self.workers(2, busy: true)
        #expect(c.decide(nowS: 1, active: two, backlog: 11, freeSlots: 2) == 2)
        #expect(c.decide(nowS: 2, active: two, backlog: 11, freeSlots: 1) == 1)
        #expect(c.decide(nowS: 3, active: two, backlog: 10, freeSlots: 2) == 0)
        #expect(c.decide(nowS: 4, active: two, backlog: 3, freeSlots: 2) == -1)
        #expect(c.decide(nowS: 5, active: Self.workers(1, busy: false), backlog: 0, freeSlots: 3) == 0)
    }

    @Test func manualNeverDecides() throws {
        var c = Cheaper(try Self.settings(["--workers", "4", "--cheaper", "1", "--cheaper-algo", "manual"]), nowS: 0)
        for t in 1...20 {
            #expect(c.decide(nowS: Double(t), active: Self.workers(2, busy: t % 2 == 0), backlog: t * 10, freeSlots: 2) == 0)
        }
    }

    @Test func busynessAddsOverBusyMaxAndRetiresUnderBusyMinOnceTheCooldownPassed() throws {
        let s = try Self.settings(["--workers", "4", "--cheaper", "1", "--cheaper-algo", "busyness", "--cheaper-overload", "3"])
        var c = Cheaper(s, nowS: 0)
        // Two workers busy all the time (1 s of request time per second): 100 % > 50 %.
        var micros: Int64 = 0
        for t in 1...2 {
            micros += 1_000_000
            #expect(c.decide(nowS: Double(t), active: Self.workers(2, busy: true, micros: micros), backlog: 0, freeSlots: 2) == 0)
        }
        micros += 1_000_000
        #expect(c.decide(nowS: 3, active: Self.workers(2, busy: true, micros: micros), backlog: 0, freeSlots: 2) == 1)
        #expect(c.lastAverage == 100)

        // Three idle workers: nothing is retired before overload × multiplier seconds (30 s).
        var idle = Cheaper(s, nowS: 0)
        var retiredAt: Int?
        for t in 1...40 where retiredAt == nil {
            if idle.decide(nowS: Double(t), active: Self.workers(3, busy: false, micros: 5), backlog: 0, freeSlots: 1) == -1 { retiredAt = t }
        }
        #expect(retiredAt == 30)
        #expect(idle.lastAverage == 0)
    }

    @Test func busynessStartsAWorkerAtOnceForALongQueue() throws {
        let s = try Self.settings(["--workers", "4", "--cheaper", "1", "--cheaper-algo", "busyness",
                                   "--cheaper-busyness-backlog-alert", "10", "--cheaper-busyness-backlog-step", "2"])
        var c = Cheaper(s, nowS: 0)
        // Between windows, a queue over the alert adds backlog-step workers.
        #expect(c.decide(nowS: 1, active: Self.workers(1, busy: true), backlog: 11, freeSlots: 3) == 2)
        #expect(c.decide(nowS: 2, active: Self.workers(3, busy: true), backlog: 11, freeSlots: 1) == 1)
        #expect(c.decide(nowS: 2.5, active: Self.workers(4, busy: true), backlog: 50, freeSlots: 0) == 0)
    }
}
