import Foundation
@testable import Shared

/// A temp directory that removes itself (and everything in it).
final class TestDirectory {
    let path: String
    init(_ prefix: String) throws {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: p)
        chmod(path, 0o755)
    }
    func file(_ name: String) -> String { path + "/" + name }
    func write(_ name: String, _ text: String) throws { try text.write(toFile: file(name), atomically: true, encoding: .utf8) }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A program started for a test in its own process group, logging to a file;
/// `stop()` kills the whole group.
final class TestProcess {
    let pid: pid_t
    let logPath: String
    var exitStatus: Shared.ExitStatus?

    /// Beside the test binary (argv[0], resolved once before any test runs).
    static let binDirectory = FileSystem.directoryName(OwnBinary.resolvePath(argv0: CommandLine.arguments[0], environment: Host.environment()))
    static var appsPath: String {
        FileSystem.directoryName(FileSystem.directoryName(FileSystem.directoryName("\(#filePath)"))) + "/ZergTests/Support/apps.py"
    }

    /// `activating`: listening sockets passed as systemd does (fd 3 on, `LISTEN_FDS`,
    /// `LISTEN_FDNAMES`, and `LISTEN_PID` set by a shell that then execs the program).
    init(_ program: String, _ args: [String], log: String, cwd: String? = nil, env extra: [String: String] = [:],
         activating sockets: [(name: String, fd: FileDescriptor)] = []) throws {
        logPath = log
        let logFile = try FileDescriptor.open(log, O_WRONLY | O_CREAT | O_APPEND)
        defer { logFile.close() }
        let devNull = try FileDescriptor.open("/dev/null", O_RDONLY)
        defer { devNull.close() }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in extra { env[k] = v }
        let path = program.hasPrefix("/") ? program : Self.binDirectory + "/" + program
        var argv = [path] + args
        var map = [(devNull, Int32(0)), (logFile, 1), (logFile, 2)]
        if !sockets.isEmpty {
            argv = ["/bin/sh", "-c", "LISTEN_PID=$$ exec \"$0\" \"$@\"", path] + args
            env["LISTEN_FDS"] = String(sockets.count)
            env["LISTEN_FDNAMES"] = sockets.map(\.name).joined(separator: ":")
            for (i, s) in sockets.enumerated() { map.append((s.fd, 3 + Int32(i))) }
        }
        var spec = ChildProcess.Spec(executable: argv[0], arguments: argv, environment: env, workingDirectory: cwd, fdMap: map)
        spec.deathSignal = SIGKILL
        pid = try ChildProcess.spawn(spec)
    }

    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    func logLines(containing text: String) -> [String] {
        log().split(separator: "\n").map(String.init).filter { $0.contains(text) }
    }

    func hasExited() -> Bool {
        if exitStatus != nil { return true }
        var raw: Int32 = 0
        if waitpid(pid, &raw, WNOHANG) == pid {
            exitStatus = Shared.ExitStatus(raw: raw)
            return true
        }
        return false
    }

    func signal(_ sig: Int32) { kill(pid, sig) }

    /// Every process of its group (pgrep -g), the leader included.
    func group() -> [pid_t] {
        guard let names = try? FileSystem.list("/proc") else { return [] }
        return names.compactMap { Int32($0) }.filter { getpgid($0) == pid }
    }

    /// An emperor: SIGINT (fast stop of its instances), then kill whatever is left of them.
    func stopEmperor() {
        let everyone = group() + ChildProcess.children(of: pid)
        signal(SIGINT)
        _ = waitUntil(10) { self.hasExited() }
        stop()
        for p in everyone { kill(p, SIGKILL) }
    }

    /// A zerg started with `http` (its own vassal) keeps the vassal's socket
    /// in a private directory it removes when it stops; killed, it cannot:
    /// the test removes it (the path is in the zerg's log).
    func removeRouterDirectory() {
        for line in logLines(containing: "workers attach at /tmp/hadjango-http-") {
            guard let path = line.components(separatedBy: "workers attach at ").last else { continue }
            try? FileManager.default.removeItem(atPath: FileSystem.directoryName(path))
        }
    }

    func stop() {
        let members = group()
        kill(-pid, SIGKILL)
        for m in members { kill(m, SIGKILL) }
        _ = waitUntil(5) { self.hasExited() }
    }
}

/// Polls `condition` every 5 ms until it holds or `seconds` pass.
@discardableResult
func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(5_000)
    }
    return condition()
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
