#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// The binary this process runs, as it is exec'd again (worker spawns,
/// re-exec on reload): by **path**, so a file replaced by an upgrade
/// (`cp new .zerg.new && mv .zerg.new zerg`) is picked up by the next exec;
/// and the running **image** (an fd opened at start), exec'd when that path
/// is missing or cannot be exec'd, so a bad upgrade never stops a respawn.
public struct OwnBinary: Sendable {
    /// Absolute, not resolved through symlinks (a retargeted symlink is an upgrade too).
    public let path: String
    /// O_PATH fd of the executable this process started from (CLOEXEC).
    public let image: FileDescriptor?
    /// The GNU build id of the running image ("" when it has none).
    public let buildID: String

    /// Resolves the path once, at start (before any chdir): `override` (the
    /// `binary-path` option), else argv[0] (made absolute, or found on PATH).
    public static func locate(argv0: String, override: String? = nil, environment: [String: String]) -> OwnBinary {
        var path = override.map(FileSystem.absolute) ?? ""
        if path.isEmpty {
            if argv0.contains("/") {
                path = FileSystem.absolute(argv0)
            } else if let found = (environment["PATH"] ?? "").split(separator: ":").map({ FileSystem.joined(String($0), argv0) })
                .first(where: isExecutable) {
                path = FileSystem.absolute(found)
            } else {
                path = FileSystem.symlinkTarget("/proc/self/exe") ?? argv0
            }
        }
        let image = (try? Syscall.call("open", "/proc/self/exe") { cs_open_own_image() }).map(FileDescriptor.init(rawValue:))
        return OwnBinary(path: path, image: image, buildID: runningBuildID())
    }

    static func isExecutable(_ path: String) -> Bool {
        (try? FileSystem.status(path))?.isRegularFile == true && access(path, X_OK) == 0
    }

    /// The build id of the running executable.
    public static func runningBuildID() -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 129) { buffer in
            cs_build_id(buffer.baseAddress, 129) == 0 ? String(cString: buffer.baseAddress!) : ""
        }
    }

    /// The file at `path` is not the running image any more (replaced by an
    /// upgrade, or removed): compared by device and inode.
    public var isReplaced: Bool {
        guard let image, let running = try? image.status() else { return false }
        guard let current = try? FileSystem.status(path) else { return false }  // removed: nothing new to move to
        return current.device != running.device || current.inode != running.inode
    }

    /// `version (build id)` for logs, stats and `--version`.
    public var versionLine: String { "\(Version.string) (build \(buildID.isEmpty ? "unknown" : String(buildID.prefix(12))))" }

    /// Replaces this process with its binary (same pid; fds without CLOEXEC
    /// are kept): by path, else the running image. Returns only when both
    /// failed; `fellBack` is called (to log it) before the image is tried.
    public func exec(_ arguments: [String], fellBack: (SystemError) -> Void) -> SystemError {
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        defer { for p in argv { free(p) } }
        do {
            try Syscall.call("execve", path) { execv(path, argv) }
        } catch {
            guard let image else { return error }
            fellBack(error)
            do {
                try Syscall.call("execveat", "the running image") { cs_exec_image(image.rawValue, argv, environ) }
            } catch let imageError {
                return imageError
            }
        }
        return SystemError("execve", path, errno: EINVAL)  // not reached: a successful exec does not return
    }
}
