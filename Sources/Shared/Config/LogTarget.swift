/// Where log lines go: `logto = PATH` and each `logger` line (`req-logger`
/// lines for request lines), as uWSGI's logger plugins `file`, `stdio` and
/// `syslog` name them. A logger may carry a name first (`logger = app file:x`).
public enum LogTarget: Equatable, Sendable, CustomStringConvertible {
    case file(String)
    /// Standard error.
    case stdio
    /// The local syslog daemon, through /dev/log (uWSGI's defaults: ident `uwsgi`, facility `daemon`).
    case syslog(ident: String, facility: Int32)

    /// syslog(3)'s facility numbers (facility × 8 is the priority's high bits).
    static let facilities: [String: Int32] = [
        "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "security": 4, "syslog": 5, "lpr": 6, "news": 7,
        "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
        "local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
    ]

    public enum Parsed: Equatable {
        case target(LogTarget)
        case problem(String)
    }

    public static func parse(_ text: String) -> Parsed {
        var value = text.trimmed()
        if let space = value.lastIndex(of: " ") { value = String(value[value.index(after: space)...]) }  // "name plugin:arg"
        let (plugin, argument) = value.splitOnce(":") ?? (value, "")
        switch plugin {
        case "stdio":
            return .target(.stdio)
        case "file":
            // `file:PATH`, or the keyed `file:logfile=PATH`.
            var path = argument
            if argument.hasPrefix("logfile=") {
                let keys = argument.split(separator: ",").map(String.init)
                path = String(keys[0].dropFirst("logfile=".count))
                if keys.count > 1 { return .problem("only the `logfile` key is offered (\(keys.dropFirst().joined(separator: ", ")) are not)") }
            }
            return path.isEmpty ? .problem("expected `file:PATH`") : .target(.file(path))
        case "syslog":
            let (ident, facilityName) = argument.splitOnce(",") ?? (argument, "daemon")
            guard let facility = facilities[facilityName] else {
                return .problem("unknown syslog facility `\(facilityName)` (\(facilities.keys.sorted().joined(separator: ", ")))")
            }
            return .target(.syslog(ident: ident.isEmpty ? "uwsgi" : ident, facility: facility))
        default:
            return .problem("the `\(plugin)` logger is not offered (`file:PATH`, `stdio` and `syslog[:IDENT[,FACILITY]]` are)")
        }
    }

    /// `logto` (for `logger`) then each line of `option`, in order, without repeats.
    public static func all(_ config: Configuration, _ option: String, problems: inout [ConfigDiagnostic]) -> [LogTarget] {
        var targets: [LogTarget] = []
        if option == "logger", let path = config.string("logto") { targets.append(.file(path)) }
        for entry in config.occurrences(option) {
            switch parse(entry.value) {
            case .target(let t): if !targets.contains(t) { targets.append(t) }
            case .problem(let p): problems.append(ConfigDiagnostic(entry.origin, "`\(option) = \(entry.value)`: \(p)"))
            }
        }
        return targets
    }

    /// The one file every line goes to, when that is all there is (a process
    /// then writes it itself, and its children inherit it as stdout/stderr).
    public static func singleFile(_ targets: [LogTarget]) -> String? {
        if targets.count == 1, case .file(let path) = targets[0] { return path }
        return nil
    }

    public var description: String {
        switch self {
        case .file(let path): return "file:\(path)"
        case .stdio: return "stdio"
        case .syslog(let ident, let facility): return "syslog:\(ident),\(Self.facilities.first { $0.value == facility }?.key ?? String(facility))"
        }
    }
}
