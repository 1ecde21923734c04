import Foundation
import Testing
@testable import Shared

/// The emperor upgraded in place (SIGUSR2) under load: same pid, every
/// instance kept, no request failed; a new binary that does not start leaves
/// the running emperor as it is.
@Suite(.serialized)
struct UpgradeTests {
    /// `cp new .name.new && mv .name.new name`, as package managers replace files.
    func replace(_ path: String, with source: String) throws {
        let tmp = FileSystem.directoryName(path) + "/." + FileSystem.baseName(path) + ".new"
        try? FileManager.default.removeItem(atPath: tmp)
        try FileManager.default.copyItem(atPath: source, toPath: tmp)
        #expect(rename(tmp, path) == 0)
    }

    @Test func sigusr2UpgradesTheEmperorInPlaceWithoutFailingARequest() throws {
        let s = try BuildsSetup(builds: ["a"], binaries: true)
        defer { s.cleanup() }
        guard s.waitServing("a") else {
            Issue.record("build a did not start:\n\(s.emperor.log())")
            return
        }
        let started = s.emperor.logLines(containing: "started ").count
        let load = LoadGenerator(port: s.ports["a"]!, keepAlive: 4, close: 4)
        defer { load.stop() }
        #expect(load.waitForSuccesses(200))
        let start = Host.monotonicNanoseconds()

        // A broken binary in its place: refused, one line, the emperor goes on.
        let broken = s.dir.file("broken.sh")
        try "#!/bin/sh\nexit 3\n".write(toFile: broken, atomically: true, encoding: .utf8)
        chmod(broken, 0o755)
        try replace(s.dir.file("bin/emperor"), with: broken)
        s.emperor.signal(SIGUSR2)
        #expect(waitUntil(10) { !s.emperor.logLines(containing: "does not start").isEmpty }, "\(s.emperor.log())")

        // The real one: re-exec, same pid, every instance taken over.
        try replace(s.dir.file("bin/emperor"), with: TestProcess.binDirectory + "/emperor")
        s.emperor.signal(SIGUSR2)
        #expect(waitUntil(10) { !s.emperor.logLines(containing: "upgraded in place: 2 instance(s)").isEmpty }, "\(s.emperor.log())")
        #expect(!(FileSystem.symlinkTarget("/proc/\(s.emperor.pid)/exe") ?? "").hasSuffix("(deleted)"))
        #expect(load.waitForSuccesses(300))
        // It still manages them: a touch reloads, a stop stops.
        let before = s.emperor.logLines(containing: "graceful reload").count
        s.emperor.signal(SIGHUP)
        #expect(waitUntil(10) { s.emperor.logLines(containing: "graceful reload").count >= before + 2 }, "\(s.emperor.log())")
        #expect(load.waitForSuccesses(300))
        load.stop()
        let summary = load.summary(from: start, to: Host.monotonicNanoseconds())
        print("emperor SIGUSR2 under load: \(summary)")
        #expect(summary.failures.isEmpty, "\(summary.failures.prefix(3))")
        #expect(s.emperor.logLines(containing: "started ").count == started, "no instance was started again")
        #expect(!s.emperor.hasExited())
    }
}

/// kill -9 of the emperor: the instances keep serving, and an emperor started
/// again with the same arguments adopts them instead of starting duplicates.
@Suite(.serialized)
struct EmperorRestartTests {
    @Test func aKilledEmperorIsReplacedByOneThatAdoptsTheRunningInstances() throws {
        let s = try BuildsSetup(builds: ["a"])
        defer { s.cleanup() }
        guard s.waitServing("a") else {
            Issue.record("build a did not start:\n\(s.emperor.log())")
            return
        }
        let instances = s.startedPids()
        #expect(instances.count == 2)
        let load = LoadGenerator(port: s.ports["a"]!, keepAlive: 4, close: 4)
        defer { load.stop() }
        #expect(load.waitForSuccesses(200))
        let start = Host.monotonicNanoseconds()
        let first = s.emperor!
        first.signal(SIGKILL)
        #expect(waitUntil(5) { first.hasExited() })
        // Without an emperor the build goes on serving.
        #expect(load.waitForSuccesses(200))
        #expect(waitUntil(5) { s.count("vassal.a", "lost the emperor; serving on") == 1 }, "\(s.log("vassal.a"))")

        try s.restartEmperor()
        #expect(waitUntil(10) { s.emperor.logLines(containing: "adopted ").count == 2 }, "\(s.emperor.log())")
        #expect(waitUntil(10) { s.emperor.logLines(containing: ": ready in ").count >= 2 + 2 }, "\(s.emperor.log())")
        #expect(load.waitForSuccesses(300))
        // It manages them: a HUP reloads both, no instance was started twice.
        // The vassal's re-exec keeps its adoption socket listening (the same file).
        func sockets() -> [String: UInt64] {
            let dir = s.dir.file("run/emperor")
            return Dictionary(uniqueKeysWithValues: ((try? FileSystem.list(dir)) ?? []).filter { $0.hasSuffix(".sock") }
                .compactMap { name in (try? FileSystem.status(dir + "/" + name)).map { (name, $0.inode) } })
        }
        let before = sockets()
        #expect(before.count == 2)
        s.emperor.signal(SIGHUP)
        #expect(waitUntil(15) { s.emperor.logLines(containing: "graceful reload").count >= 2 }, "\(s.emperor.log())")
        #expect(waitUntil(15) { s.emperor.logLines(containing: "reloaded").count >= 2 }, "\(s.emperor.log())")
        #expect(sockets() == before)
        #expect(load.waitForSuccesses(300))
        load.stop()
        let summary = load.summary(from: start, to: Host.monotonicNanoseconds())
        print("kill -9 of the emperor, a new one adopting, a HUP, under load: \(summary)")
        #expect(summary.failures.isEmpty, "\(summary.failures.prefix(3))")
        #expect(s.startedPids() == instances, "no duplicate was started")
        #expect(instances.allSatisfy { kill($0, 0) == 0 })
    }
}
