#if canImport(Glibc)
import Glibc
#endif
import Shared

/// uWSGI's cron, run by the zerg master: `cron = MIN HOUR MDAY MONTH WDAY
/// COMMAND` (`-1`: any; `-N`: every N, as `*/N`), `unique-cron` (not started
/// again while its previous run still runs), and `cron2 = key=value,... COMMAND`
/// (`minute`, `hour`, `day`, `month`, `week`, `unique`). Checked once a minute,
/// local time; the command runs as `/bin/sh -c`, its output in the zerg's log.
/// The `uwsgi` module's `add_cron` makes jobs that raise a uWSGI signal instead.
public struct CronJob: Sendable {
    public enum Action: Equatable, Sendable {
        case command(String)
        /// `uwsgi.add_cron(num, …)`: the master raises signal `num`.
        case signal(UInt8)
    }

    /// minute, hour, day of month, month (1–12), day of week (0 = Sunday); -1 any, -N every N.
    public let fields: [Int]
    public let action: Action
    public let unique: Bool
    /// The run in progress (the master's child).
    public var running: pid_t?

    static let names = ["minute", "hour", "day", "month", "week"]

    public init(fields: [Int], action: Action, unique: Bool = false) {
        self.fields = fields
        self.action = action
        self.unique = unique
    }

    /// The shell command, for a command job.
    public var command: String? {
        if case .command(let c) = action { return c }
        return nil
    }

    public static func all(in config: Configuration, problems: inout [ConfigDiagnostic]) -> [CronJob] {
        var jobs: [CronJob] = []
        for (option, unique) in [("cron", false), ("unique-cron", true)] {
            for entry in config.occurrences(option) {
                let words = entry.value.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
                let fields = words.prefix(5).compactMap { Int($0) }
                guard words.count == 6, fields.count == 5 else {
                    problems.append(ConfigDiagnostic(entry.origin, "`\(option) = \(entry.value)`: expected `MIN HOUR MDAY MONTH WDAY COMMAND` (-1: any, -N: every N)"))
                    continue
                }
                jobs.append(CronJob(fields: fields, action: .command(String(words[5])), unique: unique))
            }
        }
        for entry in config.occurrences("cron2") {
            guard let (spec, command) = entry.value.splitOnce(" "), !command.isEmpty else {
                problems.append(ConfigDiagnostic(entry.origin, "`cron2 = \(entry.value)`: expected `minute=M,hour=H,... COMMAND`"))
                continue
            }
            var fields = [-1, -1, -1, -1, -1]
            var unique = false
            var bad: [String] = []
            for (k, v) in spec.keyValues() {
                guard let n = Int(v) else {
                    bad.append(v.isEmpty ? k : "\(k)=\(v)")
                    continue
                }
                if k == "unique" { unique = n != 0 } else if let i = names.firstIndex(of: k) { fields[i] = n } else { bad.append(k) }
            }
            if !bad.isEmpty {
                problems.append(ConfigDiagnostic(entry.origin, "`cron2`: not understood: \(bad.joined(separator: ", ")) (keys: \(names.joined(separator: ", ")), unique)"))
                continue
            }
            jobs.append(CronJob(fields: fields, action: .command(command), unique: unique))
        }
        return jobs
    }

    /// Whether the job runs in this minute (`parts`: local time).
    public func due(_ parts: tm) -> Bool {
        let now = [Int(parts.tm_min), Int(parts.tm_hour), Int(parts.tm_mday), Int(parts.tm_mon) + 1, Int(parts.tm_wday)]
        return zip(fields, now).allSatisfy { field, value in
            field == -1 || (field < -1 ? value % -field == 0 : field == value)
        }
    }
}

