/// Where a configuration value came from, for messages that name it.
public enum Origin: Equatable, Sendable, CustomStringConvertible {
    case file(path: String, line: Int)
    case commandLine(index: Int)
    case environment(variable: String)
    case builtIn

    public var description: String {
        switch self {
        case .file(let path, let line): return "\(path):\(line)"
        case .commandLine(let index): return "command line argument \(index)"
        case .environment(let variable): return "environment variable \(variable)"
        case .builtIn: return "built-in"
        }
    }
}

/// One `key = value` occurrence, in load order. Magic variables are already
/// substituted in `raw`; `value` is the text after the `$()`, `@()` and `%()` passes.
public struct ConfigEntry: Equatable, Sendable {
    public var key: String
    public var raw: String
    public var value: String
    public var origin: Origin
    /// Set with `set-placeholder`/`set-ph`: a placeholder on purpose, never "unknown".
    public var isDeclaredPlaceholder = false
    /// True once the late passes ran over `raw` (immediate options are never re-expanded).
    public var isResolved = false

    public init(key: String, raw: String, origin: Origin, isDeclaredPlaceholder: Bool = false) {
        self.key = key
        self.raw = raw
        self.value = raw
        self.origin = origin
        self.isDeclaredPlaceholder = isDeclaredPlaceholder
    }
}

/// A message about the configuration, tied to where the offending text is.
public struct ConfigDiagnostic: Equatable, Sendable, CustomStringConvertible {
    public let origin: Origin
    public let message: String

    public init(_ origin: Origin, _ message: String) {
        self.origin = origin
        self.message = message
    }

    public var description: String { "\(origin): \(message)" }
}

/// The configuration could not be loaded; every problem found is listed.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let problems: [ConfigDiagnostic]

    public init(_ problems: [ConfigDiagnostic]) { self.problems = problems }
    public init(_ origin: Origin, _ message: String) { self.problems = [ConfigDiagnostic(origin, message)] }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
