#if canImport(Glibc)
import Glibc
#endif

/// uWSGI's configuration logic (`if-env`, `if-exists`, `for`, ... `endif`,
/// `endfor`, `else`), evaluated as uWSGI evaluates it: an opener names a
/// condition or a list; every option that follows, up to `end`, `endif`,
/// `end-if`, `endfor` or `end-for`, goes through it. A condition keeps or
/// drops each option; a loop adds each option once per item. In the options
/// of a block, `%(_)` is the opener's datum (the variable's value, the path,
/// the item). `else` takes the options that follow when the last condition
/// failed. Blocks do not nest: an opener inside a block starts a new one.
enum ConfigLogic: Equatable {
    case ifEnv(String), ifNotEnv(String)
    case ifExists(String), ifNotExists(String)
    case ifFile(String), ifNotFile(String)
    case ifDir(String), ifNotDir(String)
    case ifOpt(String), ifNotOpt(String)
    case ifHostname(String), ifNotHostname(String)
    case forEach(String), forGlob(String), forReadline(String), forTimes(String)
    case orElse

    /// The opener an option name starts, with its argument.
    init?(key: String, argument: String) {
        switch key {
        case "if-env": self = .ifEnv(argument)
        case "if-not-env": self = .ifNotEnv(argument)
        case "if-exists": self = .ifExists(argument)
        case "if-not-exists": self = .ifNotExists(argument)
        case "if-file": self = .ifFile(argument)
        case "if-not-file": self = .ifNotFile(argument)
        case "if-dir": self = .ifDir(argument)
        case "if-not-dir": self = .ifNotDir(argument)
        case "if-opt": self = .ifOpt(argument)
        case "if-not-opt": self = .ifNotOpt(argument)
        case "if-hostname": self = .ifHostname(argument)
        case "if-not-hostname": self = .ifNotHostname(argument)
        case "for": self = .forEach(argument)
        case "for-glob": self = .forGlob(argument)
        case "for-readline": self = .forReadline(argument)
        case "for-times": self = .forTimes(argument)
        default: return nil
        }
    }

    /// Names that close a block.
    static let closers: Set<String> = ["end", "endif", "end-if", "endfor", "end-for"]

    /// Every option name of the logic, for the registry.
    static let openers = ["if-env", "if-not-env", "if-exists", "if-not-exists", "if-file", "if-not-file", "if-dir", "if-not-dir",
                          "if-opt", "if-not-opt", "if-hostname", "if-not-hostname", "for", "for-glob", "for-readline", "for-times"]

    /// What happens to one option inside the block: the values it is added
    /// with (none: dropped), and whether a condition failed (for `else`).
    struct Outcome {
        var values: [String]
        var conditionFailed: Bool?
        var problem: String?
    }

    /// `lookup`: an option set earlier (its value), for `if-opt`;
    /// `environment`: the process environment; `failedBefore`: for `else`.
    func apply(to value: String, environment: [String: String], hostname: String, failedBefore: Bool, lookup: (String) -> String?) -> Outcome {
        func substituted(_ datum: String) -> String { value.replacingAll("%(_)", with: datum) }
        func condition(_ holds: Bool, datum: String) -> Outcome {
            holds ? Outcome(values: [substituted(datum)], conditionFailed: false) : Outcome(values: [], conditionFailed: true)
        }
        /// `NAME` or `NAME=VALUE` against what `find` says NAME is.
        func matches(_ argument: String, _ find: (String) -> String?) -> (found: String?, holds: Bool) {
            if let (name, wanted) = argument.splitOnce("=") {
                let found = find(name)
                return (found, found == wanted)
            }
            let found = find(argument)
            return (found, found != nil)
        }
        switch self {
        case .ifEnv(let argument):
            let (found, holds) = matches(argument) { environment[$0] }
            return condition(holds, datum: found ?? "")
        case .ifNotEnv(let argument):
            let (found, holds) = matches(argument) { environment[$0] }
            return condition(!holds, datum: found ?? "")
        case .ifOpt(let argument):
            let (found, holds) = matches(argument, lookup)
            return condition(holds, datum: found ?? "")
        case .ifNotOpt(let argument):
            let (found, holds) = matches(argument, lookup)
            return condition(!holds, datum: found ?? "")
        case .ifHostname(let name): return condition(name == hostname, datum: name)
        case .ifNotHostname(let name): return condition(name != hostname, datum: name)
        case .ifExists(let path): return condition(Self.status(path) != nil, datum: path)
        case .ifNotExists(let path): return condition(Self.status(path) == nil, datum: path)
        case .ifFile(let path): return condition(Self.status(path)?.isRegularFile == true, datum: path)
        case .ifNotFile(let path): return condition(Self.status(path)?.isRegularFile != true, datum: path)
        case .ifDir(let path): return condition(Self.status(path)?.isDirectory == true, datum: path)
        case .ifNotDir(let path): return condition(Self.status(path)?.isDirectory != true, datum: path)
        case .orElse:
            return Outcome(values: failedBefore ? [value] : [], conditionFailed: nil)
        case .forEach(let list):
            return Outcome(values: list.split(separator: " ").map { substituted(String($0)) }, conditionFailed: nil)
        case .forTimes(let count):
            let n = max(0, Int(count.trimmed()) ?? 0)
            return Outcome(values: n == 0 ? [] : (1...n).map { substituted(String($0)) }, conditionFailed: nil)
        case .forGlob(let pattern):
            // As glob(3) with GLOB_MARK | GLOB_NOCHECK: directories end in `/`; no match is the pattern itself.
            let paths = FileSystem.glob(pattern, markDirectories: true)
            return Outcome(values: (paths.isEmpty ? [pattern] : paths).map(substituted), conditionFailed: nil)
        case .forReadline(let path):
            guard let text = try? FileSystem.readText(path) else {
                return Outcome(values: [], conditionFailed: nil, problem: "for-readline: cannot read \(path)")
            }
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            return Outcome(values: lines.map(substituted), conditionFailed: nil)
        }
    }

    static func status(_ path: String) -> FileStatus? { try? FileSystem.status(path) }
}
