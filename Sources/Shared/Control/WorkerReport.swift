/// Worker → master, on the control channel.
public enum WorkerReport: ControlMessage {
    /// The app is loaded (and warmed up): milliseconds from start, for the app, for warm-up.
    case ready(totalMs: UInt32, appMs: UInt32, warmupMs: UInt32)
    /// The worker cannot serve and exits (the master respawns it with backoff).
    case failed(WorkerFailure, String)
    /// Past a recycling limit: start a replacement; this one drains once it is ready.
    case recycle(RecycleReason, String)
    /// The app called uwsgi.reload(): a rolling reload of every worker.
    case reloadRequested
    /// `uwsgi.register_signal`: this worker has a handler for the signal; route it to `target`.
    case registerSignal(UInt8, SignalTarget)
    /// `uwsgi.signal(num)`: the master routes the signal to its target.
    case raiseSignal(UInt8)
    /// `uwsgi.add_timer` / `add_rb_timer`: the master raises the signal every
    /// `seconds` (`iterations` times; 0: for ever).
    case addTimer(UInt8, seconds: UInt32, iterations: UInt32)
    /// `uwsgi.add_cron`: the master raises the signal in each matching minute
    /// (minute, hour, day, month, weekday; -1 any, -N every N).
    case addCron(UInt8, [Int32])

    public var kind: UInt8 {
        switch self {
        case .ready: return 0x81
        case .failed: return 0x82
        case .recycle: return 0x83
        case .reloadRequested: return 0x84
        case .registerSignal: return 0x85
        case .raiseSignal: return 0x86
        case .addTimer: return 0x87
        case .addCron: return 0x88
        }
    }

    public func payload() -> [UInt8] {
        var out: [UInt8] = []
        switch self {
        case .ready(let total, let app, let warmup):
            out.appendLE(total)
            out.appendLE(app)
            out.appendLE(warmup)
        case .failed(let why, let detail):
            out.appendLE(why.rawValue)
            out.appendText(detail)
        case .recycle(let reason, let detail):
            out.appendLE(reason.rawValue)
            out.appendText(detail)
        case .reloadRequested:
            break
        case .registerSignal(let number, let target):
            out.append(number)
            out.appendText(target.description)
        case .raiseSignal(let number):
            out.append(number)
        case .addTimer(let number, let seconds, let iterations):
            out.append(number)
            out.appendLE(seconds)
            out.appendLE(iterations)
        case .addCron(let number, let fields):
            out.append(number)
            out.appendLE(UInt32(fields.count))
            for f in fields { out.appendLE(UInt32(bitPattern: f)) }
        }
        return out
    }

    public static func decode(kind: UInt8, payload: ControlReader) throws(ControlError) -> WorkerReport {
        var r = payload
        let report: WorkerReport
        switch kind {
        case 0x81:
            report = .ready(totalMs: try r.u32(), appMs: try r.u32(), warmupMs: try r.u32())
        case 0x82:
            let raw = try r.u32()
            guard let why = WorkerFailure(rawValue: raw) else { throw ControlError("unknown failure \(raw)") }
            report = .failed(why, try r.text())
        case 0x83:
            let raw = try r.u32()
            guard let reason = RecycleReason(rawValue: raw) else { throw ControlError("unknown recycle reason \(raw)") }
            report = .recycle(reason, try r.text())
        case 0x84:
            report = .reloadRequested
        case 0x85:
            let number = try r.u8()
            let name = try r.text()
            guard case .target(let target) = SignalTarget.parse(name) else { throw ControlError("unknown signal target \(name)") }
            report = .registerSignal(number, target)
        case 0x86:
            report = .raiseSignal(try r.u8())
        case 0x87:
            report = .addTimer(try r.u8(), seconds: try r.u32(), iterations: try r.u32())
        case 0x88:
            let number = try r.u8()
            let count = try r.u32()
            guard count == 5 else { throw ControlError("a cron signal has 5 fields, not \(count)") }
            report = .addCron(number, try (0..<count).map { _ throws(ControlError) in Int32(bitPattern: try r.u32()) })
        default:
            throw ControlError("unknown report 0x\(String(kind, radix: 16))")
        }
        try r.end("report 0x\(String(kind, radix: 16))")
        return report
    }
}

/// Why a worker could not start.
public enum WorkerFailure: UInt32, Sendable {
    /// The app raised while loading (or Python did not start).
    case appLoad = 1
    /// The vassal refused this worker's attach (SO_PEERCRED).
    case attachRefused = 2
    /// Anything else on the way up (a socket, the scoreboard).
    case startup = 3
}

/// Which recycling limit a worker passed (the master counts them per kind).
public enum RecycleReason: UInt32, Sendable, CaseIterable {
    case maxRequests = 1
    case reloadOnRSS = 2
    case reloadOnAS = 3

    /// The option's name, as stats report it.
    public var option: String {
        switch self {
        case .maxRequests: return "max-requests"
        case .reloadOnRSS: return "reload-on-rss"
        case .reloadOnAS: return "reload-on-as"
        }
    }
}
