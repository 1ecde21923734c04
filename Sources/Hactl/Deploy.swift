#if canImport(Glibc)
import Glibc
#endif
import EmperorCore
import Shared

/// A deploy directory in the seed's layout:
///
///     deploy/conf/vassal.skel, zerg.skel      shared skeletons
///     deploy/builds/<name>/                   one build (vassal.ini, zerg.ini link the skeletons)
///     deploy/builds/_live, _stage             which builds nginx serves
///     deploy/assets/media                     shared between builds
struct Deploy {
    let root: String
    let basePort: Int
    /// The emperor's status page (`status = host:port`), for readiness.
    let status: (host: String, port: Int)?
    let nginxReload: String
    /// nginx's live address (`host:port`), to check a swap took effect.
    let liveURL: (host: String, port: Int)?

    var builds: String { root + "/builds" }
    func dir(_ name: String) -> String { builds + "/" + name }

    func exists(_ name: String) -> Bool { FileSystem.isDirectory(dir(name)) }

    /// The build a `_live`/`_stage` link points at.
    func target(_ link: String) -> String? {
        FileSystem.symlinkTargetName(builds + "/" + link)
    }

    var live: String? { target("_live") }
    var stage: String? { target("_stage") }

    /// Existing builds, in name order (a, b, …, aa).
    func names() -> [String] {
        ((try? FileSystem.list(builds)) ?? []).filter { !$0.hasPrefix("_") && !$0.hasPrefix(".") && FileSystem.isDirectory(dir($0)) }
            .sorted { ($0.count, $0) < ($1.count, $1) }
    }

    func port(_ name: String) throws -> Int { try BuildName.port(of: name, base: basePort) }

    /// Points `link` at `name` atomically: a new link, then rename(2) over the old
    /// one. The journal says who did it first (`DeployJournal`): `by` is the command.
    func point(_ link: String, at name: String, by: String) throws {
        DeployJournal.append(.init(epochMs: Timestamp.now().milliseconds, kind: link == "_live" ? .live : .stage, build: name, by: by),
                             buildsDirectory: builds)
        let tmp = builds + "/.\(link).\(getpid())"
        FileSystem.unlink(tmp)
        do {
            try FileSystem.symlink(name, at: tmp)
            try FileSystem.rename(tmp, to: builds + "/" + link)
        } catch {
            FileSystem.unlink(tmp)
            throw Problem("\(error)")
        }
    }

    /// Runs nginx's reload command (a shell line), and says so in the journal.
    func reloadNginx(by: String) throws {
        let status = try Run.shell(nginxReload, cwd: root, quiet: true)
        guard status.isSuccess else { throw Problem("`\(nginxReload)` \(status)") }
        DeployJournal.append(.init(epochMs: Timestamp.now().milliseconds, kind: .nginxReloaded, build: live ?? "", by: by),
                             buildsDirectory: builds)
    }
}

struct Problem: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Child commands: hooks, cp, nginx.
enum Run {
    /// `sh -c LINE`; its output goes to ours (indented) unless quiet.
    @discardableResult
    static func shell(_ line: String, cwd: String, env extra: [String: String] = [:], quiet: Bool = false) throws -> ExitStatus {
        try run(["/bin/sh", "-c", line], cwd: cwd, env: extra, quiet: quiet)
    }

    static func run(_ argv: [String], cwd: String, env extra: [String: String] = [:], quiet: Bool = false) throws -> ExitStatus {
        var env = Host.environment()
        for (k, v) in extra { env[k] = v }
        let devNull = try FileDescriptor.open("/dev/null", O_RDWR)
        defer { devNull.close() }
        let out = quiet ? devNull : FileDescriptor.standardError
        var spec = ChildProcess.Spec(executable: argv[0], arguments: argv, environment: env, workingDirectory: cwd,
                                     fdMap: [(devNull, 0), (out, 1), (out, 2)])
        spec.newProcessGroup = false
        spec.deathSignal = SIGTERM
        let pid = try ChildProcess.spawn(spec)
        return ChildProcess.wait(pid) ?? .exited(127)
    }
}
