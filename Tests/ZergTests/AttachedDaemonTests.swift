import Foundation
import Testing
@testable import Shared

/// `attach-daemon` and `smart-attach-daemon`: run by the master beside the
/// workers, started again when they die, never duplicated by reloads, stopped with the zerg.
@Suite(.serialized) struct AttachedDaemonTests {
    static func pids(_ path: String) -> [pid_t] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { pid_t($0.trimmingCharacters(in: .whitespaces)) }
    }

    @Test func daemonsAreRestartedNotDuplicatedAndStopped() throws {
        let z = try ZergHarness(["--processes", "2", "--stats", "zerg.stats",
                                 "--attach-daemon", "echo $$ >> daemon.pids; exec sleep 600",
                                 "--smart-attach-daemon", "smart.pid sleep 600 & echo $! > smart.pid"])
        defer {
            for pid in Self.pids(z.dir + "/daemon.pids") + Self.pids(z.dir + "/smart.pid") { kill(pid, SIGKILL) }
            z.cleanup()
        }
        let legacy = z.dir + "/daemon.pids", smart = z.dir + "/smart.pid"
        #expect(z.waitUntil(10) { Self.pids(legacy).count == 1 && Self.pids(smart).count == 1 }, "\(z.log())")
        let first = Self.pids(legacy)[0], firstSmart = Self.pids(smart)[0]
        #expect(ProcStat.isRunning(first) && ProcStat.isRunning(firstSmart))

        // Three rolling reloads of the workers: the same daemons, no new one.
        for round in 1...3 {
            z.signal(SIGHUP)
            #expect(z.waitUntil(15) { z.log().components(separatedBy: "rolling reload done").count > round })
        }
        #expect(Self.pids(legacy) == [first] && Self.pids(smart) == [firstSmart] && ProcStat.isRunning(first) && ProcStat.isRunning(firstSmart))

        // Killed: each is started again (the legacy one when the master reaps it, the smart one from its pidfile).
        kill(first, SIGKILL)
        kill(firstSmart, SIGKILL)
        #expect(z.waitUntil(10) { Self.pids(legacy).count == 2 && ProcStat.isRunning(Self.pids(legacy)[1]) }, "\(z.log())")
        #expect(z.waitUntil(10) { Self.pids(smart).first.map { $0 != firstSmart && ProcStat.isRunning($0) } == true }, "\(z.log())")

        let stats = try FileDescriptor.connect(unixPath: z.dir + "/zerg.stats")
        let document = try JSONSerialization.jsonObject(with: Data(try stats.readToEnd())) as? [String: Any]
        stats.close()
        let daemons = document?["daemons"] as? [[String: Any]] ?? []
        #expect(daemons.count == 2 && daemons.allSatisfy { ($0["respawns"] as? Int) == 1 }, "\(daemons)")

        // The zerg stops: so do its daemons.
        let running = [Self.pids(legacy)[1], Self.pids(smart)[0]]
        z.signal(SIGTERM)
        #expect(z.waitUntil(15) { z.hasExited() })
        #expect(waitFor(5) { running.allSatisfy { !ProcStat.isRunning($0) } }, "daemons stopped with the zerg")
    }

    /// `attach-daemon2` with `touch` (restarted when the file is touched),
    /// `smart-attach-daemon2` (the master writes the pidfile of a foreground
    /// command), `attach-control-daemon` (its end stops the zerg).
    @Test func touchedManagedAndControlDaemons() throws {
        let z = try ZergHarness(["--processes", "1",
                                 "--attach-daemon2", "cmd=echo $$ >> touched.pids; exec sleep 600,touch=restart.txt,stopsignal=15",
                                 "--smart-attach-daemon2", "managed.pid exec sleep 600",
                                 "--attach-control-daemon", "echo $$ > control.pid; exec sleep 600"]) { dir in
            try "".write(toFile: dir + "/restart.txt", atomically: true, encoding: .utf8)
        }
        let touched = z.dir + "/touched.pids", managed = z.dir + "/managed.pid", control = z.dir + "/control.pid"
        defer {
            for pid in Self.pids(touched) + Self.pids(managed) + Self.pids(control) { kill(pid, SIGKILL) }
            z.cleanup()
        }
        #expect(z.waitUntil(10) { Self.pids(touched).count == 1 && Self.pids(managed).count == 1 && Self.pids(control).count == 1 }, "\(z.log())")
        let managedPid = Self.pids(managed)[0]
        #expect(ProcStat.isRunning(managedPid) && z.log().contains("(pid \(managedPid))"), "the pidfile names the master's child")

        // Touched: stopped and started again at once.
        let first = Self.pids(touched)[0]
        usleep(1_100_000)  // a different modification time, to the second at least
        try "now".write(toFile: z.dir + "/restart.txt", atomically: false, encoding: .utf8)
        #expect(z.waitUntil(10) { Self.pids(touched).count == 2 && ProcStat.isRunning(Self.pids(touched)[1]) }, "\(z.log())")
        #expect(!ProcStat.isRunning(first))

        // The managed one killed: started again, its pidfile rewritten.
        kill(managedPid, SIGKILL)
        #expect(z.waitUntil(10) { Self.pids(managed).first.map { $0 != managedPid && ProcStat.isRunning($0) } == true }, "\(z.log())")

        // The control daemon ends: the zerg stops, and its other daemons with it.
        let others = [Self.pids(touched)[1], Self.pids(managed)[0]]
        kill(Self.pids(control)[0], SIGKILL)
        #expect(z.waitUntil(15) { z.hasExited() }, "\(z.log())")
        #expect(z.log().contains("control daemon `echo $$ > control.pid; exec sleep 600` ended: the zerg stops"))
        #expect(waitFor(5) { others.allSatisfy { !ProcStat.isRunning($0) } })
    }

    func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }
}
