#if canImport(Glibc)
import Glibc
#endif
import Shared

/// `Expires` and `Cache-Control: max-age` for static files, as uWSGI's
/// `static-expires-type = text/css=3600` (by content type),
/// `static-expires-uri = REGEX=3600` (by request path) and
/// `static-expires = REGEX=3600` (by file name); the first that matches wins.
/// Regexes are POSIX extended ones, as uWSGI's PCRE patterns mostly are.
public struct StaticExpiry: Sendable {
    enum Subject: Sendable { case type, uri, file }

    struct Rule: Sendable {
        let subject: Subject
        let type: String?
        let pattern: POSIXRegex?
        let seconds: Int
    }

    var rules: [Rule] = []

    public init() {}

    public var isEmpty: Bool { rules.isEmpty }

    public init(_ config: Configuration, problems: inout [ConfigDiagnostic]) {
        for (option, subject) in [("static-expires-type", Subject.type), ("static-expires-uri", .uri), ("static-expires", .file)] {
            for entry in config.occurrences(option) {
                guard let eq = entry.value.lastIndex(of: "="), let seconds = Int(entry.value[entry.value.index(after: eq)...]), seconds >= 0 else {
                    problems.append(ConfigDiagnostic(entry.origin, "`\(option) = \(entry.value)`: expected `\(subject == .type ? "type" : "regex")=seconds`"))
                    continue
                }
                let what = String(entry.value[..<eq])
                if subject == .type {
                    rules.append(Rule(subject: .type, type: what, pattern: nil, seconds: seconds))
                } else if let regex = POSIXRegex(what) {
                    rules.append(Rule(subject: subject, type: nil, pattern: regex, seconds: seconds))
                } else {
                    problems.append(ConfigDiagnostic(entry.origin, "`\(option) = \(entry.value)`: \(what.debugDescription) is not a valid regex"))
                }
            }
        }
    }

    /// Seconds a response may be cached, or nil.
    public func seconds(type: String, uri: String, file: String) -> Int? {
        for rule in rules {
            switch rule.subject {
            case .type: if rule.type == type { return rule.seconds }
            case .uri: if rule.pattern?.matches(uri) == true { return rule.seconds }
            case .file: if rule.pattern?.matches(file) == true { return rule.seconds }
            }
        }
        return nil
    }
}

/// A compiled POSIX extended regex (regcomp(3)); matching is thread-safe.
final class POSIXRegex: @unchecked Sendable {
    private var compiled = regex_t()

    init?(_ pattern: String) {
        guard regcomp(&compiled, pattern, REG_EXTENDED | REG_NOSUB) == 0 else { return nil }
    }

    deinit { regfree(&compiled) }

    func matches(_ text: String) -> Bool { regexec(&compiled, text, 0, nil, 0) == 0 }
}
