import Testing
@testable import ZergCore

/// The CPU gate's decisions from its inputs alone (the thread's voluntary
/// context switches, the clock, the average request time): no process.
@Suite struct CPUGateUnitTests {
    @Test func theGateIsOffUnlessThereAreMoreWorkersThanSlots() {
        #expect(!CPUGate(slots: 0, workers: 8).isOn)
        #expect(!CPUGate(slots: 2, workers: 2).isOn)
        #expect(!CPUGate(slots: 4, workers: 2).isOn)
        #expect(CPUGate(slots: 2, workers: 3).isOn)
        // Off, it holds nothing and counts nothing.
        var off = CPUGate(slots: 2, workers: 2)
        #expect(off.begin(nowNs: 1_000, averageNs: 1_000_000, switches: 0) == 0)
        off.end(switches: 0)
        #expect(off.requestsWithoutBlocking == 0)
    }

    @Test func anAppIsCPUBoundAfterBoundAfterRequestsWithoutASwitch() {
        var gate = CPUGate(slots: 2, workers: 4)
        for i in 0..<CPUGate.boundAfter {
            #expect(!gate.appIsCPUBound)
            // Not yet CPU-bound: the request holds no slot.
            #expect(gate.begin(nowNs: UInt64(i) * 1_000_000, averageNs: 2_000_000, switches: 7) == 0)
            gate.end(switches: 7)
        }
        #expect(gate.appIsCPUBound)
        // Now it holds a slot until 3 × its average (5 ms at least).
        #expect(gate.begin(nowNs: 100_000_000, averageNs: 2_000_000, switches: 7) == 106_000_000)
        gate.end(switches: 7)
        #expect(gate.begin(nowNs: 200_000_000, averageNs: 100_000, switches: 7) == 200_000_000 + CPUGate.minHoldNs)
        // A request that waited (a voluntary switch: a database, a socket) resets it.
        gate.end(switches: 8)
        #expect(!gate.appIsCPUBound)
        #expect(gate.begin(nowNs: 300_000_000, averageNs: 2_000_000, switches: 8) == 0)
    }
}

/// The scoreboard's layout, in an in-process shared memory region.
@Suite struct ScoreboardTests {
    /// The last row holds the zerg's totals: never handed out, never scanned.
    @Test func theLastRowHoldsTheTotals() throws {
        let board = try Scoreboard.create(rows: 3)
        defer { board.memory.fd.close() }
        board.assign(row: 0, pid: 100)
        board.assign(row: 1, pid: 101)
        #expect(board.freeRows(1) == nil)  // row 2 is the totals row
        board.add(.headTimeouts, 3)
        board.add(.bodyTimeouts, 1)
        board.add(.headTimeouts, 2)
        #expect(board[.headTimeouts] == 5 && board[.bodyTimeouts] == 1)
        #expect(board[2, .pid] == 0 && board.rowsInUse == 2 && board[1, .requests] == 0)
    }

    /// A threaded worker takes a block of rows, one per core: the first run of
    /// free rows long enough, sums and the oldest request over the block.
    @Test func aThreadedWorkerHoldsABlockOfRows() throws {
        let board = try Scoreboard.create(rows: 8)
        defer { board.memory.fd.close() }
        board.assign(row: 1, pid: 100)
        #expect(board.freeRows(3) == 2..<5)
        board.assign(rows: 2..<5, pid: 101)
        #expect(board.freeRows(3) == nil && board.freeRows(2) == 5..<7)
        board[3, .requests] = 4
        board[4, .requests] = 6
        #expect(board.sum(2..<5, .requests) == 10)
        #expect(board.oldestRequest(2..<5) == nil)
        board[4, .requestStart] = 50
        board[2, .requestStart] = 70
        #expect(board.oldestRequest(2..<5)?.row == 4 && board.oldestRequest(2..<5)?.startNs == 50)
    }

    @Test func rowsHoldFieldsAndTheRequestLine() throws {
        let board = try Scoreboard.create(rows: 4)
        defer { board.memory.fd.close() }
        #expect(board.freeRows(1) == 0..<1 && board.rowsInUse == 0)
        board.assign(row: 0, pid: 100)
        board.assign(row: 1, pid: 101)
        #expect(board.freeRows(1) == 2..<3 && board.rowsInUse == 2)
        let row = Scoreboard.Row(board, 1)
        row[.requests] = 5
        row.add(.tx, 10)
        row.add(.tx, 32)
        #expect(board[1, .requests] == 5 && board[1, .tx] == 42 && board[0, .tx] == 0)
        Array("GET /ping".utf8).withUnsafeBytes { board.beginRequest(row: 1, text: $0, nowNs: 77) }
        #expect(board.requestText(row: 1) == "GET /ping" && board[1, .requestStart] == 77)
        // Longer lines are cut at requestTextMax; the next row is untouched.
        let long = Array(repeating: UInt8(ascii: "x"), count: 1000)
        long.withUnsafeBytes { board.beginRequest(row: 0, text: $0) }
        #expect(board.requestText(row: 0).count == Scoreboard.requestTextMax)
        #expect(board.requestText(row: 1) == "GET /ping" && board[1, .pid] == 101)
        board.endRequest(row: 1)
        #expect(board[1, .requestStart] == 0)
        board.clear(row: 1)
        #expect(Scoreboard.Field.allCases.allSatisfy { board[1, $0] == 0 })
        #expect(board.requestText(row: 1) == "")
    }

    @Test func totalsAndComputingCountLiveWorkersOnly() throws {
        let board = try Scoreboard.create(rows: 4)
        defer { board.memory.fd.close() }
        for (row, (pid, conns, until)) in [(1, 3, 500), (2, 5, 900), (0, 7, 950), (3, 1, 0)].enumerated() {
            board.assign(row: row, pid: Int64(pid))
            board[row, .connections] = Int64(conns)
            board[row, .computeUntil] = Int64(until)
        }
        // Row 2 has no pid: a free row counts for nothing.
        #expect(board.connectionTotals() == (total: 9, workers: 3))
        // At 600: row 0's deadline (500) passed, row 1's (900) is ahead, row 2 is
        // free (its 950 counts for nothing), row 3's 0 is no deadline.
        #expect(board.computing(excluding: 3, nowNs: 600) == (count: 1, earliestNs: 900))
        #expect(board.computing(excluding: 1, nowNs: 400) == (count: 1, earliestNs: 500))
        #expect(board.computing(excluding: 3, nowNs: 400) == (count: 2, earliestNs: 500))
        let none = board.computing(excluding: 1, nowNs: 600)
        #expect(none.count == 0 && none.earliestNs == .max)
        // Rows past the ones ever handed out are not scanned.
        let big = try Scoreboard.create(rows: 64)
        defer { big.memory.fd.close() }
        big[40, .pid] = 1
        big[40, .connections] = 9
        #expect(big.connectionTotals() == (total: 0, workers: 0))
        big.assign(row: 41, pid: 2)
        #expect(big.rowsInUse == 42 && big.connectionTotals() == (total: 9, workers: 2))
    }
}
