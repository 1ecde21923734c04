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

    /// Resolves the path once, at start (before any chdir), and keeps the
    /// running image: the only time /proc/self/exe is opened; it is never an
    /// exec path (after an upgrade it names a deleted file).
    public static func locate(argv0: String, override: String? = nil, environment: [String: String]) -> OwnBinary {
        let image = (try? Syscall.call("open", "/proc/self/exe") { cs_open_own_image() }).map(FileDescriptor.init(rawValue:))
        return OwnBinary(path: resolvePath(argv0: argv0, override: override, environment: environment), image: image,
                         buildID: runningBuildID())
    }

    /// The binary's path: `override` (the `binary-path` option), else argv[0]
    /// (made absolute, or found on PATH); symlinks are not resolved (a
    /// retargeted symlink is an upgrade too).
    public static func resolvePath(argv0: String, override: String? = nil, environment: [String: String]) -> String {
        if let override { return FileSystem.absolute(override) }
        if argv0.contains("/") { return FileSystem.absolute(argv0) }
        if let found = (environment["PATH"] ?? "").split(separator: ":").map({ FileSystem.joined(String($0), argv0) })
            .first(where: isExecutable) {
            return FileSystem.absolute(found)
        }
        return argv0  // not found: an exec of it fails, and the running image is used
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

    /// Another file is at `path` now (an upgrade): compared with the running
    /// image by device and inode. A removed file is not a replacement.
    public var isReplaced: Bool { fileChange == .replaced }

    /// Whether the file at `path` is still the running image.
    public enum FileChange { case none, replaced, removed }

    public var fileChange: FileChange {
        guard let image, let running = try? image.status() else { return .none }
        guard let current = try? FileSystem.status(path) else { return .removed }
        return current.device != running.device || current.inode != running.inode ? .replaced : .none
    }

    /// Runs the file at `path` with `--version` (at most `timeoutMs`): nil when
    /// it answers a line starting with `program`, else why not. Checked before
    /// a re-exec onto a replaced binary: one that does not start must not
    /// replace a running process.
    public func checkStarts(program: String, timeoutMs: Int32 = 5000) -> String? {
        let read: FileDescriptor, write: FileDescriptor
        do {
            (read, write) = try Pipe.make()
        } catch {
            return "cannot check \(path): \(error)"
        }
        defer { read.close() }
        var spec = ChildProcess.Spec(executable: path, arguments: [path, "--version"], environment: Host.environment().filter { !SystemdNotify.childHidden.contains($0.key) },
                                     fdMap: [(write, 1), (.standardError, 2)])
        spec.deathSignal = SIGKILL
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(spec)
        } catch {
            write.close()
            return "the new binary \(path) cannot run (\(error))"
        }
        write.close()
        var out: [UInt8] = []
        let deadline = Host.monotonicNanoseconds() + UInt64(timeoutMs) * 1_000_000
        while out.count < 4096 {
            let now = Host.monotonicNanoseconds()
            guard now < deadline, (try? read.wait(timeoutMs: Int32(clamping: (deadline - now) / 1_000_000 + 1))) == true,
                  case .completed(let chunk)? = try? read.readAvailable(max: 4096), !chunk.isEmpty else { break }
            out += chunk
        }
        let status = ChildProcess.wait(pid, timeoutMs: Int32(clamping: max(0, Int64(deadline) - Int64(Host.monotonicNanoseconds())) / 1_000_000))
        guard status == .exited(0), String(decoding: out, as: UTF8.self).hasPrefix(program + " ") else {
            return "the new binary \(path) does not start (\(status.map { "\($0)" } ?? "no answer within \(timeoutMs) ms; killed"))"
        }
        return nil
    }

    /// `version (build id)` for logs, stats and `--version`.
    public var versionLine: String { "\(Version.string) (build \(buildID.isEmpty ? "unknown" : String(buildID.prefix(12))))" }

    /// A re-exec that hands state to the next image: `documents` are written to
    /// memfds named in the environment by their variables, `keeping` (and those
    /// memfds) survive the exec, the rest is CLOEXEC. Returns only when the exec
    /// failed, with everything as it was (the memfds closed, CLOEXEC back).
    public func reexec(_ arguments: [String], documents: [(variable: String, bytes: [UInt8])], keeping: [FileDescriptor],
                       fellBack: (SystemError) -> Void) -> Error {
        var memfds: [FileDescriptor] = []
        defer {
            // Still here: the exec failed; carry on as before.
            for (variable, _) in documents { Host.unsetEnvironment(variable) }
            for fd in keeping { try? fd.setCloseOnExec(true) }
            for fd in memfds { fd.close() }
        }
        do {
            for (variable, bytes) in documents {
                let fd = try SharedMemory.anonymousFile(name: variable.lowercased(), contents: bytes)
                memfds.append(fd)
                Host.setEnvironment(variable, String(fd.rawValue))
            }
            for fd in keeping + memfds { try fd.setCloseOnExec(false) }
        } catch {
            return error
        }
        return exec(arguments, fellBack: fellBack)
    }

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
