#if canImport(Glibc)
import Glibc
#endif
import Shared

/// What a request log line is made from.
struct RequestRecord {
    var head: HTTPRequestHead
    var remote: String
    var status: Int
    var bodyBytes: Int
    var headBytes: Int
    var startTime: Timestamp
    var durationNs: UInt64
    var workerID: Int
    /// The request thread (`threads`; 0 without).
    var core: Int = 0
    /// The app's index (mounts; 0 without).
    var app: Int = 0
    var requestsByWorker: Int
    var varCount: Int
    var logvars: [String: String]
    /// Sampled after the request when memory is watched (bytes; 0 otherwise).
    var rss: Int64 = 0
    var vsz: Int64 = 0
}

/// Request log lines: uWSGI's default line, or `log-format` with its
/// `%(name)` variables (unknown or empty values print `-`). Values taken from
/// the request are escaped (`"`, `\` and control characters), so a quote in a
/// User-Agent cannot break a log parser (uWSGI issue #1293).
struct RequestLog {
    enum Piece {
        case literal(String)
        case variable(String)
    }

    let pieces: [Piece]?
    let xForwardedFor: Bool
    /// `req-logger`'s targets, or the process log.
    let outputs: [LogOutput]
    let memoryReport: Bool

    init(format: String?, xForwardedFor: Bool, outputs: [LogOutput] = [.file(path: nil, fd: Log.destination)], memoryReport: Bool = false) {
        self.memoryReport = memoryReport
        self.xForwardedFor = xForwardedFor
        self.outputs = outputs
        pieces = format.map(RequestLog.compile)
    }

    static func compile(_ format: String) -> [Piece] {
        var pieces: [Piece] = []
        var literal = ""
        var chars = Array(format)[...]
        while let c = chars.first {
            if c == "%", chars.dropFirst().first == "(", let close = chars.firstIndex(of: ")") {
                if !literal.isEmpty { pieces.append(.literal(literal)); literal = "" }
                pieces.append(.variable(String(chars[(chars.startIndex + 2)..<close])))
                chars = chars[(close + 1)...]
            } else {
                literal.append(c)
                chars = chars.dropFirst()
            }
        }
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        return pieces
    }

    /// touch-logreopen, a rotation: the `req-logger` files opened again, onto
    /// the same descriptor numbers (a thread writing meanwhile never meets a closed one).
    func reopen() {
        for output in outputs {
            do { try output.reopen() } catch { Log.info("cannot reopen the request log: \(error)") }
        }
    }

    func write(_ r: RequestRecord) {
        var text = pieces.map { format(r, $0) } ?? defaultLine(r)
        if memoryReport {
            // uWSGI's memory-report prefix.
            text = "{address space usage: \(r.vsz) bytes/\(r.vsz >> 20)MB} {rss usage: \(r.rss) bytes/\(r.rss >> 20)MB} " + text
        }
        text += "\n"
        for output in outputs { output.write(text) }
    }

    func address(_ r: RequestRecord) -> String {
        if xForwardedFor, let forwarded = r.head.value("x-forwarded-for") { return forwarded }
        return r.remote
    }

    /// `[pid: P|app: 0|req: R/T] ADDR () {V vars in B bytes} [ctime] METHOD URI => generated N bytes in X msecs (PROTO STATUS) H headers in HB bytes (1 switches on core 0)`
    func defaultLine(_ r: RequestRecord) -> String {
        let msecs = r.durationNs / 1_000_000
        let headers = r.head.fields.count
        return "[pid: \(getpid())|app: \(r.app)|req: \(r.requestsByWorker)/\(r.requestsByWorker)] \(address(r)) () "
            + "{\(r.varCount) vars in \(r.head.bytes.count) bytes} [\(Self.ctime(r.startTime))] "
            + "\(Self.escape(r.head.methodText)) \(Self.escape(r.head.targetText)) => generated \(r.bodyBytes) bytes in \(msecs) msecs "
            + "(\(r.head.protocolText) \(r.status)) \(headers) headers in \(r.headBytes) bytes (1 switches on core \(r.core))"
    }

    func format(_ r: RequestRecord, _ pieces: [Piece]) -> String {
        var out = ""
        for piece in pieces {
            switch piece {
            case .literal(let text): out += text
            case .variable(let name):
                let v = value(name, r)
                out += v.isEmpty ? "-" : v
            }
        }
        return out
    }

    func value(_ name: String, _ r: RequestRecord) -> String {
        switch name {
        case "addr": return address(r)
        case "method": return Self.escape(r.head.methodText)
        case "uri": return Self.escape(r.head.targetText)
        case "proto": return r.head.protocolText
        case "status": return String(r.status)
        case "size": return String(r.bodyBytes + r.headBytes)
        case "rsize": return String(r.bodyBytes)
        case "hsize": return String(r.headBytes)
        case "cl": return r.head.value("content-length") ?? ""
        case "referer": return Self.escape(r.head.value("referer") ?? "")
        case "uagent": return Self.escape(r.head.value("user-agent") ?? "")
        case "host": return Self.escape(r.head.hostText ?? "")
        case "micros": return String(r.durationNs / 1000)
        case "msecs": return String(r.durationNs / 1_000_000)
        case "secs": return String(Double(r.durationNs) / 1e9)
        case "time": return String(r.startTime.seconds)
        case "tmsecs": return String(r.startTime.milliseconds)
        case "tmicros": return String(r.startTime.microseconds)
        case "epoch": return String(Timestamp.now().seconds)
        case "ltime": return Self.ltime(r.startTime)
        case "ctime": return Self.ctime(r.startTime)
        case "wid": return String(r.workerID)
        case "core": return String(r.core)
        case "pid": return String(getpid())
        case "user": return ""
        case "headers": return String(r.head.fields.count)
        case "vars": return String(r.varCount)
        case "pktsize": return String(r.head.bytes.count)
        case "rss": return String(r.rss)
        case "vsz": return String(r.vsz)
        case "rssM": return String(r.rss >> 20)
        case "vszM": return String(r.vsz >> 20)
        default:
            return Self.escape(r.logvars[name] ?? "")
        }
    }

    static func escape(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 < 32 || $0 == 127 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if u.value < 32 || u.value == 127 {
                    let hex = String(u.value, radix: 16)
                    out += "\\x" + (hex.count == 1 ? "0" : "") + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }

    /// Apache's `%d/%b/%Y:%H:%M:%S %z`, local time.
    static func ltime(_ t: Timestamp) -> String { strftime(t, "%d/%b/%Y:%H:%M:%S %z") }
    /// ctime(3) without the newline.
    static func ctime(_ t: Timestamp) -> String { strftime(t, "%a %b %e %H:%M:%S %Y") }

    static func strftime(_ t: Timestamp, _ format: String) -> String {
        var seconds = time_t(t.seconds)
        var parts = tm()
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = Glibc.strftime(&buffer, buffer.count, format, &parts)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
