#if canImport(Glibc)
import Glibc
#endif
import Shared

/// uWSGI's precompressed static files: for a client that accepts gzip, a
/// static file with a `FILE.gz` beside it is answered with that one
/// (`Content-Encoding: gzip`, the original's content type, `Vary:
/// Accept-Encoding`). Which files: `static-gzip-all`, `static-gzip = REGEX`
/// (on the file's path, POSIX extended), `static-gzip-dir = DIR` (alias
/// `static-gzip-prefix`), `static-gzip-ext = EXT` (alias `static-gzip-suffix`).
public struct StaticGzip: Sendable {
    var all = false
    var patterns: [POSIXRegex] = []
    var directories: [String] = []
    var extensions: [String] = []

    public init() {}

    public var isEmpty: Bool { !all && patterns.isEmpty && directories.isEmpty && extensions.isEmpty }

    public init(_ config: Configuration, problems: inout [ConfigDiagnostic]) {
        all = config.bool("static-gzip-all")
        for entry in config.occurrences("static-gzip") {
            if let regex = POSIXRegex(entry.value) {
                patterns.append(regex)
            } else {
                problems.append(ConfigDiagnostic(entry.origin, "`static-gzip = \(entry.value)`: not a valid regex"))
            }
        }
        directories = config.strings("static-gzip-dir")
        extensions = config.strings("static-gzip-ext").map { $0.hasPrefix(".") ? $0 : "." + $0 }
    }

    /// Whether `file` (a resolved static file's path) may be answered with its `.gz`.
    public func applies(to file: String) -> Bool {
        all || extensions.contains { file.hasSuffix($0) } || directories.contains { file.hasPrefix($0) }
            || patterns.contains { $0.matches(file) }
    }

    /// Whether an `Accept-Encoding` value accepts gzip (a `gzip` coding whose q is not 0).
    public static func accepted(by header: String?) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains { item in
            let parts = item.split(separator: ";").map { $0.trimmed().lowercased() }
            guard parts.first == "gzip" || parts.first == "x-gzip" else { return false }
            let q = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2).trimmed()) } ?? 1
            return q > 0
        }
    }
}
