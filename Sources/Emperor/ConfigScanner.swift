#if canImport(Glibc)
import Glibc
#endif
import Shared

/// Finds the instance configs the `emperor` globs match, and every directory
/// whose change could alter that set (so inotify can watch exactly those).
///
/// A pattern that names a directory means every config in it, as in uWSGI.
/// Globs are walked one path component at a time, so a directory that does
/// not exist yet is covered by a watch on its nearest existing parent.
struct ConfigScanner {
    var patterns: [String]
    var followSymlinks: Bool
    var currentDirectory: String

    struct Found: Equatable {
        /// Config name: the path as the glob produced it (relative when the pattern is).
        var name: String
        var pattern: String
    }

    struct Result {
        var configs: [Found] = []
        var watchDirectories: Set<String> = []
        /// Things worth one log line (unsupported formats, unreadable directories).
        var notes: [String] = []
    }

    static let supportedExtensions = [".ini"]
    static let otherUWSGIExtensions = [".xml", ".yml", ".yaml", ".json", ".js"]

    func scan() -> Result {
        var result = Result()
        var seen: Set<String> = []
        for pattern in patterns {
            let before = result.configs.count
            defer {
                if result.configs.count == before { result.notes.append("`\(pattern)` matches no config yet; watching for one") }
            }
            var effective = pattern
            if !FileSystem.hasGlobCharacters(pattern), FileSystem.isDirectory(absolute(pattern)) {
                effective = FileSystem.joined(pattern, "*")
            }
            let absolutePattern = effective.hasPrefix("/")
            let components = effective.split(separator: "/").map(String.init)
            guard !components.isEmpty else { continue }
            walk(prefix: absolutePattern ? "/" : "", components: components[...], pattern: pattern,
                 result: &result, seen: &seen)
        }
        return result
    }

    private func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileSystem.joined(currentDirectory, path)
    }

    private func walk(prefix: String, components: ArraySlice<String>, pattern: String, result: inout Result, seen: inout Set<String>) {
        let directory = prefix.isEmpty ? currentDirectory : absolute(prefix)
        result.watchDirectories.insert(directory)
        guard let component = components.first else { return }
        let rest = components.dropFirst()
        let isLast = rest.isEmpty

        var names: [String]
        if component == "." || component == ".." || !FileSystem.hasGlobCharacters(component) {
            names = [component]
        } else {
            do {
                names = try FileSystem.list(directory).filter { FileSystem.matches(pattern: component, name: $0) }.sorted()
            } catch let error as SystemError where error.errno == ENOENT || error.errno == ENOTDIR {
                return
            } catch {
                result.notes.append("cannot list \(directory) for `\(pattern)`: \(error)")
                return
            }
        }
        for name in names {
            let path = prefix.isEmpty ? name : FileSystem.joined(prefix, name)
            if isLast {
                consider(path, pattern: pattern, result: &result, seen: &seen)
            } else if FileSystem.isDirectory(absolute(path)) {
                walk(prefix: path, components: rest, pattern: pattern, result: &result, seen: &seen)
            }
        }
    }

    private func consider(_ path: String, pattern: String, result: inout Result, seen: inout Set<String>) {
        let name = FileSystem.baseName(path)
        if Self.otherUWSGIExtensions.contains(where: { name.hasSuffix($0) }) {
            result.notes.append("\(path): only .ini configs are supported; ignored")
            return
        }
        guard Self.supportedExtensions.contains(where: { name.hasSuffix($0) }), name.utf8.count < 255 else { return }
        let full = absolute(path)
        guard let status = try? FileSystem.status(full, followSymlinks: followSymlinks) else {
            if followSymlinks, FileSystem.symlinkTarget(full) != nil {
                result.notes.append("\(path): dangling symlink (its target does not exist); ignored")
            }
            return
        }
        guard status.isRegularFile || (!followSymlinks && status.isSymlink) else { return }
        // Following links: a touch on the target must be seen too.
        if followSymlinks, FileSystem.symlinkTarget(full) != nil, let real = try? FileSystem.realPath(full) {
            result.watchDirectories.insert(FileSystem.directoryName(real))
        }
        if seen.insert(path).inserted {
            result.configs.append(Found(name: path, pattern: pattern))
        }
    }
}
