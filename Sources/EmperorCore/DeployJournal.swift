import Shared

/// What `hactl` did to a deploy directory, for the emperor's events: hactl
/// appends a JSON line to `builds/.hactl-events` when it points `_live` or
/// `_stage` at a build (before the rename, so the emperor, seeing the link
/// change, finds who changed it) and when it has reloaded nginx. The emperor
/// reads what was added since it last looked. A file, not a message: hactl
/// need not know where the emperor listens, and nothing is lost while the
/// emperor restarts.
public struct DeployJournal {
    public static let fileName = ".hactl-events"
    /// Past this size hactl starts the file again (the emperor notices it shrank).
    public static let maxBytes = 1 << 20

    public struct Entry: Sendable, Equatable {
        public var epochMs: Int64
        public var kind: DeployEvent.Kind
        public var build: String
        /// The command line's verb: "hactl swap-live", "hactl stage c".
        public var by: String

        public init(epochMs: Int64, kind: DeployEvent.Kind, build: String, by: String) {
            self.epochMs = epochMs
            self.kind = kind
            self.build = build
            self.by = by
        }

        public var line: String {
            JSON.object([("t", .int(epochMs)), ("event", .string(kind.rawValue)), ("build", .string(build)), ("by", .string(by))]).serialized() + "\n"
        }

        public init?(line: String) {
            guard let j = JSON.parse(line), let t = j["t"]?.intValue, let k = j["event"]?.stringValue.flatMap(DeployEvent.Kind.init(rawValue:)),
                  let build = j["build"]?.stringValue else { return nil }
            self.init(epochMs: t, kind: k, build: build, by: j["by"]?.stringValue ?? "hactl")
        }
    }

    /// Appends `entry` to the journal in `buildsDirectory` (best effort: a
    /// deploy never fails because its journal cannot be written).
    public static func append(_ entry: Entry, buildsDirectory: String) {
        let path = buildsDirectory + "/" + fileName
        if let size = try? FileSystem.status(path, followSymlinks: false).size, size > maxBytes { FileSystem.unlink(path) }
        try? FileSystem.appendText(path, entry.line)
    }

    /// A reader of one journal: what was appended since the last `readNew`.
    public struct Reader {
        public let path: String
        private var offset: Int

        /// Starts at the journal's end: what happened before the emperor looked is not news.
        public init(buildsDirectory: String) {
            path = buildsDirectory + "/" + DeployJournal.fileName
            offset = (try? FileSystem.status(path, followSymlinks: false).size).map { Int($0) } ?? 0
        }

        public mutating func readNew() -> [Entry] {
            guard let size = (try? FileSystem.status(path, followSymlinks: false).size).map({ Int($0) }) else {
                offset = 0
                return []
            }
            if size < offset { offset = 0 }  // started again
            guard size > offset, let bytes = try? FileSystem.readFile(path, limit: DeployJournal.maxBytes * 2) else { return [] }
            let new = bytes.count > offset ? Array(bytes[offset...]) : []
            // Only whole lines: a line being written is read next time.
            guard let end = new.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
            offset += end + 1
            return String(decoding: new[...end], as: UTF8.self).split(separator: "\n").compactMap { Entry(line: String($0)) }
        }
    }
}
