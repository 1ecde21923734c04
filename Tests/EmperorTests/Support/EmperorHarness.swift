import Foundation
import Testing
@testable import Shared

/// One emperor process started for a test, in its own temp directory, with the
/// stand-in instance (`instance.py`) as its wrapper. `cleanup()` kills
/// everything it started (process group, every pid an instance reported) and
/// removes the directory; call it in a `defer`.
final class EmperorHarness {
    let dir: String
    let pid: pid_t
    var exitStatus: Shared.ExitStatus?
    var knownPids: Set<pid_t> = []

    var logPath: String { dir + "/emperor.log" }
    var eventsPath: String { dir + "/events.log" }
    var statsPath: String { dir + "/stats.sock" }

    /// Beside the test binary (argv[0], resolved once before any test runs).
    static let buildDirectory = FileSystem.directoryName(OwnBinary.resolvePath(argv0: CommandLine.arguments[0], environment: Host.environment()))
    static var emperorBinary: String { buildDirectory + "/emperor" }
    static var instanceScript: String {
        FileSystem.directoryName("\(#filePath)") + "/instance.py"
    }

    /// Starts `emperor ARGS --emperor-wrapper instance.py --emperor-stats DIR/stats.sock`
    /// with DIR as its working directory. `prefix` runs it under another program (unshare).
    init(_ args: [String], wrapper: Bool = true, prefix: [String] = [], setup: (String) throws -> Void = { _ in }) throws {
        var template = Array("/tmp/emperor-test-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        dir = String(cString: p)
        try setup(dir)
        chmod(Self.instanceScript, 0o755)
        var full = [Self.emperorBinary] + args + ["--emperor-stats", dir + "/stats.sock"]
        if wrapper { full += ["--emperor-wrapper", Self.instanceScript] }
        full = prefix + full
        let log = try FileDescriptor.open(dir + "/emperor.log", O_WRONLY | O_CREAT | O_APPEND)
        defer { log.close() }
        let devNull = try FileDescriptor.open("/dev/null", O_RDONLY)
        defer { devNull.close() }
        var spec = ChildProcess.Spec(
            executable: full[0], arguments: full, environment: ProcessInfo.processInfo.environment,
            workingDirectory: dir, fdMap: [(devNull, 0), (log, 1), (log, 2)])
        // Test threads come and go: a parent-death signal tied to one would kill it early.
        spec.deathSignal = 0
        pid = try ChildProcess.spawn(spec)
    }

    // MARK: files

    func path(_ relative: String) -> String { dir + "/" + relative }

    func write(_ relative: String, _ text: String) throws {
        let full = path(relative)
        try FileManager.default.createDirectory(atPath: FileSystem.directoryName(full), withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: false, encoding: .utf8)
    }

    func mkdir(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: path(relative), withIntermediateDirectories: true)
    }

    func symlink(_ relative: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: path(relative), withDestinationPath: target)
    }

    func remove(_ relative: String) throws {
        try FileManager.default.removeItem(atPath: path(relative))
    }

    /// A config body that reports to this harness's events file.
    func configText(_ extra: String = "") -> String {
        "[uwsgi]\nhttp = :0\ntest-events = \(eventsPath)\n\(extra)\n"
    }

    // MARK: observing

    struct Event {
        let name: String
        let pid: pid_t
        let ns: UInt64
        let config: String
        let program: String
        let detail: String
    }

    func events() -> [Event] {
        guard let text = try? String(contentsOfFile: eventsPath, encoding: .utf8) else { return [] }
        let parsed: [Event] = text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 5, let pid = pid_t(f[1]), let ns = UInt64(f[2]) else { return nil }
            return Event(name: f[0], pid: pid, ns: ns, config: f[3], program: f[4], detail: f.count > 5 ? f[5] : "")
        }
        for e in parsed {
            knownPids.insert(e.pid)
            if e.name == "child", let child = pid_t(e.detail) { knownPids.insert(child) }
        }
        return parsed
    }

    func events(_ name: String, config: String? = nil) -> [Event] {
        events().filter { $0.name == name && (config == nil || $0.config == config) }
    }

    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The emperor's stats document.
    func stats() throws -> [String: Any] {
        let fd = try FileDescriptor.connect(unixPath: statsPath)
        defer { fd.close() }
        let bytes = try fd.readToEnd()
        guard let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw CocoaError(.propertyListReadCorrupt)
        }
        return object
    }

    func vassals() -> [[String: Any]] {
        ((try? stats())?["vassals"] as? [[String: Any]]) ?? []
    }

    func vassal(_ id: String) -> [String: Any]? {
        vassals().first { $0["id"] as? String == id }
    }

    /// Polls `condition` every 5 ms until it holds or `seconds` pass.
    @discardableResult
    func waitUntil(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            if exitStatus == nil, hasExited() { return condition() }
            usleep(5_000)
        }
        return condition()
    }

    /// True once the emperor has ended (and is reaped).
    func hasExited() -> Bool {
        if exitStatus != nil { return true }
        var raw: Int32 = 0
        let r = waitpid(pid, &raw, WNOHANG)
        if r == pid {
            exitStatus = Shared.ExitStatus(raw: raw)
            return true
        }
        return r < 0
    }

    func signal(_ sig: Int32) { kill(pid, sig) }

    // MARK: cleanup

    /// Kills everything this test started, then removes the directory.
    func cleanup() {
        _ = events()
        if !hasExited() {
            kill(pid, SIGKILL)
            kill(-pid, SIGKILL)
            waitUntil(5) { hasExited() }
        }
        for p in knownPids { kill(p, SIGKILL); kill(-p, SIGKILL) }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Whether a pid still exists (a zombie counts as existing).
    static func alive(_ pid: pid_t) -> Bool { kill(pid, 0) == 0 }

    /// The process state letter from /proc (R, S, Z, ...), nil when gone.
    static func state(_ pid: pid_t) -> Character? { ProcStat.read(pid)?.state }
    static func parent(_ pid: pid_t) -> pid_t? { ProcStat.read(pid)?.parent }
    static func cpuTicks(_ pid: pid_t) -> Int? { ProcStat.read(pid)?.cpuTicks }
}

func monotonicNow() -> UInt64 { Host.monotonicNanoseconds() }
