/// Master → worker, on the control channel.
public enum MasterOrder: ControlMessage {
    /// SIGTSTP on the master: take no new connections until `resume`.
    case pause
    case resume
    /// The whole zerg stops: finish what is in flight, close idle connections, exit.
    case stop
    /// This worker leaves while the others go on (reload, recycling, cheaper):
    /// idle keep-alive connections go to the ready pool instead of closing.
    case retire
    /// touch-logreopen: open the log file again.
    case reopenLog
    /// The first message a worker gets: the configuration the master loaded
    /// (values resolved, `@(exec://)` already run), so a worker never parses
    /// the ini itself and master and workers cannot disagree.
    case configure([ConfigEntry])
    /// A uWSGI signal this worker registered a handler for: run it.
    case signal(UInt8)

    public var kind: UInt8 {
        switch self {
        case .pause: return 0x01
        case .resume: return 0x02
        case .stop: return 0x03
        case .retire: return 0x04
        case .reopenLog: return 0x05
        case .configure: return 0x06
        case .signal: return 0x07
        }
    }

    public func payload() -> [UInt8] {
        if case .signal(let number) = self { return [number] }
        guard case .configure(let entries) = self else { return [] }
        var out: [UInt8] = []
        out.appendLE(UInt32(entries.count))
        for e in entries {
            out.appendText(e.key)
            out.appendText(e.value)
            switch e.origin {
            case .builtIn: out.appendLE(UInt32(0)); out.appendText(""); out.appendLE(UInt32(0))
            case .file(let path, let line): out.appendLE(UInt32(1)); out.appendText(path); out.appendLE(UInt32(clamping: line))
            case .commandLine(let index): out.appendLE(UInt32(2)); out.appendText(""); out.appendLE(UInt32(clamping: index))
            case .environment(let name): out.appendLE(UInt32(3)); out.appendText(name); out.appendLE(UInt32(0))
            }
            out.appendLE(e.isDeclaredPlaceholder ? 1 : 0)
        }
        return out
    }

    public static func decode(kind: UInt8, payload: ControlReader) throws(ControlError) -> MasterOrder {
        let order: MasterOrder
        switch kind {
        case 0x01: order = .pause
        case 0x02: order = .resume
        case 0x03: order = .stop
        case 0x04: order = .retire
        case 0x05: order = .reopenLog
        case 0x07:
            var r = payload
            order = .signal(try r.u8())
            try r.end("order 0x07")
            return order
        case 0x06:
            var r = payload
            let count = try r.u32()
            var entries: [ConfigEntry] = []
            for _ in 0..<count {
                let key = try r.text()
                let value = try r.text()
                let kind = try r.u32()
                let name = try r.text()
                let number = Int(try r.u32())
                let origin: Origin
                switch kind {
                case 0: origin = .builtIn
                case 1: origin = .file(path: name, line: number)
                case 2: origin = .commandLine(index: number)
                case 3: origin = .environment(variable: name)
                default: throw ControlError("unknown origin kind \(kind)")
                }
                let flags = try r.u32()
                var entry = ConfigEntry(key: key, raw: value, origin: origin, isDeclaredPlaceholder: flags & 1 != 0)
                entry.isResolved = true
                entries.append(entry)
            }
            try r.end("configure")
            return .configure(entries)
        default: throw ControlError("unknown order 0x\(String(kind, radix: 16))")
        }
        try payload.end("\(order)")
        return order
    }
}
