/// The value type of an option, and how its text is checked.
public enum OptionType: String, Sendable {
    /// true/yes/on/1 or an empty value; false/no/off/0.
    case bool
    /// A whole number (an empty value means 1, as in uWSGI).
    case int
    /// A byte count with an optional k/m/g suffix (powers of 1024).
    case size
    case string
    case path
    /// Milliseconds or seconds are plain ints; this is for `[host]:port` or a unix path.
    case address
}

/// Which program reads an option.
public struct ProcessRole: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let emperor = ProcessRole(rawValue: 1)
    public static let vassal = ProcessRole(rawValue: 2)
    public static let zerg = ProcessRole(rawValue: 4)
    public static let all: ProcessRole = [.emperor, .vassal, .zerg]

    public var names: [String] {
        var out: [String] = []
        if contains(.emperor) { out.append("emperor") }
        if contains(.vassal) { out.append("vassal") }
        if contains(.zerg) { out.append("zerg") }
        return out
    }
}

/// Whether we act on an option.
public enum OptionSupport: Sendable, Equatable {
    /// Implemented.
    case supported
    /// Parsed and checked now; the program that acts on it is built in a later issue.
    case planned(String)
    /// Accepted so uWSGI files load unchanged, but it has no effect here (the reason says why).
    case noEffect(String)
    /// Rejected with an error that says why (loading on would silently change behaviour).
    case unsupported(String)
}

/// One entry of the option registry.
public struct OptionSpec: Sendable {
    public let name: String
    public let aliases: [String]
    public let type: OptionType
    /// Repeated keys append (true) or the last one wins (false).
    public let isList: Bool
    public let defaultValue: String?
    public let doc: String
    public let roles: ProcessRole
    public let support: OptionSupport
    /// How it differs from uWSGI, for the docs; empty when it does not.
    public let difference: String

    public init(
        _ name: String, _ type: OptionType, list: Bool = false, aliases: [String] = [], default defaultValue: String? = nil,
        roles: ProcessRole, support: OptionSupport = .supported, difference: String = "", _ doc: String
    ) {
        self.name = name
        self.aliases = aliases
        self.type = type
        self.isList = list
        self.defaultValue = defaultValue
        self.doc = doc
        self.roles = roles
        self.support = support
        self.difference = difference
    }

    /// Checks a resolved value against the type; returns the problem, or nil.
    public func check(_ value: String) -> String? {
        switch type {
        case .bool:
            return OptionSpec.parseBool(value) == nil
                ? "`\(name) = \(value)`: expected a boolean (true/false, yes/no, on/off, 1/0)" : nil
        case .int:
            return OptionSpec.parseInt(value) == nil ? "`\(name) = \(value)`: expected a whole number" : nil
        case .size:
            return OptionSpec.parseSize(value) == nil
                ? "`\(name) = \(value)`: expected a size in bytes (a number, optionally with k, m or g)" : nil
        case .address:
            return value.trimmed().isEmpty ? "`\(name)` needs an address (`[host]:port` or a socket path)" : nil
        case .string, .path:
            return nil
        }
    }

    public static func parseBool(_ text: String) -> Bool? {
        switch text.trimmed().lowercased() {
        case "", "true", "yes", "on", "1", "y": return true
        case "false", "no", "off", "0", "n": return false
        default: return nil
        }
    }

    /// Plain decimal digits with an optional sign; empty means 1 (uWSGI's rule
    /// for an int option given without a value). Never traps on overflow.
    public static func parseInt(_ text: String) -> Int? {
        let t = text.trimmed()
        if t.isEmpty { return 1 }
        return Int(t)
    }

    /// `32768`, `64k`, `512M`, `1g` → bytes (binary multiples). nil on junk or overflow.
    public static func parseSize(_ text: String) -> Int? {
        var t = text.trimmed().lowercased()
        var multiplier = 1
        if let last = t.last, "kmg".contains(last) {
            multiplier = last == "k" ? 1 << 10 : last == "m" ? 1 << 20 : 1 << 30
            t.removeLast()
        }
        guard let n = Int(t), n >= 0 else { return nil }
        let (product, overflow) = n.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }
}
