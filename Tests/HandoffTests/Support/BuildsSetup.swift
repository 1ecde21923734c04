import Foundation
@testable import Shared

/// The seed's layout under an emperor: `builds/a`, `builds/b`, each with
/// `vassal.ini` and `zerg.ini` symlinks to shared skeletons, one emperor over
/// both globs. Build ports come from `ports/<build>` through `@(file)`.
final class BuildsSetup {
    let dir: TestDirectory
    var emperor: TestProcess!
    private var emperorProgram = "emperor"
    private var emperorArguments: [String] = []
    var ports: [String: Int] = [:]

    /// `binaries`: run copies of the emperor, vassal and zerg binaries from `dir/bin`
    /// (to replace them the way upgrades do).
    /// `vassalExtra`: more lines for every build's vassal.ini.
    init(builds: [String] = ["a", "b"], zergWorkers: Int = 2, emperorArgs: [String] = [], binaries: Bool = false, vassalExtra: String = "",
         emperorEnv: [String: String] = [:], activating: ([String: Int]) throws -> [(name: String, fd: FileDescriptor)] = { _ in [] },
         beforeStart: (TestDirectory) throws -> Void = { _ in }) throws {
        dir = try TestDirectory("builds-test")
        let d = dir.path
        for sub in ["skel", "run", "logs", "ports"] { try FileManager.default.createDirectory(atPath: dir.file(sub), withIntermediateDirectories: true) }
        try dir.write("skel/vassal.skel", """
            [uwsgi]
            build = %c
            port = @(\(d)/ports/%c)
            http = 127.0.0.1:%(port)
            zerg-server = \(d)/run/%(build).sock
            logto = \(d)/logs/vassal.%(build).log
            stats = \(d)/run/%(build)-vassal.stats
            http-timeout = 15
            \(vassalExtra)
            """)
        for version in ["v1", "v2"] {
            try dir.write("skel/zerg-\(version).skel", """
                [uwsgi]
                build = %c
                zerg = \(d)/run/%(build).sock
                wsgi-file = \(TestProcess.appsPath)
                processes = \(zergWorkers)
                env = APP_VERSION=\(version)
                disable-logging = true
                logto = \(d)/logs/zerg.%(build).log
                stats = \(d)/run/%(build)-zerg.stats
                worker-reload-mercy = 10
                """)
        }
        for build in builds {
            let port = try Self.freePort()
            ports[build] = port
            try dir.write("ports/\(build)", "\(port)")
            try FileManager.default.createDirectory(atPath: dir.file("builds/\(build)"), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: dir.file("builds/\(build)/vassal.ini"), withDestinationPath: "../../skel/vassal.skel")
            try FileManager.default.createSymbolicLink(atPath: dir.file("builds/\(build)/zerg.ini"), withDestinationPath: "../../skel/zerg-v1.skel")
        }
        var program = "emperor"
        if binaries {
            try FileManager.default.createDirectory(atPath: dir.file("bin"), withIntermediateDirectories: true)
            for name in ["emperor", "vassal", "zerg"] {
                try FileManager.default.copyItem(atPath: TestProcess.binDirectory + "/" + name, toPath: dir.file("bin/" + name))
            }
            program = dir.file("bin/emperor")
        }
        emperorProgram = program
        // Adoption sockets in the test's directory (the default is a shared system one).
        emperorArguments = ["--emperor", "\(d)/builds/[a-z]*/vassal.ini", "--emperor", "\(d)/builds/[a-z]*/zerg.ini",
                            "--emperor-run-dir", "\(d)/run/emperor"] + emperorArgs
        try beforeStart(dir)
        emperor = try TestProcess(program, emperorArguments, log: dir.file("emperor.log"), cwd: d, env: emperorEnv,
                                  activating: try activating(ports))
    }

    /// Starts another emperor with the same arguments (its log appends to the same file).
    func restartEmperor() throws {
        emperor = try TestProcess(emperorProgram, emperorArguments, log: dir.file("emperor.log"), cwd: dir.path)
    }

    /// Instance pids the emperor log names as started.
    func startedPids() -> [pid_t] {
        emperor.logLines(containing: ": started ").compactMap { Int32($0.split(separator: " ").last ?? "") }
    }

    /// A port that is free now and that the kernel will not hand out as a client's
    /// local port meanwhile: chosen below `ip_local_port_range`. (A port from a
    /// bind to :0 is an ephemeral one; any connect may then take it, and a client
    /// socket in TIME_WAIT keeps it from being bound for 60 s.)
    static func freePort() throws -> Int { try freePorts(count: 1, step: 1) }

