import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Shared

/// Under systemd (`Type=notify`): the emperor, and a zerg started by systemd
/// itself, speak sd_notify to `NOTIFY_SOCKET` (here a datagram socket the test
/// binds): READY=1 only once the builds serve, RELOADING=1 then READY=1 at a
/// HUP, STOPPING=1 at TERM, WATCHDOG=1 at half of WATCHDOG_USEC; no child
/// inherits the socket.
@Suite(.serialized) struct SystemdTests {
    /// The names of the variables a process started with.
    static func environment(of pid: pid_t) -> Set<String> {
        let text = String(decoding: (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))) ?? Data(), as: UTF8.self)
        return Set(text.split(separator: "\0").map { String($0.prefix { $0 != "=" }) })
    }

    @Test func theEmperorTellsSystemd() throws {
        let dir = try TestDirectory("systemd-test")
        defer { dir.remove() }
        let systemd = try DatagramListener(dir.file("notify.sock"))
        let s = try BuildsSetup(emperorEnv: [SystemdNotify.socketVariable: systemd.path, "WATCHDOG_USEC": "400000"])
        defer { s.cleanup() }
        #expect(waitUntil(30) { systemd.index(of: "READY=1") != nil }, "\(systemd.received())\n\(s.emperor.log())")
        // READY=1 came once the builds serve: both answer now.
        for build in ["a", "b"] {
            #expect((try? HTTPClient.once(port: s.ports[build]!, "/v/pid"))?.status == 200, "build \(build)")
        }
        let ready = try #require(systemd.index(of: "READY=1"))
        #expect(systemd.received()[ready].contains("STATUS=4 of 4 instance(s) serving"), "\(systemd.received()[ready])")
        // No child inherits the socket.
        let children = ChildProcess.children(of: s.emperor.pid)
        #expect(!children.isEmpty && children.allSatisfy { !Self.environment(of: $0).contains(SystemdNotify.socketVariable) })
        // The watchdog: every 200 ms.
        let pings = systemd.received().filter { $0 == "WATCHDOG=1" }.count
        usleep(1_100_000)
        #expect(systemd.received().filter { $0 == "WATCHDOG=1" }.count >= pings + 4)
        // HUP: RELOADING=1 (with the monotonic time), then READY=1 once the instances are back.
        let before = systemd.received().count
        s.emperor.signal(SIGHUP)
        #expect(waitUntil(30) { systemd.index(of: "READY=1", after: before) != nil }, "\(systemd.received())")
        let reloading = try #require(systemd.index(of: "RELOADING=1", after: before))
        #expect(systemd.received()[reloading].contains("MONOTONIC_USEC="))
        #expect(reloading < systemd.index(of: "READY=1", after: before)!)
        // USR2, an upgrade in place: the re-exec'd emperor says its pid (the same) and is ready again.
        let upgraded = systemd.received().count
        s.emperor.signal(SIGUSR2)
        #expect(waitUntil(30) { systemd.index(of: "MAINPID=\(s.emperor.pid)", after: upgraded) != nil
            && systemd.index(of: "READY=1", after: upgraded) != nil }, "\(systemd.received())\n\(s.emperor.log())")
        let afterUpgrade = systemd.received().count
        #expect(waitUntil(2) { systemd.index(of: "WATCHDOG=1", after: afterUpgrade) != nil }, "the watchdog goes on after the re-exec")
        // TERM: STOPPING=1.
        s.emperor.signal(SIGTERM)
        #expect(waitUntil(20) { systemd.index(of: "STOPPING=1") != nil })
    }

    /// An app that does not load is a failure, not a wait: READY=1 still comes, and says so.
    @Test func aBuildThatCannotLoadDoesNotHoldBackReady() throws {
        let dir = try TestDirectory("systemd-test")
        defer { dir.remove() }
        let systemd = try DatagramListener(dir.file("notify.sock"))
        let port = try BuildsSetup.freePort()
        // Build c is there when the emperor starts: READY=1 waits for it to serve or fail.
        let s = try BuildsSetup(builds: ["a"], emperorEnv: [SystemdNotify.socketVariable: systemd.path], beforeStart: { dir in
            try FileManager.default.createDirectory(atPath: dir.file("builds/c"), withIntermediateDirectories: true)
            try dir.write("builds/c/broken.py", "raise ImportError('this build is broken')\n")
            try dir.write("builds/c/zerg.ini", """
                [uwsgi]
                http-socket = 127.0.0.1:\(port)
                wsgi-file = \(dir.file("builds/c/broken.py"))
                """)
        })
        defer { s.cleanup() }
        #expect(waitUntil(30) { systemd.index(of: "READY=1") != nil }, "\(systemd.received())\n\(s.emperor.log())")
        let ready = systemd.received()[systemd.index(of: "READY=1")!]
        #expect(ready.contains("STATUS=2 of 3 instance(s) serving, 1 failing"), "\(ready)")
    }

    @Test func aZergStartedBySystemdTellsItToo() throws {
        let dir = try TestDirectory("systemd-test")
        let systemd = try DatagramListener(dir.file("notify.sock"))
        let port = try BuildsSetup.freePort()
        let zerg = try TestProcess("zerg", ["--http-socket", "127.0.0.1:\(port)", "--wsgi-file", TestProcess.appsPath, "--processes", "2"],
                                   log: dir.file("zerg.log"), cwd: dir.path, env: [SystemdNotify.socketVariable: systemd.path])
        defer {
            zerg.stop()
            dir.remove()
        }
        #expect(waitUntil(20) { systemd.index(of: "READY=1") != nil }, "\(zerg.log())")
        #expect(try HTTPClient.once(port: port, "/v/pid").status == 200)
        #expect(systemd.received()[systemd.index(of: "READY=1")!].contains("STATUS=2 worker(s) serving on 127.0.0.1:\(port)"))
        let workers = ChildProcess.children(of: zerg.pid)
        #expect(workers.count == 2 && workers.allSatisfy { !Self.environment(of: $0).contains(SystemdNotify.socketVariable) })
        let before = systemd.received().count
        zerg.signal(SIGHUP)
        #expect(waitUntil(20) { systemd.index(of: "READY=1", after: before) != nil }, "\(zerg.log())")
        #expect(systemd.index(of: "RELOADING=1", after: before)! < systemd.index(of: "READY=1", after: before)!)
        zerg.signal(SIGTERM)
        #expect(waitUntil(20) { systemd.index(of: "STOPPING=1") != nil })
    }
}

