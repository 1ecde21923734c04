import Foundation
import Testing
@testable import Shared

/// `attach-daemon` in a vassal config (a Celery worker beside the build's
/// vassal): run by the vassal, started again when killed, carried across the
/// vassal's re-exec on reload (not started twice), listed in its stats, and
/// stopped with it.
@Suite(.serialized) struct VassalDaemonTests {
    static func pids(_ path: String) -> [pid_t] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { pid_t($0.trimmingCharacters(in: .whitespaces)) }
    }

    @Test func aVassalRunsItsDaemons() throws {
        let v = try VassalSetup(withStats: true, ini: """
            [uwsgi]
            attach-daemon = echo $$ >> {dir}/daemon.pids; exec sleep 600
            """)
        let list = v.dir.file("daemon.pids")
        defer {
            for pid in Self.pids(list) { kill(pid, SIGKILL) }
            v.cleanup()
        }
        #expect(waitUntil(10) { Self.pids(list).count == 1 }, "\(v.vassal.log())")
        let first = Self.pids(list)[0]
        #expect(ProcStat.isRunning(first))

        // Two reloads (each a re-exec of the vassal): the same daemon, adopted, no second one.
        for round in 1...2 {
            v.vassal.signal(SIGHUP)
            #expect(waitUntil(15) { v.vassal.logLines(containing: "reloaded:").count == round }, "\(v.vassal.log())")
        }
        #expect(Self.pids(list) == [first] && ProcStat.isRunning(first))

        // Killed: the re-exec'd vassal reaps it and starts it again.
        kill(first, SIGKILL)
        #expect(waitUntil(10) { Self.pids(list).count == 2 && ProcStat.isRunning(Self.pids(list)[1]) }, "\(v.vassal.log())")
        let stats = try FileDescriptor.connect(unixPath: v.statsPath)
        let document = try JSONSerialization.jsonObject(with: Data(try stats.readToEnd())) as? [String: Any]
        stats.close()
        let daemons = document?["daemons"] as? [[String: Any]] ?? []
        #expect(daemons.count == 1 && daemons.first?["respawns"] as? Int == 1 && daemons.first?["pid"] as? Int == Int(Self.pids(list)[1]),
                "\(daemons)")

        // A reload whose config names another command: the old daemon is stopped, the new one started.
        let replaced = Self.pids(list)[1]
        try v.dir.write("vassal.ini", """
            [uwsgi]
            attach-daemon = echo $$ >> \(v.dir.file("other.pids")); exec sleep 600
            """)
        v.vassal.signal(SIGHUP)
        #expect(waitUntil(15) { !v.vassal.logLines(containing: "is no longer configured; stopping it").isEmpty }, "\(v.vassal.log())")
        #expect(waitUntil(10) { !ProcStat.isRunning(replaced) && Self.pids(v.dir.file("other.pids")).count == 1 })
        defer { for pid in Self.pids(v.dir.file("other.pids")) { kill(pid, SIGKILL) } }

        // The vassal stops: so does its daemon.
        let running = Self.pids(v.dir.file("other.pids"))[0]
        v.vassal.signal(SIGTERM)
        #expect(waitUntil(15) { v.vassal.hasExited() })
        #expect(waitUntil(5) { !ProcStat.isRunning(running) }, "the daemon stopped with the vassal")
    }
}
