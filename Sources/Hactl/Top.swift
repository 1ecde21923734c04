#if canImport(Glibc)
import Glibc
#endif
import EmperorCore
import Shared

/// `hactl top`: the dashboard for a terminal, like uwsgitop for the whole
/// emperor. Each interval it reads the emperor's `/status.json` (builds,
/// live/stage, workers), the last seconds of `/history.json` and the
/// latest `/events.json`, and redraws one row per build. On a terminal the
/// screen is cleared between frames; piped, frames follow each other.
struct Top {
    let status: (host: String, port: Int)

    struct Row {
        var build = "", marks = "", rps = "-", p50 = "-", p99 = "-", errors = "-", queue = "-", workers = "-", rss = "-", event = "-"
    }

    static let header = ["build", "live/stage", "req/s", "p50 ms", "p99 ms", "5xx/s", "queue", "busy/ready", "RSS", "last event"]

    func fetch(_ path: String) -> JSON? {
        guard let r = try? HTTPProbe.get(host: status.host, port: status.port, path: path, timeoutMs: 3000), r.status == 200 else { return nil }
        return JSON.parse(r.body)
    }

    /// One frame's rows; nil when the emperor's page does not answer.
    func rows() -> [Row]? {
        guard let doc = fetch("/status.json") else { return nil }
        let nowMs = Timestamp.now().milliseconds
        let history = fetch("/history.json?step=1&since=\(nowMs - 5000)")
        let events = fetch("/events.json?since=\(nowMs - Int64(EventLog.windowMs))")?["events"]?.arrayValue ?? []
        let columns = history?["columns"]?.arrayValue.compactMap(\.stringValue) ?? []
        return doc["builds"]?.arrayValue.map { b in
            let name = b["name"]?.stringValue ?? "?"
            var row = Row(build: name)
            row.marks = [b["live"] == .bool(true) ? "live" : nil, b["stage"] == .bool(true) ? "stage" : nil].compactMap { $0 }.joined(separator: ",")
            if let last = history?["builds"]?[name]?["points"]?.arrayValue.last?.arrayValue {
                func value(_ column: String) -> Double? {
                    guard let i = columns.firstIndex(of: column), i < last.count else { return nil }
                    return last[i].doubleValue
                }
                func text(_ v: Double?) -> String { v.map { String(format1: $0) } ?? "-" }
                row.rps = text(value("rps"))
                row.p50 = text(value("p50"))
                row.p99 = text(value("p99"))
                row.errors = text(value("5xx"))
                row.queue = value("queue").map { String(Int($0)) } ?? "-"
                row.workers = "\(Int(value("busy") ?? 0))/\(Int(value("ready") ?? 0))"
                row.rss = value("rss").map { "\(Int($0) >> 20) MB" } ?? "-"
            }
            if let e = events.last(where: { $0["build"]?.stringValue == name }) {
                let ago = max(0, (nowMs - (e["t"]?.intValue ?? nowMs)) / 1000)
                let what = [e["subject"]?.stringValue, e["event"]?.stringValue].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
                let cause = e["cause"]?.stringValue ?? ""
                row.event = "\(ago) s ago: \(what)" + (cause.isEmpty ? "" : " (\(cause))")
            }
            return row
        } ?? []
    }

    /// The frame as text: a header, then a row per build, columns padded to fit.
    static func frame(_ rows: [Row], title: String, width: Int) -> String {
        let cells = [header] + rows.map { [$0.build, $0.marks.isEmpty ? "-" : $0.marks, $0.rps, $0.p50, $0.p99, $0.errors, $0.queue, $0.workers, $0.rss, $0.event] }
        let widths = (0..<header.count - 1).map { c in cells.map { $0[c].count }.max() ?? 0 }
        var out = title + "\n\n"
        for line in cells {
            var text = zip(line.dropLast(), widths).map { $0.0.padded($0.1) }.joined(separator: "  ") + "  " + line.last!
            if text.count > width { text = String(text.prefix(width)) }
            out += text + "\n"
        }
        if rows.isEmpty { out += "(no builds)\n" }
        return out
    }

    /// Redraws every `intervalMs` until interrupted (or once).
    func run(intervalMs: Int, once: Bool) {
        SignalChannel.restoreDefaults([SIGINT, SIGTERM])  // Ctrl-C quits, whatever hactl inherited
        let terminal = FileDescriptor.standardOutput.terminalColumns() != nil
        while true {
            let columns = FileDescriptor.standardOutput.terminalColumns() ?? 0  // again each frame: the window may be resized
            let width = columns > 0 ? columns : 200
            let title = "hactl top — emperor \(status.host):\(status.port) — \(Log.timestamp().prefix(19))" + (once ? "" : " (Ctrl-C quits)")
            let text = rows().map { Self.frame($0, title: title, width: width) }
                ?? "\(title)\n\nthe emperor's status page at \(status.host):\(status.port) does not answer (its `status` option; hactl --status)\n"
            try? FileDescriptor.standardOutput.writeAll((terminal ? "\u{1B}[H\u{1B}[2J" : "") + text + (once || terminal ? "" : "\n"))
            if once { return }
            usleep(UInt32(intervalMs) * 1000)
        }
    }
}
