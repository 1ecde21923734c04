import Foundation
import Testing
@testable import Shared

/// The emperor as a real process, with real configs, signals and children.
/// Serialized: latency and CPU figures must not compete with each other.
@Suite(.serialized) struct EmperorTests {
    static let glob = "builds/[a-z]*/vassal.ini"

    /// The seed's supervisord command line with only the binary changed; a
    /// symlink dropped into a new build directory starts its instance fast.
    @Test func droppedSymlinkStartsWithinMilliseconds() throws {
        let e = try EmperorHarness(["--master", "--thunder-lock", "--emperor", Self.glob]) { dir in
            try FileManager.default.createDirectory(atPath: dir + "/builds", withIntermediateDirectories: true)
        }
        defer { e.cleanup() }
        try e.write("conf/vassal.skel", e.configText())
        #expect(e.waitUntil { e.log().contains("watching `\(Self.glob)`") })
        #expect(e.log().contains("accepted, no effect: master"))

        var latenciesMs: [Double] = []
        for i in 0..<20 {
            let build = "t" + String(UnicodeScalar(UInt8(97 + i)))
            try e.mkdir("builds/\(build)")  // a build directory that did not exist at start
            let before = monotonicNow()
            try e.symlink("builds/\(build)/vassal.ini", to: "../../conf/vassal.skel")
            let config = "builds/\(build)/vassal.ini"
            #expect(e.waitUntil(5) { !e.events("start", config: config).isEmpty }, "\(config) did not start\n\(e.log())")
            guard let started = e.events("start", config: config).first, let t = UInt64(started.detail) else { continue }
            latenciesMs.append(Double(t - before) / 1e6)
        }
        let sorted = latenciesMs.sorted()
        let median = sorted[sorted.count / 2]
        print("symlink → instance running, 20 tries: median \(String(format: "%.1f", median)) ms, min \(String(format: "%.1f", sorted.first!)) ms, max \(String(format: "%.1f", sorted.last!)) ms")
        #expect(latenciesMs.count == 20)
        #expect(median < 100)
        #expect(e.waitUntil { e.vassals().count == 20 && e.vassals().allSatisfy { $0["ready"] as? Int == 1 } })
    }

    @Test func touchReloadsGracefullyAndRemovalStopsWithoutZombie() throws {
        let e = try EmperorHarness(["--emperor", Self.glob])
        defer { e.cleanup() }
        try e.write("builds/a/vassal.ini", e.configText())
        let config = "builds/a/vassal.ini"
        #expect(e.waitUntil { e.vassal(config)?["state"] as? String == "ready" }, "\(e.log())")
        let pid = try #require(e.events("start", config: config).first?.pid)

        // touch: graceful reload in the same process (uWSGI vassals re-exec themselves).
        let before = monotonicNow()
        #expect(utimensat(AT_FDCWD, e.path(config), nil, 0) == 0)  // touch
        #expect(e.waitUntil { !e.events("reloaded", config: config).isEmpty }, "\(e.log())")
        let reload = try #require(e.events("reload", config: config).first)
        print("touch → reload message received in \(String(format: "%.1f", Double(reload.ns - before) / 1e6)) ms")
        #expect(reload.pid == pid)
        #expect(e.events("reloaded", config: config).first?.pid == pid)
        #expect(e.waitUntil { e.vassal(config)?["state"] as? String == "ready" })
        #expect(e.vassal(config)?["respawns"] as? Int == 1)
        #expect(e.log().contains("\(config) pid \(pid): graceful reload (config changed)"))

        // rm: graceful stop (message 2), the process is reaped, the instance forgotten.
        let beforeRemoval = monotonicNow()
        try e.remove(config)
        #expect(e.waitUntil { e.events("stop", config: config).first?.detail == "2" }, "\(e.log())")
        if let stop = e.events("stop", config: config).first {
            print("rm → stop message received in \(String(format: "%.1f", Double(stop.ns - beforeRemoval) / 1e6)) ms")
        }
        #expect(e.waitUntil { !EmperorHarness.alive(pid) }, "pid \(pid) still exists (state \(String(describing: EmperorHarness.state(pid))))")
        #expect(e.waitUntil { e.vassals().isEmpty })
        #expect(e.log().contains("\(config) pid \(pid) stopped (exited with status 0)"))
    }