/// Socket activation: sockets bound by the test (systemd's part) and passed as
/// `LISTEN_FDS`; the test keeps its copy bound, so any bind would fail with
/// "address in use".
@Suite(.serialized) struct SocketActivationTests {
    static func listener(_ port: Int) throws -> FileDescriptor {
        try ListenAddress.tcp(host: "127.0.0.1", port: port).listen()
    }

    @Test func aStandaloneZergServesOnThePassedSocket() throws {
        let dir = try TestDirectory("activation-test")
        let (port, spare) = (try BuildsSetup.freePort(), try BuildsSetup.freePort())
        let web = try Self.listener(port), other = try Self.listener(spare)
        defer {
            web.close()
            other.close()
        }
        let zerg = try TestProcess("zerg", ["--http-socket", "127.0.0.1:\(port)", "--wsgi-file", TestProcess.appsPath, "--processes", "2"],
                                   log: dir.file("zerg.log"), cwd: dir.path, activating: [("web", web), ("spare", other)])
        defer {
            zerg.stop()
            dir.remove()
        }
        #expect(waitUntil(20) { !zerg.logLines(containing: "serving on 127.0.0.1:\(port)").isEmpty }, "\(zerg.log())")
        #expect(try HTTPClient.once(port: port, "/v/pid").status == 200)
        #expect(!zerg.logLines(containing: "127.0.0.1:\(port): the socket systemd passed (web), not bound again").isEmpty)
        #expect(!zerg.logLines(containing: "socket activation: spare (127.0.0.1:\(spare)) matches no configured address; closed").isEmpty)
        #expect(zerg.logLines(containing: "in use").isEmpty)
        // The workers do not inherit the variables.
        for worker in ChildProcess.children(of: zerg.pid) {
            #expect(SystemdTests.environment(of: worker).isDisjoint(with: SocketActivation.variables))
        }
    }

