#if canImport(Glibc)
import Glibc
#endif

/// What stat(2)/lstat(2) says about a path, with nanosecond timestamps.
public struct FileStatus: Equatable, Sendable {
    public let device: UInt64
    public let inode: UInt64
    public let mode: UInt32
    public let size: Int64
    public let modified: Timestamp
    public let uid: UInt32
    public let gid: UInt32

    init(stat st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        mode = st.st_mode
        size = Int64(st.st_size)
        modified = Timestamp(seconds: Int64(st.st_mtim.tv_sec), nanoseconds: Int64(st.st_mtim.tv_nsec))
        uid = st.st_uid
        gid = st.st_gid
    }

    public var isDirectory: Bool { mode & S_IFMT == S_IFDIR }
    public var isRegularFile: Bool { mode & S_IFMT == S_IFREG }
    public var isSymlink: Bool { mode & S_IFMT == S_IFLNK }
    public var isSocket: Bool { mode & S_IFMT == S_IFSOCK }
}

/// Seconds + nanoseconds since the epoch.
public struct Timestamp: Comparable, Hashable, Sendable {
    public let seconds: Int64
    public let nanoseconds: Int64
    public init(seconds: Int64, nanoseconds: Int64) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }
    public static func < (a: Timestamp, b: Timestamp) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }
    /// clock_gettime(CLOCK_REALTIME).
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(seconds: Int64(ts.tv_sec), nanoseconds: Int64(ts.tv_nsec))
    }
    public var microseconds: Int64 { seconds * 1_000_000 + nanoseconds / 1000 }
    public var milliseconds: Int64 { seconds * 1000 + nanoseconds / 1_000_000 }
}

/// Path-level file system calls, all through `Syscall`.
public enum FileSystem {
    /// fstat(2) of an open fd (an O_PATH one too).
    static func status(of fd: FileDescriptor) throws(SystemError) -> FileStatus {
        var st = stat()
        try Syscall.call("fstat", fd.description) { fstat(fd.rawValue, &st) }
        return FileStatus(stat: st)
    }

    /// stat(2) (follows symlinks) or lstat(2) when `followSymlinks` is false.
    public static func status(_ path: String, followSymlinks: Bool = true) throws(SystemError) -> FileStatus {
        var st = stat()
        if followSymlinks {
            try Syscall.call("stat", path) { stat(path, &st) }
        } else {
            try Syscall.call("lstat", path) { lstat(path, &st) }
        }
        return FileStatus(stat: st)
    }

    public static func exists(_ path: String) -> Bool {
        (try? status(path)) != nil
    }

    public static func isDirectory(_ path: String) -> Bool {
        (try? status(path))?.isDirectory ?? false
    }

    /// readlink(2); nil when `path` is not a symlink.
    public static func symlinkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard let n = try? Syscall.call("readlink", path, { readlink(path, &buffer, buffer.count - 1) }) else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The last component of where the symlink `path` points (`_live` → `builds/c/` is `c`); nil if it is not a link.
    public static func symlinkTargetName(_ path: String) -> String? {
        symlinkTarget(path).map { baseName($0.hasSuffix("/") ? String($0.dropLast()) : $0) }
    }

    /// realpath(3).
    public static func realPath(_ path: String) throws -> String {
        guard let p = realpath(path, nil) else { throw SystemError("realpath", path, errno: errno) }
        defer { free(p) }
        return String(cString: p)
    }

    /// Entry names of a directory, without "." and "..".
    public static func list(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw SystemError("opendir", path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The whole file. Refuses more than `limit` bytes (configs are small; /dev/zero is not).
    public static func readFile(_ path: String, limit: Int = 16 << 20) throws(SystemError) -> [UInt8] {
        let fd = try FileDescriptor.open(path, O_RDONLY)
        defer { fd.close() }
        do {
            return try fd.readToEnd(limit: limit)
        } catch {
            throw SystemError(error.call, path, errno: error.errno)  // name the file, not the fd
        }
    }

    public static func readText(_ path: String) throws(SystemError) -> String {
        String(decoding: try readFile(path), as: UTF8.self)
    }

    /// Writes a file whole (create/truncate).
    /// mkdir -p: every missing directory of `path` (0755).
    public static func makeDirectories(_ path: String) throws(SystemError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if isDirectory(current) { continue }
            do {
                try Syscall.call("mkdir", current) { mkdir(current, 0o755) }
            } catch where error.errno == EEXIST {}
        }
    }

    public static func writeFile(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        defer { fd.close() }
        try fd.writeAll(text)
    }

    /// Appends `text` in one write (O_APPEND: lines of concurrent writers do not interleave).
    public static func appendText(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
        let fd = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_APPEND, mode: mode)
        defer { fd.close() }
        try fd.writeAll(text)
    }