    /// `emperor-nofollow` from an ini file: the link itself is what counts.
    @Test func nofollowWatchesTheLinkAndRetargetingReloads() throws {
        let e = try EmperorHarness(["emperor.ini"]) { dir in
            try "[uwsgi]\nemperor = builds/*/vassal.ini\nemperor-nofollow = true\n"
                .write(toFile: dir + "/emperor.ini", atomically: false, encoding: .utf8)
        }
        defer { e.cleanup() }
        try e.write("conf/one.skel", e.configText())
        try e.write("conf/two.skel", e.configText("callable = two"))
        for b in ["a", "b"] {
            try e.mkdir("builds/\(b)")
            try e.symlink("builds/\(b)/vassal.ini", to: "../../conf/one.skel")
        }
        let a = "builds/a/vassal.ini", b = "builds/b/vassal.ini"
        #expect(e.waitUntil { e.vassals().filter { $0["ready"] as? Int == 1 }.count == 2 }, "\(e.log())")

        // touch -h on a's link: only a reloads.
        #expect(utimensat(AT_FDCWD, e.path(a), nil, AT_SYMLINK_NOFOLLOW) == 0)
        #expect(e.waitUntil { e.events("reloaded", config: a).count == 1 }, "\(e.log())")
        // Touching the shared target reloads nobody; b's link touched after it is the barrier.
        #expect(utimensat(AT_FDCWD, e.path("conf/one.skel"), nil, 0) == 0)
        #expect(utimensat(AT_FDCWD, e.path(b), nil, AT_SYMLINK_NOFOLLOW) == 0)
        #expect(e.waitUntil { e.events("reloaded", config: b).count == 1 }, "\(e.log())")
        #expect(e.events("reload", config: a).count == 1)

        // Pointing a's link at another skeleton (rename over it, as `ln -sfn` does) reloads a.
        try e.symlink("builds/a/next.tmp", to: "../../conf/two.skel")
        #expect(rename(e.path("builds/a/next.tmp"), e.path(a)) == 0)
        #expect(e.waitUntil { e.events("reloaded", config: a).count == 2 }, "\(e.log())")
        #expect(e.events("reload", config: b).count == 1)
    }

    /// Killed with SIGKILL (no chance to clean up): instances that stop when
    /// their control channel ends (uWSGI's vassals, these test instances) stop.
    /// (Ours wait to be adopted instead: EmperorRestartTests.)
    @Test func instancesDieWithTheEmperor() throws {
        let e = try EmperorHarness(["--emperor", Self.glob])
        defer { e.cleanup() }
        for b in ["a", "b"] { try e.write("builds/\(b)/vassal.ini", e.configText()) }
        #expect(e.waitUntil { e.events("ready").count == 2 })
        let pids = e.events("ready").map(\.pid)
        e.signal(SIGKILL)
        #expect(e.waitUntil { e.hasExited() })
        // Orphaned by the kill, they are reaped by whoever is init here: a zombie is already dead.
        let dead = { (pid: pid_t) in [nil, "Z"].contains(EmperorHarness.state(pid)) }
        #expect(e.waitUntil(5) { pids.allSatisfy(dead) }, "survivors: \(pids.filter { !dead($0) })")
    }

    @Test func stopDeadlineEndsInSigkill() throws {
        let e = try EmperorHarness(["--emperor", Self.glob, "--reload-mercy", "1"])
        defer { e.cleanup() }
        try e.write("builds/a/vassal.ini", e.configText("test-ignore-stop = true"))
        #expect(e.waitUntil { e.vassal("builds/a/vassal.ini")?["ready"] as? Int == 1 })
        let pid = try #require(e.events("start").first?.pid)
        try e.remove("builds/a/vassal.ini")
        #expect(e.waitUntil { !e.events("stop").isEmpty })
        #expect(e.waitUntil(5) { !EmperorHarness.alive(pid) })
        // The kill may be seen before the emperor's lines about it are written.
        #expect(e.waitUntil(5) { e.log().contains("builds/a/vassal.ini pid \(pid) did not stop within 1 s; SIGKILL") }, "\(e.log())")
        #expect(e.waitUntil(5) { e.log().contains("stopped (killed by SIGKILL)") }, "\(e.log())")
    }