    @Test func aVassalStartedBySystemdListensOnThePassedSocket() throws {
        let dir = try TestDirectory("activation-test")
        let port = try BuildsSetup.freePort()
        let web = try Self.listener(port)
        defer { web.close() }
        let systemd = try DatagramListener(dir.file("notify.sock"))
        let vassal = try TestProcess("vassal", ["--http", "127.0.0.1:\(port)", "--zerg-server", dir.file("zerg.sock")],
                                     log: dir.file("vassal.log"), env: [SystemdNotify.socketVariable: systemd.path], activating: [("web", web)])
        defer {
            vassal.stop()
            dir.remove()
        }
        #expect(waitUntil(10) { !vassal.logLines(containing: "listening on 127.0.0.1:\(port)").isEmpty }, "\(vassal.log())")
        #expect(!vassal.logLines(containing: "the socket systemd passed (web), not bound again").isEmpty)
        #expect(waitUntil(5) { systemd.index(of: "READY=1") != nil }, "the vassal tells systemd too")
        // A zerg attaches, and a request through the passed socket is served.
        let zerg = try TestProcess("zerg", ["--zerg", dir.file("zerg.sock"), "--wsgi-file", TestProcess.appsPath, "--processes", "1"],
                                   log: dir.file("zerg.log"), cwd: dir.path)
        defer { zerg.stop() }
        #expect(waitUntil(20) { (try? HTTPClient.once(port: port, "/v/pid"))?.status == 200 }, "\(zerg.log())")
    }

    @Test func theEmperorGivesAPassedSocketToItsVassal() throws {
        var held: FileDescriptor?
        let s = try BuildsSetup(builds: ["a"], activating: { ports in
            held = try Self.listener(ports["a"]!)
            return [("build-a", held!)]
        })
        defer {
            s.cleanup()
            held?.close()
        }
        #expect(s.waitServing("a"), "\(s.emperor.log())")
        let vassalLog = (try? String(contentsOfFile: s.dir.file("logs/vassal.a.log"), encoding: .utf8)) ?? ""
        #expect(!s.emperor.logLines(containing: "systemd passed 1 socket(s): build-a (127.0.0.1:\(s.ports["a"]!))").isEmpty, "\(s.emperor.log())")
        #expect(vassalLog.contains("127.0.0.1:\(s.ports["a"]!): the socket systemd passed (build-a), not bound again"), "\(vassalLog)")
        #expect(!vassalLog.contains("in use"), "\(vassalLog)")
        #expect(try HTTPClient.once(port: s.ports["a"]!, "/v/pid").status == 200)
    }
}

/// The example units (examples/systemd) pass `systemd-analyze verify` (Debian's
/// systemd), with the binaries' paths pointed at this build's.
@Suite struct SystemdUnitTests {
    static let examples = FileSystem.directoryName(FileSystem.directoryName(FileSystem.directoryName("\(#filePath)"))) + "/examples/systemd"

    @Test func theExampleUnitsVerify() throws {
        guard let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first(where: FileSystem.exists) else {
            Issue.record("systemd-analyze is not installed (scripts/setup.sh installs systemd)")
            return
        }
        let dir = try TestDirectory("units-test")
        defer { dir.remove() }
        let units = try FileManager.default.contentsOfDirectory(atPath: Self.examples).filter { $0.hasSuffix(".service") || $0.hasSuffix(".socket") }.sorted()
        #expect(units.count == 5, "\(units)")
        for unit in units {
            let text = try String(contentsOfFile: Self.examples + "/" + unit, encoding: .utf8)
            try dir.write(unit, text.replacingOccurrences(of: "/usr/local/bin/", with: TestProcess.binDirectory + "/"))
        }
        let result = try runCapturing(analyze, ["verify", "--man=no"] + units.map { dir.file($0) })
        // verify exits 0 on unknown keys and bad values too: it must also say nothing.
        #expect(result.status == 0 && result.output.isEmpty, "\(result.output)")
    }
}
