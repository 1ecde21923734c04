import Shared

/// One row per worker process in shared memory, written by the worker and
/// read by everyone: how many connections it holds (for balancing accepts),
/// and, later, what stats and harakiri need. Rows belong to processes, not
/// worker ids, so a reload's overlapping old and new worker do not collide.
struct Scoreboard {
    static let fieldsPerRow = 8
    enum Field: Int {
        case pid = 0
        case connections = 1
        case requests = 2
        case exceptions = 3
    }

    let memory: SharedMemory
    let rows: Int

    static func create(rows: Int) throws -> Scoreboard {
        Scoreboard(memory: try .create(name: "zerg-scoreboard", count: rows * fieldsPerRow), rows: rows)
    }

    static func attach(fd: FileDescriptor, rows: Int) throws -> Scoreboard {
        Scoreboard(memory: try SharedMemory(mapping: fd, count: rows * fieldsPerRow), rows: rows)
    }

    subscript(row: Int, field: Field) -> Int64 {
        get { memory[row * Self.fieldsPerRow + field.rawValue] }
        nonmutating set { memory[row * Self.fieldsPerRow + field.rawValue] = newValue }
    }

    func clear(row: Int) {
        for f in 0..<Self.fieldsPerRow { memory[row * Self.fieldsPerRow + f] = 0 }
    }

    /// A free row (pid 0), or nil.
    func freeRow() -> Int? { (0..<rows).first { self[$0, .pid] == 0 } }

    /// Connections held by all live workers, and how many workers there are.
    func connectionTotals() -> (total: Int64, workers: Int64) {
        var total: Int64 = 0
        var workers: Int64 = 0
        for row in 0..<rows where self[row, .pid] != 0 {
            total += self[row, .connections]
            workers += 1
        }
        return (total, workers)
    }
}
