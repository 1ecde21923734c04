import Foundation
import Testing
@testable import EmperorCore
@testable import Shared
@testable import ZergCore

/// The emperor's history and events as pure logic: tallies, quantiles, rings,
/// fine and coarse points, hactl's journal.
struct HistoryTests {
    static func tally(_ micros: [Int64], status: Int = 200) -> ResponseTally {
        var t = ResponseTally()
        for m in micros {
            t.buckets[ResponseTally.bucket(micros: m)] += 1
            t.classes[ResponseTally.classIndex(status: status)!] += 1
            t.sumMicros += m
        }
        return t
    }

    @Test func bucketsAndQuantiles() {
        #expect(ResponseTally.bucket(micros: 0) == 0)
        #expect(ResponseTally.bucket(micros: 250) == 0)
        #expect(ResponseTally.bucket(micros: 251) == 1)
        #expect(ResponseTally.bucket(micros: 40_000_000) == ResponseTally.boundsMicros.count)
        // 98 fast responses (~1 ms) and 2 slow ones (~100 ms): p50 near 1 ms, p99 in the slow bucket.
        let t = Self.tally(Array(repeating: 900, count: 98) + [90_000, 95_000])
        let p50 = t.quantileMs(0.5)!, p99 = t.quantileMs(0.99)!
        #expect(p50 > 0.75 && p50 <= 1.0)
        #expect(p99 > 75 && p99 <= 100)
        #expect(ResponseTally().quantileMs(0.5) == nil)
        // Differences; a count that went back is a restart.
        let later = t + Self.tally([2_000])
        #expect(later.since(t)?.count == 1)
        #expect(t.since(later) == nil)
        // Through a stats document and back.
        let doc = JSON.object(t.jsonMembers)
        #expect(ResponseTally(stats: JSON.parse(doc.serialized())!) == t)
    }

    @Test func theScoreboardKeepsTheTallyInItsTotalsRow() throws {
        #expect(Scoreboard.responseWordsEnd <= Scoreboard.fieldsPerRow)
        let board = try Scoreboard.create(rows: 4)
        defer { board.memory.release() }
        board.recordResponse(status: 200, micros: 800)
        board.recordResponse(status: 503, micros: 12_000)
        let t = board.responseTally()
        #expect(t.classes == [0, 1, 0, 0, 1] && t.count == 2 && t.sumMicros == 12_800)
        // The totals it already had are untouched.
        #expect(board[.staticRequests] == 0)
    }

    @Test func aRingKeepsTheNewest() {
        var r = Ring<Int>(capacity: 3)
        for i in 1...5 { r.append(i) }
        #expect(r.count == 3 && r[0] == 3 && r.last == 5)
        #expect(r.suffix { $0 > 3 } == [4, 5])
        #expect(r.suffix { _ in true } == [3, 4, 5])
    }

    @Test func finePointsEachSecondCoarseOnesEachTen() {
        var h = BuildHistory()
        var cumulative = ResponseTally()
        let t0: Int64 = 1_700_000_000_000  // on a 10 s boundary
        for s in 0...25 {
            var sample = BuildSample(monotonicNs: UInt64(s) * 1_000_000_000, epochMs: t0 + Int64(s) * 1000)
            cumulative = cumulative + Self.tally(Array(repeating: 5_000, count: 50))
            sample.tally = cumulative
            sample.vassal = .init(unavailable: Int64(s), badGateway: 0, refused: 0, failedHandoffs: 0)
            sample.queue = s == 12 ? 7 : 1
            sample.busy = 2
            sample.ready = 4
            h.record(sample)
        }
        #expect(h.finePoints.count == 25)
        let p = h.finePoints.last!
        // 50 responses and one 503 from the vassal a second.
        #expect(p.rps == 51 && p.ok == 50 && p.serverError == 1 && p.unavailable == 1)
        #expect(p.p50! > 4 && p.p50! <= 5)
        #expect(h.coarsePoints.count == 2)
        let c = h.coarsePoints[1]
        #expect(c.epochMs == t0 + 20_000 && c.seconds == 10 && c.rps == 51)
        #expect(c.queue == 7 && c.busy == 2 && c.ready == 4)
        // Which points a query gets.
        #expect(h.points(sinceMs: t0 + 20_000).points.count == 5)
        #expect(h.points(sinceMs: t0 + 20_000).step == 1)
        #expect(h.points(sinceMs: 0, step: 10).points.count == 2)
        // A restarted zerg (its counts began again) counts from 0, never negative.
        var restarted = BuildSample(monotonicNs: 26_000_000_000, epochMs: t0 + 26_000)
        restarted.tally = Self.tally([1_000, 1_000])
        h.record(restarted)
        #expect(h.finePoints.last!.ok == 2)
        #expect(MemoryLayout<HistoryPoint>.stride <= 88)  // what BuildHistory's memory figure assumes
    }

