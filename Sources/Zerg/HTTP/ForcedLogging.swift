/// Requests logged even with `disable-logging`, as uWSGI's `log-4xx`,
/// `log-5xx`, `log-slow = MS`, `log-big = BYTES`, `log-zero` (an empty
/// response) and `log-ioerror` (the client went away or a write failed).
struct ForcedLogging: Equatable {
    var statusClasses: Set<Int> = []
    var slowerThanMs: Int?
    var biggerThanBytes: Int?
    var zero = false
    var ioError = false

    init() {}

    init(_ config: Configuration) {
        statusClasses = Set([(4, "log-4xx"), (5, "log-5xx")].filter { config.bool($0.1) }.map(\.0))
        slowerThanMs = config.int("log-slow").flatMap { $0 > 0 ? $0 : nil }
        biggerThanBytes = config.size("log-big").flatMap { $0 > 0 ? $0 : nil }
        zero = config.bool("log-zero")
        ioError = config.bool("log-ioerror")
    }

    var isEmpty: Bool { self == ForcedLogging() }

    func forces(status: Int, durationNs: UInt64, bodyBytes: Int, ioError broken: Bool) -> Bool {
        statusClasses.contains(status / 100)
            || slowerThanMs.map { durationNs > UInt64($0) * 1_000_000 } == true
            || biggerThanBytes.map { bodyBytes > $0 } == true
            || (zero && bodyBytes == 0)
            || (ioError && broken)
    }
}

import Shared
