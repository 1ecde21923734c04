import Shared

/// One row per worker core in shared memory, written by the core and read by
/// everyone: how many connections it holds (for balancing accepts), its
/// request in progress (harakiri, stats, the CPU gate), its counters. A worker
/// process has one core, or `threads` of them: a block of consecutive rows, one
/// per request thread (uWSGI's `cores`). Rows belong to processes, not worker
/// ids, so a reload's overlapping old and new worker do not collide.
///
/// The region is sized for the most workers a zerg may ever run (a reload
/// may raise `processes`), and untouched pages cost nothing; a header word
/// holds how many rows were ever handed out, and scans stop there.
public struct Scoreboard {
    /// Words before the first row: [0] = rows ever handed out (the scan bound).
    static let headerWords = 1
    /// 11 counters, then 256 bytes of the current request line (for harakiri
    /// and SIGUSR2 reports): a length word and the text.
    public static let fieldsPerRow = 11 + 33
    static let requestTextWord = 11
    public static let requestTextMax = 256
    public enum Field: Int, CaseIterable {
        case pid = 0
        case connections = 1
        case requests = 2
        case exceptions = 3
        /// Monotonic ns when the current request started; 0 between requests.
        case requestStart = 4
        /// Sampled after requests (memory-report, reload-on-*): bytes.
        case rss = 5
        case vsz = 6
        /// Microseconds spent in completed requests (the busyness algorithm's input).
        case busyMicros = 7
        /// Zerg mode: the vassal's queue depth as this worker last saw it.
        case backlog = 8
        /// Response bytes sent (head + body).
        case tx = 9
        /// Monotonic ns until which the current request holds a CPU slot (see CPUGate); 0: none.
        case computeUntil = 10
    }

    public let memory: SharedMemory
    public let rows: Int

    public static func create(rows: Int) throws(SystemError) -> Scoreboard {
        Scoreboard(memory: try .create(name: "zerg-scoreboard", count: headerWords + rows * fieldsPerRow), rows: rows)
    }

    public static func attach(fd: FileDescriptor, rows: Int) throws(SystemError) -> Scoreboard {
        Scoreboard(memory: try SharedMemory(mapping: fd, count: headerWords + rows * fieldsPerRow), rows: rows)
    }

    @inline(__always)
    static func word(_ row: Int, _ field: Int) -> Int { headerWords + row * fieldsPerRow + field }

    public subscript(row: Int, field: Field) -> Int64 {
        get { memory[Self.word(row, field.rawValue)] }
        nonmutating set { memory[Self.word(row, field.rawValue)] = newValue }
    }

    public func add(row: Int, _ field: Field, _ delta: Int64) {
        memory.add(Self.word(row, field.rawValue), delta)
    }

    /// Rows that may be in use: scans stop here.
    public var rowsInUse: Int { Int(clamping: min(Int64(rows), max(0, memory[0]))) }

    /// Hands `row` to the process `pid` (the master, at spawn).
    public func assign(row: Int, pid: Int64) {
        clear(row: row)
        self[row, .pid] = pid
        if memory[0] < Int64(row + 1) { memory[0] = Int64(row + 1) }
    }