    /// A base port `p` such that `p`, `p + step`, … (`count` ports) are all free,
    /// below the ephemeral range.
    static func freePorts(count: Int, step: Int) throws -> Int {
        let ephemeralLow = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))
            .flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { Int($0) } } ?? 32768
        let low = 10_000, high = max(low + 1000, ephemeralLow) - count * step
        for _ in 0..<200 {
            let base = Int.random(in: low..<high) / 10 * 10
            let ports = (0..<count).map { base + $0 * step }
            if ports.allSatisfy(isFree) { return base }
        }
        throw TestFailure("no free block of \(count) ports below \(ephemeralLow)")
    }

    private static func isFree(_ port: Int) -> Bool {
        guard let fd = try? ListenAddress.tcp(host: "127.0.0.1", port: port).listen() else { return false }
        fd.close()
        return true
    }

    func log(_ name: String) -> String { (try? String(contentsOfFile: dir.file("logs/\(name).log"), encoding: .utf8)) ?? "" }
    func count(_ name: String, _ text: String) -> Int { log(name).components(separatedBy: text).count - 1 }

    /// Waits until build `b` answers through its vassal.
    func waitServing(_ build: String, seconds: Double = 30) -> Bool {
        waitUntil(seconds) { (try? HTTPClient.once(port: self.ports[build]!, "/v/pid", timeout: 2).status) == 200 }
    }

    /// The zerg master of `build` (from the emperor's log) and its workers.
    func zergMaster(_ build: String) -> pid_t? {
        let lines = emperor.logLines(containing: "builds/\(build)/zerg.ini: started zerg pid ")
        return lines.last.flatMap { Int32($0.split(separator: " ").last ?? "") }
    }

    func zergWorkers(_ build: String) -> [pid_t] {
        guard let master = zergMaster(build) else { return [] }
        return ChildProcess.children(of: master)
    }

    /// Processes running `kind` (`vassal` or `zerg`) for `build`, from /proc:
    /// the executable's name and the config on the command line. For a zerg,
    /// `mastersOnly` leaves out the workers (children of another such process).
    func processes(_ kind: String, _ build: String, mastersOnly: Bool = false) -> [pid_t] {
        let config = dir.file("builds/\(build)/\(kind).ini")  // this setup's, not another test's
        let all = ((try? FileSystem.list("/proc")) ?? []).compactMap { Int32($0) }.filter { pid in
            let exe = FileSystem.baseName(FileSystem.symlinkTarget("/proc/\(pid)/exe") ?? "")
            let cmdline = (try? FileSystem.readFile("/proc/\(pid)/cmdline")).map { String(decoding: $0, as: UTF8.self) } ?? ""
            return exe.hasPrefix(kind) && cmdline.contains(config)
        }
        guard mastersOnly else { return all }
        return all.filter { pid in !all.contains(ProcStat.read(pid)?.parent ?? -1) }
    }

    /// Processes of this setup running a binary file that was replaced or removed.
    func runningDeletedBinaries() -> [String] {
        ((try? FileSystem.list("/proc")) ?? []).compactMap { name -> String? in
            guard let target = FileSystem.symlinkTarget("/proc/\(name)/exe"), target.hasPrefix(dir.path), target.hasSuffix("(deleted)") else { return nil }
            return "pid \(name): \(target)"
        }
    }

    /// `cp new .name.new && mv .name.new name` for every binary, as package managers replace files.
    func replaceBinaries() throws {
        for name in ["emperor", "vassal", "zerg"] {
            let tmp = dir.file("bin/.\(name).new")
            try? FileManager.default.removeItem(atPath: tmp)
            try FileManager.default.copyItem(atPath: TestProcess.binDirectory + "/" + name, toPath: tmp)
            guard rename(tmp, dir.file("bin/" + name)) == 0 else { throw TestFailure("rename: \(errno)") }
        }
    }

    /// Replaces a symlink atomically (rename over it), as `ln -sfn` does.
    func relink(_ relative: String, to target: String) throws {
        let tmp = dir.file(relative + ".new")
        try? FileManager.default.removeItem(atPath: tmp)
        try FileManager.default.createSymbolicLink(atPath: tmp, withDestinationPath: target)
        guard rename(tmp, dir.file(relative)) == 0 else { throw TestFailure("rename: \(errno)") }
    }

    /// `touch` through the symlink (the target's mtime changes).
    func touch(_ relative: String) {
        _ = utimensat(AT_FDCWD, dir.file(relative), nil, 0)
    }

    func cleanup() {
        let instances = startedPids()
        emperor.stopEmperor()
        for pid in instances { kill(-pid, SIGKILL); kill(pid, SIGKILL) }
        dir.remove()
    }
}