    /// Writes a temporary file beside `path` and renames it over `path`: a
    /// reader sees the old content or the new one, never a part.
    public static func writeFileAtomically(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
        let temporary = path + ".tmp-\(getpid())"
        try writeFile(temporary, text, mode: mode)
        do {
            try Syscall.call("rename", path) { Glibc.rename(temporary, path) }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// unlink(2); a path already gone is fine.
    public static func unlink(_ path: String) {
        _ = try? Syscall.call("unlink", path) { Glibc.unlink(path) }
    }

    /// mkdtemp(3): a new directory `prefix` + six random characters, mode 0700.
    public static func makeTemporaryDirectory(prefix: String) throws(SystemError) -> String {
        var template = Array((prefix + "XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        if !made { throw SystemError("mkdtemp", prefix, errno: errno) }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// rmdir(2); a directory already gone (or not empty) is left as it is.
    public static func removeDirectory(_ path: String) {
        _ = try? Syscall.call("rmdir", path) { Glibc.rmdir(path) }
    }

    /// symlink(2): `path` pointing at `target`.
    public static func symlink(_ target: String, at path: String) throws(SystemError) {
        try Syscall.call("symlink", path) { Glibc.symlink(target, path) }
    }

    /// link(2): a hard link `path` to `existing`.
    public static func hardLink(_ existing: String, at path: String) throws(SystemError) {
        try Syscall.call("link", path) { Glibc.link(existing, path) }
    }

    /// rename(2): atomic replacement of `to`.
    public static func rename(_ from: String, to: String) throws(SystemError) {
        try Syscall.call("rename", "\(from) to \(to)") { Glibc.rename(from, to) }
    }

    /// chdir(2).
    public static func changeDirectory(_ path: String) throws(SystemError) {
        try Syscall.call("chdir", path) { chdir(path) }
    }

    /// getcwd(3).
    public static func currentDirectory() -> String {
        guard let p = getcwd(nil, 0) else { return "/" }
        defer { free(p) }
        return String(cString: p)
    }

    /// `path` made absolute against the current directory (symlinks not resolved).
    public static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : joined(currentDirectory(), path)
    }

    /// `a/b`, with exactly one slash between.
    public static func joined(_ a: String, _ b: String) -> String {
        if a.isEmpty { return b }
        if a.hasSuffix("/") { return a + b }
        return a + "/" + b
    }

    /// The parent directory of a path ("." for a bare name, "/" for "/x").
    public static func directoryName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// The last path component.
    public static func baseName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// fnmatch(3) with FNM_PERIOD, as glob(3) matches one path component.
    public static func matches(pattern: String, name: String) -> Bool {
        fnmatch(pattern, name, FNM_PERIOD) == 0
    }

    /// The paths matching `pattern`, sorted, as glob(3) finds them (component
    /// by component; relative patterns against the working directory);
    /// `markDirectories`: directories end in `/` (GLOB_MARK).
    public static func glob(_ pattern: String, markDirectories: Bool = false) -> [String] {
        let absolute = pattern.hasPrefix("/")
        var paths = [absolute ? "/" : ""]
        for component in pattern.split(separator: "/").map(String.init) {
            var next: [String] = []
            for base in paths {
                let directory = base.isEmpty ? "." : base
                if !hasGlobCharacters(component) {
                    let path = base.isEmpty ? component : joined(base, component)
                    if (try? status(path, followSymlinks: false)) != nil { next.append(path) }
                    continue
                }
                let names = ((try? list(directory)) ?? []).filter { matches(pattern: component, name: $0) }.sorted()
                next += names.map { base.isEmpty ? $0 : joined(base, $0) }
            }
            paths = next
        }
        return paths.filter { $0 != "/" && !$0.isEmpty }.map { markDirectories && isDirectory($0) ? $0 + "/" : $0 }
    }

    /// True when a path component contains glob metacharacters.
    public static func hasGlobCharacters(_ component: String) -> Bool {
        component.contains { $0 == "*" || $0 == "?" || $0 == "[" }
    }
}
