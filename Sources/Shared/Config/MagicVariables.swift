#if canImport(Glibc)
import Glibc
#endif

/// uWSGI's magic variables (`%p`, `%c`, `%d`, ...) for one config file.
///
/// They describe the path *as given*, never the resolved symlink: `%c` of
/// `builds/a/vassal.ini` is `a` even when the file links to a shared skeleton.
/// Uppercase letters mean the same thing for the first (top-level) config file.
public struct MagicVariables: Sendable {
    /// The argument as given, including any `:section`.
    public let original: String
    /// The file part of `original`.
    public let path: String
    public let section: String
    public let absolutePath: String

    public init(argument: String, currentDirectory: String) {
        original = argument
        let (file, section) = MagicVariables.splitSection(argument)
        self.path = file
        self.section = section
        absolutePath = MagicVariables.normalize(file.hasPrefix("/") ? file : currentDirectory + "/" + file)
    }

    /// `file.ini:section` → ("file.ini", "section"). A colon followed by a
    /// slash is part of the path, not a section separator.
    public static func splitSection(_ argument: String) -> (String, String) {
        guard let colon = argument.lastIndex(of: ":") else { return (argument, "") }
        let after = argument[argument.index(after: colon)...]
        if after.contains("/") { return (argument, "") }
        return (String(argument[..<colon]), String(after))
    }

    /// Removes `.` and empty components; keeps `..` and symlinks as they are.
    static func normalize(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        return "/" + parts.joined(separator: "/")
    }

    public var fileName: String { FileSystem.baseName(absolutePath) }
    public var directory: String { FileSystem.directoryName(absolutePath) }
    /// `%d`: the directory with a trailing slash.
    public var directoryWithSlash: String { directory == "/" ? "/" : directory + "/" }
    public var extensionName: String {
        guard let dot = fileName.lastIndex(of: ".") else { return "" }
        return String(fileName[fileName.index(after: dot)...])
    }
    public var nameWithoutExtension: String {
        guard let dot = fileName.lastIndex(of: ".") else { return fileName }
        return String(fileName[..<dot])
    }
    public var containingDirectoryName: String { FileSystem.baseName(directory) }
    public var directoryComponents: [String] { directory.split(separator: "/").map(String.init) }

    /// lstat's inode: the link's own, as uWSGI reports it.
    public var inode: String {
        (try? FileSystem.status(absolutePath, followSymlinks: false)).map { String($0.inode) } ?? "0"
    }

    /// uWSGI's `%j`: djb33x (hash * 33 ^ byte, from 5381) of the absolute path, in hex.
    public var pathHash: String {
        var hash: UInt32 = 5381
        for byte in absolutePath.utf8 { hash = (hash &* 33) ^ UInt32(byte) }
        return String(hash, radix: 16)
    }

    /// The value of a per-file letter, or nil when the letter is not per-file.
    func value(for letter: Character) -> String? {
        switch letter {
        case "o": return original
        case "p": return absolutePath
        case "s": return fileName
        case "n": return nameWithoutExtension
        case "e": return extensionName
        case "d": return directoryWithSlash
        case "c": return containingDirectoryName
        case "x": return section
        case "i": return inode
        case "j": return pathHash
        default: return nil
        }
    }
}

/// The process-wide values the magic pass needs, gathered once.
public struct MagicContext: Sendable {
    public var binaryPath: String
    public var currentDirectory: String
    public var hostname: String
    public var startTime: Timestamp
    public var cpuCount: Int
    public var uid: UInt32
    public var gid: UInt32
    public var version: String

    public static func current() -> MagicContext {
        MagicContext(
            binaryPath: OwnBinary.resolvePath(argv0: CommandLine.arguments[0], environment: Host.environment()),
            currentDirectory: FileSystem.currentDirectory(),
            hostname: Host.hostname(), startTime: Timestamp.now(), cpuCount: Host.cpuCount,
            uid: Host.uid, gid: Host.gid, version: Version.string)
    }
}

enum MagicSubstitution {
    /// Substitutes magic variables in one line of raw config text. `%(` is kept
    /// for the placeholder pass. An unknown `%X` becomes empty, as in uWSGI,
    /// and is reported so that the missing `%%` gets noticed.
    static func apply(
        _ line: String, file: MagicVariables, top: MagicVariables, context: MagicContext,
        warn: (String) -> Void
    ) -> String {
        guard line.contains("%") else { return line }
        var out = ""
        var chars = line.makeIterator()
        while let c = chars.next() {
            guard c == "%" else { out.append(c); continue }
            guard let next = chars.next() else {
                warn("a lone % at the end of the line is dropped (write %% for a literal %)")
                break
            }
            switch next {
            case "%": out.append("%")
            case "(": out += "%("
            case "[": out.append("\u{1b}")
            case "0"..."9":
                let index = Int(String(next))!
                let parts = file.directoryComponents
                out += index < parts.count ? parts[index] : ""
            case "b": out += context.binaryPath
            case "v": out += context.currentDirectory
            case "h": out += context.hostname
            case "t": out += String(context.startTime.seconds)
            case "T": out += String(context.startTime.microseconds)
            case "V": out += context.version
            case "k": out += String(context.cpuCount)
            case "u": out += String(context.uid)
            case "U": out += Host.userName(context.uid)
            case "g": out += String(context.gid)
            case "G": out += Host.groupName(context.gid)
            default:
                if let v = file.value(for: next) {
                    out += v
                } else if next.isUppercase, let lower = next.lowercased().first, let v = top.value(for: lower) {
                    out += v
                } else {
                    warn("unknown magic variable %\(next) replaced by nothing, as uWSGI does (write %% for a literal %)")
                }
            }
        }
        return out
    }
}