    /// A 5 MB ini costs the emperor's loop nothing (refused by its size in one
    /// line); a build written right after it starts as fast as one alone.
    @Test func aHugeIniDoesNotDelayAnotherBuild() throws {
        let e = try EmperorHarness(["--emperor", Self.glob])
        defer { e.cleanup() }
        #expect(e.waitUntil { e.log().contains("watching") })
        func startMs(_ build: String) throws -> Double {
            let before = monotonicNow()
            try e.write("builds/\(build)/vassal.ini", e.configText())
            #expect(e.waitUntil { !e.events("start", config: "builds/\(build)/vassal.ini").isEmpty })
            let start = try #require(e.events("start", config: "builds/\(build)/vassal.ini").first)
            return Double(start.ns - before) / 1e6
        }
        let alone = try startMs("first")
        let line = "env = KEY=value-padding-padding-padding-padding-padding\n"
        try e.write("builds/huge/vassal.ini", e.configText() + String(repeating: line, count: 5_000_000 / line.utf8.count))
        let beside = try startMs("second")
        print("a build started \(String(format: "%.1f", alone)) ms after it appeared alone, \(String(format: "%.1f", beside)) ms right after a 5 MB ini")
        #expect(beside < alone + 100)
        #expect(e.waitUntil { e.log().contains("builds/huge/vassal.ini is") && e.log().contains("over the 1 MiB") }, "\(e.log().suffix(1500))")
        #expect(e.events("start", config: "builds/huge/vassal.ini").isEmpty)
    }

    @Test func crashingInstanceBacksOffWhileAnotherStartsAtOnce() throws {
        let e = try EmperorHarness(["--emperor", Self.glob, "--emperor-throttle", "200"])
        defer { e.cleanup() }
        try e.write("builds/crash/vassal.ini", e.configText("test-crash = true"))
        let crash = "builds/crash/vassal.ini"
        #expect(e.waitUntil(10) { e.events("start", config: crash).count >= 3 }, "\(e.log())")

        // Meanwhile a healthy config starts at once, not behind the crashing one.
        let before = monotonicNow()
        try e.write("builds/good/vassal.ini", e.configText())
        #expect(e.waitUntil { !e.events("start", config: "builds/good/vassal.ini").isEmpty })
        let goodStart = try #require(e.events("start", config: "builds/good/vassal.ini").first)
        let goodMs = Double(goodStart.ns - before) / 1e6
        print("healthy config started \(String(format: "%.1f", goodMs)) ms after it appeared, beside a crash loop")
        #expect(goodMs < 250)

        #expect(e.waitUntil(10) { e.events("start", config: crash).count >= 5 }, "\(e.log())")
        let starts = e.events("start", config: crash).map(\.ns)
        let gaps = zip(starts.dropFirst(), starts).map { Double($0 - $1) / 1e6 }
        print("respawn gaps (ms): \(gaps.map { String(format: "%.0f", $0) }.joined(separator: ", "))")
        // 200, 400, 800, 1600 ms (+ start-up time of each attempt)
        for (gap, expected) in zip(gaps, [200.0, 400, 800, 1600]) {
            #expect(gap >= expected * 0.95 && gap < expected + 400, "gap \(gap) for step \(expected)")
        }
        #expect(e.log().contains("\(crash) pid"))
        #expect(e.log().contains("exited with status 1; respawn in 0.4 s"))
        // Between attempts it waits, throttled (the attempts themselves are short).
        #expect(e.waitUntil(5) { e.vassal(crash)?["state"] as? String == "throttled" })
    }

    @Test func sigtermStopsEveryInstanceAndLeavesNoOrphan() throws {
        let e = try EmperorHarness(["--emperor", Self.glob])
        defer { e.cleanup() }
        for b in ["a", "b", "c"] {
            try e.write("builds/\(b)/vassal.ini", e.configText("test-children = true"))
        }
        #expect(e.waitUntil { e.vassals().filter { $0["ready"] as? Int == 1 }.count == 3 })
        #expect(e.waitUntil { e.events("child").count == 6 })
        let pids = Set(e.events().map(\.pid)) .union(e.events("child").compactMap { pid_t($0.detail) })
        #expect(pids.count == 9)  // 3 instances, each with a grouped child and a setsid'd child
        #expect(pids.allSatisfy { EmperorHarness.alive($0) })

        e.signal(SIGTERM)
        #expect(e.waitUntil(15) { e.hasExited() })
        #expect(e.exitStatus == Shared.ExitStatus.exited(0))
        let survivors = pids.filter { EmperorHarness.alive($0) }
        #expect(survivors.isEmpty, "still alive after the emperor exited: \(survivors)")
        #expect(e.events("stop").count == 3)
        #expect(e.log().contains("SIGTERM: graceful stop of 3 instance(s)"))
        #expect(e.log().contains("emperor stopped"))
    }

