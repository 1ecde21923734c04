import Foundation
import Testing
@testable import Shared

/// A vassal reload checks the new configuration first, in a child, while it
/// goes on serving; a broken one is refused and nothing restarts.
@Suite(.serialized)
struct VassalReloadTests {
    static let ini = """
        [uwsgi]
        touch-reload = {dir}/reload.touch
        set-ph = loaded=@(exec://echo run >> {dir}/exec.log; echo yes)

        """

    func execRuns(_ setup: VassalSetup) -> Int {
        ((try? String(contentsOfFile: setup.dir.file("exec.log"), encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    @Test func aBrokenConfigurationIsRefusedAndParkedClientsStay() throws {
        let setup = try VassalSetup(ini: Self.ini)
        defer { setup.cleanup() }
        try setup.startZerg(workers: 1)
        #expect(execRuns(setup) == 1)
        // A keep-alive client, parked in the vassal between its requests.
        let parked = try HTTPClient(port: setup.port)
        #expect(try parked.get("/v/pid").status == 200)
        usleep(50_000)

        let text = Self.ini.replacingOccurrences(of: "{dir}", with: setup.dir.path)
        try (text + "listen = lots\n").write(toFile: setup.iniPath, atomically: true, encoding: .utf8)
        setup.vassal.signal(SIGHUP)
        #expect(waitUntil(10) { setup.vassal.logLines(containing: "reload refused").count == 1 }, "\(setup.vassal.log())")
        #expect(setup.vassal.log().contains("vassal.ini:4: `listen = lots`: expected a whole number"))
        // touch-reload takes the same path.
        try "1".write(toFile: setup.dir.file("reload.touch"), atomically: true, encoding: .utf8)
        #expect(waitUntil(10) { setup.vassal.logLines(containing: "reload refused").count == 2 }, "\(setup.vassal.log())")
        #expect(setup.vassal.logLines(containing: "reloading: re-exec").isEmpty)
        #expect(!setup.vassal.hasExited())
        #expect(try parked.get("/v/pid").status == 200)
        #expect(try HTTPClient.once(port: setup.port, "/v/pid").status == 200)

        // Fixed: the reload goes through, the configuration loaded once more (by the check only).
        let before = execRuns(setup)
        try text.write(toFile: setup.iniPath, atomically: true, encoding: .utf8)
        setup.vassal.signal(SIGHUP)
        #expect(waitUntil(10) { !setup.vassal.logLines(containing: "reloaded:").isEmpty }, "\(setup.vassal.log())")
        #expect(execRuns(setup) == before + 1)
        #expect(try parked.get("/v/pid").status == 200)
    }
}

/// Under an emperor: a broken vassal config is refused by the emperor when the
/// file changes, and by the vassal itself when the emperor's SIGHUP asks it to
/// reload anyway; it goes on serving, its parked client too.
@Suite(.serialized)
struct EmperorReloadOfABrokenVassalTests {
    @Test func theEmperorsHUPWithABrokenVassalConfigKeepsTheVassal() throws {
        let s = try BuildsSetup(builds: ["a"])
        defer { s.cleanup() }
        guard s.waitServing("a") else {
            Issue.record("build a did not start:\n\(s.emperor.log())")
            return
        }
        let vassals = s.processes("vassal", "a")
        let parked = try HTTPClient(port: s.ports["a"]!)
        #expect(try parked.get("/v/pid").status == 200)
        let skel = s.dir.file("skel/vassal.skel")
        try (try String(contentsOfFile: skel, encoding: .utf8) + "\nlisten = lots\n").write(toFile: skel, atomically: true, encoding: .utf8)
        #expect(waitUntil(10) { !s.emperor.logLines(containing: "keeps running the previous version").isEmpty }, "\(s.emperor.log())")
        s.emperor.signal(SIGHUP)
        #expect(waitUntil(10) { s.count("vassal.a", "reload refused") >= 1 }, "\(s.log("vassal.a"))")
        #expect(s.processes("vassal", "a") == vassals)
        #expect(try parked.get("/v/pid").status == 200)
        #expect(try HTTPClient.once(port: s.ports["a"]!, "/v/pid").status == 200)
    }
}
