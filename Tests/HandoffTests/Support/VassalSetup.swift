import Foundation
@testable import Shared

/// A vassal on 127.0.0.1:0 and the zergs attached to it, in one temp directory.
final class VassalSetup {
    let dir: TestDirectory
    let vassal: TestProcess
    var zergs: [TestProcess] = []
    private(set) var port = 0
    var socketPath: String { dir.file("zerg.sock") }

    var statsPath: String { dir.file("vassal.stats") }

    var iniPath: String { dir.file("vassal.ini") }

    /// `withStats`: the vassal serves its stats at `statsPath`. `ini`: written
    /// to `iniPath`, which the vassal loads too (`{dir}` stands for the directory).
    init(vassalArgs: [String] = [], withStats: Bool = false, ini: String? = nil) throws {
        dir = try TestDirectory("vassal-test")
        let stats = withStats ? ["--stats", dir.file("vassal.stats")] : []
        var extra = vassalArgs
        if let ini {
            try dir.write("vassal.ini", ini.replacingOccurrences(of: "{dir}", with: dir.path))
            extra += ["--ini", dir.file("vassal.ini")]
        }
        vassal = try TestProcess("vassal", ["--http", "127.0.0.1:0", "--zerg-server", dir.file("zerg.sock")] + stats + extra,
                                 log: dir.file("vassal.log"))
        guard waitUntil(10, { self.listeningPort() != nil || self.vassal.hasExited() }), let p = listeningPort() else {
            let log = vassal.log()
            cleanup()
            throw TestFailure("the vassal did not start:\n\(log)")
        }
        port = p
    }

    func listeningPort() -> Int? { Self.listeningPort(of: vassal) }

    /// The port a vassal started on 127.0.0.1:0 says it listens on, if it said so yet.
    static func listeningPort(of vassal: TestProcess) -> Int? {
        guard let line = vassal.logLines(containing: "listening on 127.0.0.1:").first,
              let range = line.range(of: "127.0.0.1:") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    /// Starts a zerg attached to the vassal; waits until its workers are ready when `wait`.
    @discardableResult
    func startZerg(workers: Int = 2, args: [String] = [], env: [String: String] = [:], wait: Bool = true) throws -> TestProcess {
        let n = zergs.count + 1
        let z = try TestProcess("zerg", ["--zerg", socketPath, "--wsgi-file", TestProcess.appsPath, "--processes", String(workers),
                                         "--disable-logging"] + args,
                                log: dir.file("zerg\(n).log"), cwd: dir.path, env: env)
        zergs.append(z)
        if wait {
            guard waitUntil(30, { !z.logLines(containing: "worker(s) serving on the vassal").isEmpty || z.hasExited() }),
                  !z.hasExited() else {
                throw TestFailure("zerg \(n) did not become ready:\n\(z.log())\nvassal:\n\(vassal.log())")
            }
        }
        return z
    }

    /// Worker pids of a zerg (its group minus the master).
    func workers(of z: TestProcess) -> [pid_t] { z.group().filter { $0 != z.pid } }

    /// SIGTERM to `zerg` while `load` runs: what clients saw from the signal
    /// until the zerg has exited and 200 more requests succeeded (nil: it did
    /// not exit, or they did not), the load stopped.
    func stopGracefully(_ zerg: TestProcess, under load: LoadGenerator) -> LoadGenerator.Summary? {
        let start = Host.monotonicNanoseconds()
        zerg.signal(SIGTERM)
        let done = waitUntil(20) { zerg.hasExited() } && load.waitForSuccesses(200)
        load.stop()
        return done ? load.summary(from: start, to: Host.monotonicNanoseconds()) : nil
    }

    func cleanup() {
        for z in zergs { z.stop() }
        vassal.stop()
        dir.remove()
    }
}