    @Test func asPidOneItReapsOrphanedGrandchildren() throws {
        let token = "0.\(Int.random(in: 400_000...499_999))"
        let e = try EmperorHarness(["--emperor", Self.glob], prefix: ["/usr/bin/unshare", "--pid", "--fork", "--kill-child"])
        defer { e.cleanup() }
        try e.write("builds/a/vassal.ini", e.configText("test-orphan = \(token)"))
        #expect(e.waitUntil { !e.events("ready").isEmpty }, "\(e.log())")
        // The emperor is unshare's child, PID 1 of the new namespace.
        let emperor = try #require(ChildProcess.children(of: e.pid).first)
        var orphan: pid_t?
        #expect(e.waitUntil(3) {
            orphan = Self.process(commandLine: ["sleep", token])
            return orphan != nil
        })
        let sleeper = try #require(orphan)
        // Reparented to the emperor: it is the namespace's init.
        #expect(EmperorHarness.parent(sleeper) == emperor)
        // It exits after the sleep; as PID 1 the emperor must reap it: no zombie left.
        #expect(e.waitUntil(5) { EmperorHarness.state(sleeper) == nil }, "orphan \(sleeper) state \(String(describing: EmperorHarness.state(sleeper)))")
        // (The line follows the reaping: the process may be gone a moment before it is written.)
        #expect(e.waitUntil(5) { e.log().contains("reaped orphan pid") }, "\(e.log())")
        kill(emperor, SIGTERM)  // unshare exits with its child
        #expect(e.waitUntil(10) { e.hasExited() })
        #expect(e.exitStatus == Shared.ExitStatus.exited(0))
    }

    @Test func badInputIsReportedAndEverythingElseRuns() throws {
        let e = try EmperorHarness(["--emperor", Self.glob, "--emperor", "nothing/here/*.ini"])
        defer { e.cleanup() }
        try e.write("builds/bad/vassal.ini", "[uwsgi]\nhttp = :0\n\nworkers = many\n")
        try e.write("builds/empty/vassal.ini", "")
        try e.write("builds/xml/vassal.xml", "<uwsgi/>")
        try e.mkdir("builds/dangling")
        try e.symlink("builds/dangling/vassal.ini", to: "../../conf/missing.skel")
        try e.write("builds/good/vassal.ini", e.configText())
        let odd = "builds/q\"x\\y\u{1}/vassal.ini"  // a quote, a backslash, a control character
        try e.write(odd, e.configText())
        #expect(e.waitUntil { e.vassal("builds/good/vassal.ini")?["ready"] as? Int == 1 }, "\(e.log())")
        #expect(e.waitUntil { e.vassal(odd)?["ready"] as? Int == 1 }, "stats must stay valid JSON: \(e.log())")
        #expect(e.log().contains("`nothing/here/*.ini` matches no config yet"))
        #expect(e.waitUntil { e.log().contains("builds/bad/vassal.ini:4: `workers = many`: expected a whole number") }, "\(e.log())")
        #expect(e.log().contains("builds/bad/vassal.ini: config has errors; not started"))
        #expect(e.waitUntil { e.log().contains("builds/empty/vassal.ini:1: nothing to run") })
        #expect(e.log().contains("builds/dangling/vassal.ini: dangling symlink"))
        #expect(e.vassal("builds/bad/vassal.ini")?["state"] as? String == "invalid")
        #expect(e.vassal("builds/bad/vassal.ini")?["pid"] as? Int == -1)
        #expect(e.events("start").count == 2)

        // Fixing the file starts it.
        try e.write("builds/bad/vassal.ini", e.configText("workers = 0"))
        #expect(e.waitUntil { !e.events("start", config: "builds/bad/vassal.ini").isEmpty }, "\(e.log())")

        // A running instance whose config breaks keeps running the old one.
        let pid = try #require(e.events("start", config: "builds/good/vassal.ini").first?.pid)
        try e.write("builds/good/vassal.ini", "[uwsgi]\nhttp = :0\nharakiri = soon\n")
        #expect(e.waitUntil { e.log().contains("builds/good/vassal.ini: config has errors; pid \(pid) keeps running") })
        #expect(EmperorHarness.alive(pid))
        #expect(e.events("reload", config: "builds/good/vassal.ini").isEmpty)
    }

    @Test func configKindPicksTheProgramAndSignalsFollowTheTable() throws {
        let e = try EmperorHarness(["--emperor", "builds/*/*.ini", "--binary-path", "bin"], wrapper: false) { dir in
            try FileManager.default.createDirectory(atPath: dir + "/bin", withIntermediateDirectories: true)
            for name in ["vassal", "zerg"] {
                try FileManager.default.createSymbolicLink(atPath: dir + "/bin/" + name, withDestinationPath: EmperorHarness.instanceScript)
            }
        }
        defer { e.cleanup() }
        try e.write("builds/a/vassal.ini", e.configText("zerg-server = /tmp/a.sock"))
        try e.write("builds/a/zerg.ini", "[uwsgi]\nzerg = /tmp/a.sock\ntest-events = \(e.eventsPath)\n")
        try e.write("builds/a/other.ini", "[uwsgi]\nmodule = app\n")
        #expect(e.waitUntil { e.events("ready").count == 2 }, "\(e.log())")
        #expect(e.events("start", config: "builds/a/vassal.ini").first?.program == "vassal")
        #expect(e.events("start", config: "builds/a/zerg.ini").first?.program == "zerg")
        #expect(e.waitUntil { e.log().contains("builds/a/other.ini: not started: it has none of `zerg`") })
        #expect(e.vassal("builds/a/zerg.ini")?["zerg"] as? Int == 1)

        // HUP: every instance reloads gracefully.
        e.signal(SIGHUP)
        #expect(e.waitUntil { e.events("reloaded").count == 2 }, "\(e.log())")
        // USR1: one line per instance.
        e.signal(SIGUSR1)
        #expect(e.waitUntil { e.log().contains("SIGUSR1: 3 instance(s)") })
        #expect(e.waitUntil { e.log().contains("  builds/a/zerg.ini: ready, zerg pid") })
        #expect(e.log().contains("  builds/a/other.ini: invalid"))
        // INT: fast stop (message 0).
        e.signal(SIGINT)
        #expect(e.waitUntil(10) { e.hasExited() })
        #expect(e.events("stop").map(\.detail).sorted() == ["0", "0"])
    }

    /// 300 configs all start; then the idle emperor uses almost no CPU.
    @Test func threeHundredConfigsStartAndIdleIsCheap() throws {
        let e = try EmperorHarness(["--emperor", Self.glob])
        defer { e.cleanup() }
        try e.write("conf/vassal.skel", e.configText())
        let before = Date()
        for i in 0..<300 {
            try e.mkdir("builds/b\(i)")
            try e.symlink("builds/b\(i)/vassal.ini", to: "../../conf/vassal.skel")
        }
        #expect(e.waitUntil(90) { e.vassals().filter { $0["ready"] as? Int == 1 }.count == 300 }, "\(e.vassals().count) known")
        print("300 configs ready \(String(format: "%.1f", Date().timeIntervalSince(before))) s after the first link")
        #expect(e.events("start").count == 300)

        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let cpuBefore = try #require(EmperorHarness.cpuTicks(e.pid))
        let t0 = Date()
        usleep(10_000_000)  // the measurement window itself, not a synchronisation
        let cpuAfter = try #require(EmperorHarness.cpuTicks(e.pid))
        let seconds = Date().timeIntervalSince(t0)
        let percent = Double(cpuAfter - cpuBefore) / ticksPerSecond / seconds * 100
        let rssMB = Double(ChildProcess.residentBytes(e.pid) ?? 0) / 1_048_576
        print("emperor idle with 300 instances for \(String(format: "%.1f", seconds)) s: CPU \(String(format: "%.2f", percent))%, RSS \(String(format: "%.1f", rssMB)) MB")
        #expect(percent < 1)
    }

    /// A process whose /proc cmdline is exactly `words`.
    static func process(commandLine words: [String]) -> pid_t? {
        let wanted = words.joined(separator: "\0") + "\0"
        for name in (try? FileSystem.list("/proc")) ?? [] {
            guard let pid = pid_t(name), let text = try? FileSystem.readText("/proc/\(name)/cmdline") else { continue }
            if text == wanted { return pid }
        }
        return nil
    }
}