    /// The bound docs/stats.md states: 20 builds with full windows (3 hours of
    /// samples each) and a full event log, measured as the process's RSS growth.
    @Test func twentyBuildsOfFullHistoryStayWithinTheirBound() throws {
        let before = try #require(ChildProcess.memory(nil)).rss
        var histories: [BuildHistory] = []
        let step = Self.tally(Array(repeating: 3_000, count: 40) + [40_000])
        for _ in 0..<20 {
            var h = BuildHistory()
            var cumulative = ResponseTally()
            for s in 0..<(BuildHistory.coarse.seconds * BuildHistory.coarse.count + 10) {
                var sample = BuildSample(monotonicNs: UInt64(s) * 1_000_000_000, epochMs: 1_700_000_000_000 + Int64(s) * 1000)
                cumulative = cumulative + step
                sample.tally = cumulative
                sample.vassal = .init()
                sample.busy = 3
                sample.ready = 14
                sample.rssBytes = 300 << 20
                h.record(sample)
            }
            histories.append(h)
        }
        var log = EventLog()
        for i in 0..<EventLog.capacity {
            log.append(DeployEvent(epochMs: Int64(i), build: "b\(i % 20)", kind: .workerRecycled, subject: "worker \(i % 14)",
                                   cause: "max-requests, \(i) times since the build started"))
        }
        let grown = Double(try #require(ChildProcess.memory(nil)).rss - before) / 1_048_576
        print("20 builds of full history (3 h each) and a full event log: the process grew \(grown) MB")
        #expect(histories.allSatisfy { $0.finePoints.count == BuildHistory.fine.count && $0.coarsePoints.count == BuildHistory.coarse.count })
        #expect(log.events.count == EventLog.capacity)
        #expect(grown < 12)
    }

    @Test func theJournalIsReadFromWhereTheReaderStarted() throws {
        let dir = try FileSystem.makeTemporaryDirectory(prefix: "/tmp/journal-test-")
        defer {
            // rmdir only: the journal goes first (the directory was left behind when it did not).
            FileSystem.unlink(dir + "/" + DeployJournal.fileName)
            FileSystem.removeDirectory(dir)
        }
        DeployJournal.append(.init(epochMs: 1, kind: .live, build: "a", by: "hactl swap-live"), buildsDirectory: dir)
        var reader = DeployJournal.Reader(buildsDirectory: dir)
        #expect(reader.readNew().isEmpty)  // what was there before is not news
        let entry = DeployJournal.Entry(epochMs: 2, kind: .nginxReloaded, build: "b", by: "hactl stage b")
        DeployJournal.append(entry, buildsDirectory: dir)
        #expect(reader.readNew() == [entry])
        #expect(reader.readNew().isEmpty)
        try FileSystem.appendText(dir + "/" + DeployJournal.fileName, "{\"t\": 3, \"event\": \"live\"")  // a line being written
        #expect(reader.readNew().isEmpty)
    }

    @Test func eventsStayInTheirWindow() {
        var log = EventLog()
        let now: Int64 = 100_000_000
        log.append(DeployEvent(epochMs: now - EventLog.windowMs - 1, build: "a", kind: .started))
        log.append(DeployEvent(epochMs: now - 10, build: "a", kind: .reloaded, subject: "zerg", cause: "config changed"))
        #expect(log.since(0, nowMs: now).map(\.kind) == [.reloaded])
        #expect(log.since(now - 5, nowMs: now).isEmpty)
        #expect(log.since(0, nowMs: now)[0].logLine == "event: build a zerg reloaded (config changed)")
    }
}
