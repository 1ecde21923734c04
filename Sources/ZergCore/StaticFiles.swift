#if canImport(Glibc)
import Glibc
#endif
import Shared

/// uWSGI's static file options, resolved per request: which file (if any) a
/// GET or HEAD path names. A worker serves it with sendfile without entering
/// Python; a path that names no file goes to the app, as in uWSGI.
///
/// - `static-map = /static=/srv/static`: `/static/a.css` → `/srv/static/a.css`
/// - `static-map2 = /static=/srv`: the whole path appended, → `/srv/static/a.css`
/// - `check-static = /srv/public`: every path, → `/srv/public` + path
/// - `static-index = index.html`: a directory's index file(s)
/// - `static-skip-ext = .py`: never served
/// - `static-safe = /srv/shared`: a prefix a file may resolve to outside its
///   root (through a symlink); without it, a file must stay under its root
public struct StaticFiles: Sendable {
    public struct Mount: Sendable, Equatable {
        /// The path prefix it answers for ("" for `check-static`).
        public let prefix: String
        /// The directory, as resolved at start (realpath).
        public let root: String
        /// `static-map2`, `check-static`: the root plus the whole path (not the part after the prefix).
        public let wholePath: Bool
    }

    public var mounts: [Mount] = []
    public var index: [String] = []
    public var skipExtensions: [String] = []
    public var safe: [String] = []

    public init() {}

    public var isEmpty: Bool { mounts.isEmpty }

    /// A file a request path names: its resolved path and status.
    public struct Found: Sendable {
        public let path: String
        public let status: FileStatus
    }

    /// The file `path` (the decoded request path, without the query) names,
    /// or nil: no mount matches, no such regular file, its extension is
    /// skipped, or it resolves outside its root (`..`, a symlink out) and no
    /// `static-safe` prefix allows it. Mounts are tried in order, longest
    /// prefix first.
    public func find(path: String) -> Found? {
        guard path.hasPrefix("/"), !path.contains("\0") else { return nil }
        for mount in mounts where path.hasPrefix(mount.prefix) {
            let rest = mount.wholePath ? path : String(path.dropFirst(mount.prefix.count))
            // The prefix must end at a segment: /static matches /static/x, not /staticx.
            if !mount.wholePath && !mount.prefix.hasSuffix("/") && !rest.isEmpty && !rest.hasPrefix("/") { continue }
            if let found = file(mount.root + (rest.hasPrefix("/") || rest.isEmpty ? rest : "/" + rest), root: mount.root) {
                return found
            }
        }
        return nil
    }

    func file(_ candidate: String, root: String) -> Found? {
        guard let resolved = try? FileSystem.realPath(candidate), allowed(resolved, root: root),
              let status = try? FileSystem.status(resolved) else { return nil }
        if status.isDirectory {
            for name in index {
                if let found = file(FileSystem.joined(resolved, name), root: root), found.status.isRegularFile { return found }
            }
            return nil
        }
        guard status.isRegularFile, !skipExtensions.contains(where: { resolved.hasSuffix($0) }) else { return nil }
        return Found(path: resolved, status: status)
    }

    /// Under its root, or under a `static-safe` prefix.
    func allowed(_ resolved: String, root: String) -> Bool {
        ([root] + safe).contains { resolved == $0 || resolved.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }
    }

    /// The options of `config`; a root that does not exist is a problem with
    /// its file:line. Relative directories are taken from `base` (`chdir`), as
    /// uWSGI finds them after its chdir.
    public init(_ config: Configuration, base: String?, problems: inout [ConfigDiagnostic]) {
        func real(_ dir: String) -> String? {
            try? FileSystem.realPath(dir.hasPrefix("/") || base == nil ? dir : FileSystem.joined(base!, dir))
        }
        var mounts: [Mount] = []
        for (option, wholePath) in [("static-map", false), ("static-map2", true)] {
            for entry in config.occurrences(option) {
                guard let (prefix, dir) = entry.value.splitOnce("="), prefix.hasPrefix("/"), !dir.isEmpty else {
                    problems.append(ConfigDiagnostic(entry.origin, "`\(option) = \(entry.value)`: expected `/prefix=/directory`"))
                    continue
                }
                guard let root = real(dir) else {
                    problems.append(ConfigDiagnostic(entry.origin, "`\(option) = \(entry.value)`: no such directory \(dir)"))
                    continue
                }
                mounts.append(Mount(prefix: prefix, root: root, wholePath: wholePath))
            }
        }
        for entry in config.occurrences("check-static") {
            guard let root = real(entry.value) else {
                problems.append(ConfigDiagnostic(entry.origin, "`check-static = \(entry.value)`: no such directory"))
                continue
            }
            mounts.append(Mount(prefix: "", root: root, wholePath: true))
        }
        // Longest prefix first (a stable sort keeps the config's order among equals).
        self.mounts = mounts.enumerated().sorted { ($0.element.prefix.count, -$0.offset) > ($1.element.prefix.count, -$1.offset) }.map(\.element)
        index = config.strings("static-index")
        skipExtensions = config.strings("static-skip-ext")
        safe = config.strings("static-safe").map { real($0) ?? $0 }
    }
}

/// `bytes=FIRST-LAST`, `bytes=FIRST-`, `bytes=-SUFFIX` of a `size`-byte file
/// (RFC 9110 §14): one range only; several are answered with the whole file.
public enum ByteRange: Equatable, Sendable {
    /// Serve these bytes (206).
    case range(Range<Int64>)
    /// No byte of the file is in the range (416).
    case unsatisfiable
    /// No range, several, or not understood: serve the whole file (200).
    case whole

    public init(header: String?, size: Int64) {
        guard let header, header.hasPrefix("bytes="), !header.contains(",") else {
            self = .whole
            return
        }
        let spec = Substring(String(header.dropFirst(6)).trimmed())
        guard let dash = spec.firstIndex(of: "-") else {
            self = .whole
            return
        }
        let first = spec[..<dash], last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            guard let n = Int64(last), n >= 0 else {
                self = .whole
                return
            }
            self = n == 0 || size == 0 ? .unsatisfiable : .range(max(0, size - n)..<size)
            return
        }
        guard let a = Int64(first), a >= 0 else {
            self = .whole
            return
        }
        var b = size - 1
        if !last.isEmpty {
            guard let parsed = Int64(last), parsed >= a else {
                self = .whole
                return
            }
            b = min(parsed, size - 1)
        }
        self = a >= size ? .unsatisfiable : .range(a..<(b + 1))
    }
}

/// Content types by file extension, from a `mime.types` file (Debian's
/// `/etc/mime.types` unless `mime-file` names others).
public struct MIMETypes: Sendable {
    public private(set) var byExtension: [String: String] = [:]

    public init() {}

    /// Reads every file; a line is `type ext ext ...`, `#` starts a comment.
    public init(files: [String]) {
        for path in files {
            guard let text = try? FileSystem.readText(path) else { continue }
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard words.count > 1 else { continue }
                for ext in words.dropFirst() { byExtension[ext.lowercased()] = String(words[0]) }
            }
        }
    }

    /// The type of `path` by its extension; `application/octet-stream` when unknown.
    public func type(of path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), let type = byExtension[name[name.index(after: dot)...].lowercased()] else {
            return "application/octet-stream"
        }
        return type
    }
}