/// The real zerg as an emperor instance: it reports ready and accepting,
/// reloads on touch and stops gracefully on removal.
@Suite(.serialized) struct EmperorRunsZergTests {
    /// A classic uWSGI vassal (an app on its own `http-socket` or `socket`, or
    /// behind uWSGI's router with `http`; no zerg-server) runs as a zerg, and
    /// the log says why.
    @Test(arguments: [("http-socket", "standalone zerg: http-socket without zerg-server (a classic vassal)"),
                      ("socket", "standalone zerg: socket without zerg-server (a classic vassal)"),
                      ("http", "zerg with its own vassal: http and an app, without zerg-server")])
    func aClassicVassalRunsAsAZerg(option: String, reason: String) throws {
        let apps = FileSystem.directoryName(FileSystem.directoryName(FileSystem.directoryName("\(#filePath)")))
            + "/Tests/ZergTests/Support/apps.py"
        let e = try EmperorHarness(["--emperor", "builds/*/app.ini"], wrapper: false)
        defer {
            let log = e.log()
            e.cleanup()
            // With `http`, the zerg's vassal socket sits in a private directory a killed zerg leaves behind.
            for line in log.split(separator: "\n") where line.contains("workers attach at /tmp/hadjango-http-") {
                if let path = line.components(separatedBy: "workers attach at ").last {
                    try? FileManager.default.removeItem(atPath: FileSystem.directoryName(String(path)))
                }
            }
        }
        try e.write("builds/a/app.ini", "[uwsgi]\n\(option) = 127.0.0.1:0\nwsgi-file = \(apps)\nprocesses = 1\nmaster = true\n")
        #expect(e.waitUntil(20) { e.vassal("builds/a/app.ini")?["accepting"] as? Int == 1 }, "\(e.log())")
        #expect(e.log().contains("builds/a/app.ini: runs as a \(reason)"), "\(e.log())")
        #expect(e.log().contains("builds/a/app.ini: started zerg pid"))
        #expect(!e.log().contains("zerg-server`"))
    }