    /// Marks a request as started (`text`: "GET /path").
    public func beginRequest(row: Int, text: UnsafeRawBufferPointer, nowNs: UInt64 = Host.monotonicNanoseconds()) {
        let n = min(text.count, Self.requestTextMax)
        let base = Self.word(row, Self.requestTextWord)
        memory[base] = 0
        memory.withBytes(fromWord: base + 1, count: n) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: text[0..<n])) }
        memory[base] = Int64(n)
        self[row, .requestStart] = Int64(nowNs)
    }

    public func endRequest(row: Int) { self[row, .requestStart] = 0 }

    /// The request line last begun on `row` (possibly torn if it changes meanwhile: for logs only).
    public func requestText(row: Int) -> String {
        let base = Self.word(row, Self.requestTextWord)
        let n = Int(min(max(0, memory[base]), Int64(Self.requestTextMax)))
        return memory.withBytes(fromWord: base + 1, count: n) { String(decoding: UnsafeRawBufferPointer($0), as: UTF8.self) }
    }

    public func clear(row: Int) {
        for f in 0..<Self.fieldsPerRow { memory[Self.word(row, f)] = 0 }
    }

    /// `count` consecutive free rows (pid 0), or nil. The last row is never
    /// handed out: it holds the zerg-wide totals (`Total`).
    public func freeRows(_ count: Int) -> Range<Int>? {
        var start = 0
        for row in 0..<totalsRow {
            if self[row, .pid] != 0 {
                start = row + 1
            } else if row + 1 - start == count {
                return start..<(row + 1)
            }
        }
        return nil
    }

    /// Hands the rows of a worker's cores to the process `pid`.
    public func assign(rows: Range<Int>, pid: Int64) {
        for row in rows { assign(row: row, pid: pid) }
    }

    /// A counter summed over a worker's cores.
    public func sum(_ rows: Range<Int>, _ field: Field) -> Int64 { rows.reduce(0) { $0 + self[$1, field] } }

    /// The core of `rows` whose request has run longest, with its start; nil when all are idle.
    public func oldestRequest(_ rows: Range<Int>) -> (row: Int, startNs: UInt64)? {
        rows.compactMap { row -> (row: Int, startNs: UInt64)? in
            let start = self[row, .requestStart]
            return start > 0 ? (row, UInt64(start)) : nil
        }.min { $0.startNs < $1.startNs }
    }

    /// Counts of the whole zerg, written by any worker, in the last row (its
    /// pid word stays 0, and it lies past every row handed out, so no scan
    /// meets it). The row layout is unchanged, so a master re-exec'd onto a
    /// new binary and workers of the old one still agree on it.
    public enum Total: Int, CaseIterable {
        /// Requests answered 408: head past `http-headers-timeout`.
        case headTimeouts = 1
        /// Request bodies cut: past `http-body-timeout` below `http-body-min-rate`.
        case bodyTimeouts = 2
        /// Static files served (`static-map`…), without the app.
        case staticRequests = 3
    }

    public var totalsRow: Int { rows - 1 }

    public func add(_ total: Total, _ delta: Int64) { memory.add(Self.word(totalsRow, total.rawValue), delta) }

    public subscript(total: Total) -> Int64 { memory[Self.word(totalsRow, total.rawValue)] }

    /// In the totals row after `Total`: responses by class (5 words), their
    /// summed duration (µs), then the duration buckets (`ResponseTally`).
    /// Words an older worker never wrote stay 0. (They fit in a row: ScoreboardTests.)
    static let responseClassesWord = 4
    static let responseSumWord = responseClassesWord + ResponseTally.classNames.count
    static let responseBucketsWord = responseSumWord + 1
    public static var responseWordsEnd: Int { responseBucketsWord + ResponseTally.bucketCount }

    /// A response sent (any worker, any core): its status and duration.
    public func recordResponse(status: Int, micros: Int64) {
        if let c = ResponseTally.classIndex(status: status) { memory.add(Self.word(totalsRow, Self.responseClassesWord + c), 1) }
        memory.add(Self.word(totalsRow, Self.responseSumWord), micros)
        memory.add(Self.word(totalsRow, Self.responseBucketsWord + ResponseTally.bucket(micros: micros)), 1)
    }

    /// Every response the zerg's workers recorded since the scoreboard was made.
    public func responseTally() -> ResponseTally {
        func words(_ from: Int, _ n: Int) -> [Int64] { (0..<n).map { memory[Self.word(totalsRow, from + $0)] } }
        return ResponseTally(classes: words(Self.responseClassesWord, ResponseTally.classNames.count),
                             buckets: words(Self.responseBucketsWord, ResponseTally.bucketCount),
                             sumMicros: memory[Self.word(totalsRow, Self.responseSumWord)])
    }

    /// Workers other than `row` computing now (their slot deadline is ahead),
    /// and the earliest of their deadlines.
    public func computing(excluding row: Int, nowNs: UInt64) -> (count: Int, earliestNs: UInt64) {
        var count = 0
        var earliest = UInt64.max
        for r in 0..<rowsInUse where r != row && self[r, .pid] != 0 {
            let deadline = UInt64(clamping: self[r, .computeUntil])
            if deadline > nowNs {
                count += 1
                earliest = min(earliest, deadline)
            }
        }
        return (count, earliest)
    }

    /// One worker's row: what a worker writes about itself.
    public struct Row {
        public let board: Scoreboard
        public let index: Int
        public init(_ board: Scoreboard, _ index: Int) {
            self.board = board
            self.index = index
        }
        public subscript(field: Field) -> Int64 {
            get { board[index, field] }
            nonmutating set { board[index, field] = newValue }
        }
        public func add(_ field: Field, _ delta: Int64) { board.add(row: index, field, delta) }
    }

    /// Connections held by all live workers, and how many workers there are.
    public func connectionTotals() -> (total: Int64, workers: Int64) {
        var total: Int64 = 0
        var workers: Int64 = 0
        for row in 0..<rowsInUse where self[row, .pid] != 0 {
            total += self[row, .connections]
            workers += 1
        }
        return (total, workers)
    }
}
