import Foundation
import Testing
@testable import Shared

/// A reload loads the configuration once, in the master, and applies it; a
/// broken one keeps the running workers; workers are exec'd by the binary's
/// path, or from the running image when that path is gone.
@Suite(.serialized) struct ReloadTests {
    static let ini = """
        [uwsgi]
        processes = 2
        env = LOADED=@(exec://echo run >> exec.log; echo yes)

        """

    /// Connection-close clients in a thread until `done`; counts served and failed.
    final class Load: @unchecked Sendable {
        let served = Atomic(0)
        let failures = Atomic(0)
        let done = Atomic(false)
        init(port: Int) {
            Thread { [self] in
                while !done.value {
                    do {
                        let fd = try FileDescriptor.connect(host: "127.0.0.1", port: port)
                        try fd.writeAll("GET /v/pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        let x = try ZergHarness.read(fd, responses: 1, timeout: 5)
                        fd.close()
                        if x.status == 200 { served.add(1) } else { failures.add(1) }
                    } catch {
                        failures.add(1)
                    }
                }
            }.start()
        }
    }

    func lines(_ path: String) -> [String] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func count(_ z: ZergHarness, _ text: String) -> Int { z.log().components(separatedBy: text).count - 1 }

    @Test func aReloadAppliesProcessesAndHarakiriAndRunsExecOncePerLoad() throws {
        let z = try ZergHarness(["--ini", "z.ini"]) { dir in try Self.ini.write(toFile: dir + "/z.ini", atomically: true, encoding: .utf8) }
        defer { z.cleanup() }
        #expect(z.waitUntil(10) { z.workers().count == 2 })
        // The master ran the command; the workers got its result without running it.
        #expect(lines(z.dir + "/exec.log") == ["run"])
        let load = Load(port: z.port)
        defer { load.done.set(true) }
        #expect(z.waitUntil(5) { load.served.value > 20 })
        try Self.ini.replacingOccurrences(of: "processes = 2", with: "processes = 3\nharakiri = 1")
            .write(toFile: z.dir + "/z.ini", atomically: true, encoding: .utf8)
        z.signal(SIGHUP)
        #expect(z.waitUntil(15) { z.log().contains("rolling reload done") }, "\(z.log())")
        #expect(z.log().contains("configuration reloaded: workers 2 → 3"))
        #expect(z.waitUntil(5) { z.workers().count == 3 }, "\(z.workers())")
        #expect(lines(z.dir + "/exec.log") == ["run", "run"])
        let before = load.served.value
        #expect(z.waitUntil(5) { load.served.value > before + 20 })
        load.done.set(true)
        usleep(200_000)
        #expect(load.failures.value == 0, "\(load.failures.value) of \(load.served.value) requests failed across the reload")
        // The new harakiri holds for the new workers.
        _ = try? z.exchange("GET /v/spin?sleep=3000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout: 5)
        #expect(z.waitUntil(5) { z.log().contains("HARAKIRI") }, "\(z.log())")
        print("reload 2 → 3 workers under load: \(load.served.value) requests, \(load.failures.value) failed")
    }

    @Test func aBrokenConfigurationKeepsTheRunningWorkers() throws {
        let z = try ZergHarness(["--ini", "z.ini"]) { dir in try Self.ini.write(toFile: dir + "/z.ini", atomically: true, encoding: .utf8) }
        defer { z.cleanup() }
        #expect(z.waitUntil(10) { z.workers().count == 2 })
        let workers = Set(z.workers())
        let starts = count(z, " ready (app loaded")
        try (Self.ini + "listen = lots\n").write(toFile: z.dir + "/z.ini", atomically: true, encoding: .utf8)
        for n in 1...3 {
            z.signal(SIGHUP)
            #expect(z.waitUntil(5) { self.count(z, "reload refused") == n }, "\(z.log())")
        }
        #expect(z.log().contains("z.ini:4: `listen = lots`: expected a whole number"))
        usleep(500_000)
        #expect(Set(z.workers()) == workers)
        #expect(count(z, " ready (app loaded") == starts)
        #expect(try z.exchange("GET /v/pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status == 200)
        // A socket change is refused the same way: the running one keeps serving.
        try Self.ini.write(toFile: z.dir + "/z.ini", atomically: true, encoding: .utf8)
        try (Self.ini + "http-socket = 127.0.0.1:1\n").write(toFile: z.dir + "/z.ini", atomically: true, encoding: .utf8)
        z.signal(SIGHUP)
        #expect(z.waitUntil(5) { z.log().contains("reload refused: `http-socket`/`socket` changed") }, "\(z.log())")
        #expect(Set(z.workers()) == workers)
    }

    @Test func workersStartFromTheReplacedBinaryOrTheRunningImage() throws {
        // A copy of the zerg binary, replaced and removed the way upgrades do it.
        var template = Array("/tmp/zerg-bin-XXXXXX".utf8CString)
        let binDir = String(cString: mkdtemp(&template)!)
        defer { try? FileManager.default.removeItem(atPath: binDir) }
        let binary = binDir + "/zerg"
        try FileManager.default.copyItem(atPath: ZergHarness.binary, toPath: binary)
        let z = try ZergHarness(["--processes", "1"], binary: binary)
        defer { z.cleanup() }
        #expect(z.waitUntil(10) { z.workers().count == 1 })
        // One look at the workers per check: the list may change between two.
        func theOneWorker(otherThan old: pid_t) -> pid_t? {
            let now = z.workers()
            return now.count == 1 && now[0] != old ? now[0] : nil
        }
        // cp new .zerg.new && mv .zerg.new zerg: the next worker runs the new file.
        try FileManager.default.copyItem(atPath: ZergHarness.binary, toPath: binDir + "/.zerg.new")
        #expect(rename(binDir + "/.zerg.new", binary) == 0)
        let first = try #require(z.workers().first)
        kill(first, SIGKILL)
        #expect(z.waitUntil(10) { theOneWorker(otherThan: first) != nil })
        let second = try #require(theOneWorker(otherThan: first))
        #expect(!(FileSystem.symlinkTarget("/proc/\(second)/exe") ?? "").hasSuffix("(deleted)"))
        #expect(try z.exchange("GET /v/pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status == 200)
        // The binary is gone: workers start from the master's running image, said once.
        #expect(unlink(binary) == 0)
        for _ in 0..<3 {
            let pid = z.workers().first ?? 0
            kill(pid, SIGKILL)
            #expect(z.waitUntil(10) { theOneWorker(otherThan: pid) != nil }, "\(z.log())")
        }
        #expect(try z.exchange("GET /v/pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status == 200)
        #expect(count(z, "workers start from the running image") == 1, "\(z.log())")
        #expect(!z.log().contains("cannot start worker"))
    }
}

/// A reload after the zerg binary was replaced: the master re-execs onto the
/// new file (same pid, workers kept through it) and rolls every worker onto it.
@Suite(.serialized) struct MasterUpgradeTests {
    @Test func aReloadAfterAnUpgradeMovesTheMasterAndEveryWorkerOntoTheNewBinary() throws {
        var template = Array("/tmp/zerg-bin-XXXXXX".utf8CString)
        let binDir = String(cString: mkdtemp(&template)!)
        defer { try? FileManager.default.removeItem(atPath: binDir) }
        let binary = binDir + "/zerg"
        try FileManager.default.copyItem(atPath: ZergHarness.binary, toPath: binary)
        let z = try ZergHarness(["--processes", "2"], binary: binary)
        defer { z.cleanup() }
        #expect(z.waitUntil(10) { z.workers().count == 2 })
        let load = ReloadTests.Load(port: z.port)
        defer { load.done.set(true) }
        #expect(z.waitUntil(5) { load.served.value > 20 })
        try FileManager.default.copyItem(atPath: ZergHarness.binary, toPath: binDir + "/.zerg.new")
        #expect(rename(binDir + "/.zerg.new", binary) == 0)
        z.signal(SIGHUP)
        #expect(z.waitUntil(15) { z.log().contains("rolling reload done") }, "\(z.log())")
        #expect(z.log().contains("was replaced: re-exec of the master"))
        #expect(z.log().contains("worker(s) taken over"))
        let deleted = { (pid: pid_t) in (FileSystem.symlinkTarget("/proc/\(pid)/exe") ?? "").hasSuffix("(deleted)") }
        #expect(!deleted(z.pid), "the master runs the new file")
        #expect(z.waitUntil(10) { let w = z.workers(); return w.count == 2 && !w.contains(where: deleted) }, "\(z.workers())")
        let before = load.served.value
        #expect(z.waitUntil(5) { load.served.value > before + 20 })
        load.done.set(true)
        usleep(200_000)
        #expect(load.failures.value == 0, "\(load.failures.value) of \(load.served.value) requests failed across the upgrade")
        print("zerg upgrade by reload under load: \(load.served.value) requests, \(load.failures.value) failed")
    }
}