    @Test func zergSpeaksTheEmperorProtocol() throws {
        let zerg = EmperorHarness.buildDirectory + "/zerg"
        let apps = FileSystem.directoryName(FileSystem.directoryName(FileSystem.directoryName("\(#filePath)")))
            + "/Tests/ZergTests/Support/apps.py"
        let e = try EmperorHarness(["--emperor", "builds/*/app.ini", "--emperor-wrapper", zerg], wrapper: false)
        defer { e.cleanup() }
        try e.write("builds/a/app.ini", "[uwsgi]\nhttp-socket = 127.0.0.1:0\nwsgi-file = \(apps)\nprocesses = 2\n")
        let id = "builds/a/app.ini"
        #expect(e.waitUntil(20) { e.vassal(id)?["accepting"] as? Int == 1 }, "\(e.log())")
        #expect(e.vassal(id)?["state"] as? String == "ready")
        let line = try #require(e.log().split(separator: "\n").first { $0.contains(" serving on 127.0.0.1:") })
        let port = try #require(Int(line.split(separator: ":").last ?? ""))
        let fd = try FileDescriptor.connect(host: "127.0.0.1", port: port)
        try fd.writeAll("GET /v/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let reply = String(decoding: try fd.readToEnd(), as: UTF8.self)
        fd.close()
        #expect(reply.hasPrefix("HTTP/1.1 200 OK"))

        // touch: the emperor asks for a reload; the zerg reloads its workers one by one and says ready again.
        #expect(utimensat(AT_FDCWD, e.path(id), nil, 0) == 0)
        #expect(e.waitUntil(20) { e.log().contains("rolling reload done") }, "\(e.log())")
        #expect(e.waitUntil(5) { e.vassal(id)?["state"] as? String == "ready" })
        #expect(e.vassal(id)?["respawns"] as? Int == 1)

        // rm: graceful stop, the zerg exits 0 and leaves no worker behind.
        let master = try #require(e.vassal(id)?["pid"] as? Int)
        // The last old worker may still be finishing its exit when "done" is logged.
        #expect(e.waitUntil(5) { ChildProcess.children(of: pid_t(master)).count == 2 })
        let workers = ChildProcess.children(of: pid_t(master))
        try e.remove(id)
        #expect(e.waitUntil(20) { e.vassals().isEmpty }, "\(e.log())")
        #expect(e.log().contains("\(id) pid \(master) stopped (exited with status 0)"))
        #expect(e.waitUntil(5) { workers.allSatisfy { !EmperorHarness.alive($0) } })
    }
}
