import Foundation
import Testing
@testable import Shared

/// uWSGI's quickstart line, `--http :PORT --wsgi-file app.py --master
/// --processes N`: one command starts the product's topology (a vassal owning
/// the port, the workers attached to it), so it reloads without dropping a request.
@Suite(.serialized) struct QuickstartTests {
    @Test func theQuickstartLineRunsAVassalInFrontOfTheWorkers() throws {
        let dir = try TestDirectory("quickstart-test")
        let port = try BuildsSetup.freePort()
        try dir.write("robots.txt", "User-agent: *\n")
        let zerg = try TestProcess("zerg", ["--http", "127.0.0.1:\(port)", "--wsgi-file", TestProcess.appsPath, "--master",
                                            "--processes", "2", "--disable-logging", "--static-map", "/files=\(dir.path)"],
                                   log: dir.file("zerg.log"), cwd: dir.path)
        defer {
            zerg.stop()
            zerg.removeRouterDirectory()
            dir.remove()
        }
        #expect(waitUntil(20) { !zerg.logLines(containing: "2 worker(s) serving on 127.0.0.1:\(port) (through the vassal)").isEmpty || zerg.hasExited() },
                "\(zerg.log())")
        let vassals = zerg.group().filter { (try? String(contentsOfFile: "/proc/\($0)/cmdline", encoding: .utf8))?.contains("vassal") == true }
        #expect(vassals.count == 1, "one vassal, a child of the zerg master")
        #expect(try HTTPClient.once(port: port, "/v/pid").status == 200)
        // Static files in zerg mode: the attached worker answers them.
        let robots = try HTTPClient.once(port: port, "/files/robots.txt")
        #expect(robots.status == 200 && robots.body == "User-agent: *\n" && robots.headers["content-type"] == "text/plain")
        let socketDir = zerg.logLines(containing: "workers attach at ").first
            .flatMap { $0.components(separatedBy: "workers attach at ").last }.map(FileSystem.directoryName)

        // A rolling reload of the workers under load: nothing fails, keep-alive connections stay.
        let load = LoadGenerator(port: port, keepAlive: 4, close: 4, retryStaleKeepAlive: false)
        defer { load.stop() }
        #expect(load.waitForSuccesses(200))
        let start = Host.monotonicNanoseconds()
        zerg.signal(SIGHUP)
        #expect(waitUntil(20) { !zerg.logLines(containing: "rolling reload done").isEmpty })
        #expect(load.waitForSuccesses(200))
        let reload = load.summary(from: start, to: Host.monotonicNanoseconds())
        print("quickstart: a rolling reload under load: \(reload)")
        #expect(reload.failures.isEmpty, "\(reload.failures.prefix(5).map { $0.failure ?? "" })")

        // The vassal killed: the master starts it again on the same port.
        if let vassal = vassals.first { kill(vassal, SIGKILL) }
        #expect(waitUntil(10) { zerg.logLines(containing: "started the vassal").count >= 2 })
        #expect(load.waitForSuccesses(200), "serving again after the vassal's restart")
        load.stop()

        // A graceful stop ends everything, the socket's directory included.
        zerg.signal(SIGTERM)
        #expect(waitUntil(15) { zerg.hasExited() })
        #expect(zerg.logLines(containing: "master stopped").count == 1)
        if let socketDir { #expect(!FileSystem.exists(socketDir), "\(socketDir) removed") }
    }
}
