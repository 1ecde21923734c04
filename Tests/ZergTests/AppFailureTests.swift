import Foundation
import Testing
@testable import Shared

/// An app that cannot load, or a Python that does not match: one clear line,
/// and clients answered at once instead of left hanging.
@Suite(.serialized) struct AppFailureTests {
    static var brokenApp: String { ZergHarness.supportDirectory + "/broken_app.py" }

    @Test func standaloneClientsGet503AtOnceWhileTheAppCannotLoad() throws {
        let z = try ZergHarness(["--processes", "2"], app: Self.brokenApp, waitForServing: false)
        defer { z.cleanup() }
        var port = 0
        #expect(z.waitUntil(10) {
            guard let line = z.log().split(separator: "\n").first(where: { $0.contains("answering clients 503") }),
                  let r = line.range(of: "serve on 127.0.0.1:") else { return false }
            port = Int(line[r.upperBound...].prefix { $0.isNumber }) ?? 0
            return port > 0
        }, "\(z.log())")
        let start = Date()
        let fd = try FileDescriptor.connect(host: "127.0.0.1", port: port)
        defer { fd.close() }
        try fd.writeAll("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        let x = try ZergHarness.read(fd, responses: 1, timeout: 5)
        #expect(x.status == 503)
        #expect(x.first?.header("retry-after") == "1")
        #expect(x.first?.bodyText.contains("No module named 'module_that_does_not_exist'") == true)
        #expect(Date().timeIntervalSince(start) < 1)
        // One traceback; later tries say it in a line.
        #expect(z.waitUntil(5) { z.log().contains("(again)") }, "\(z.log())")
        #expect(z.log().components(separatedBy: "Traceback (most recent call last)").count - 1 <= 2)
    }

    /// uWSGI's need-app: an app that does not load at start stops the zerg with
    /// status 22 (a deploy script sees it) instead of retrying.
    @Test func needAppStopsTheZergWhenTheAppDoesNotLoad() throws {
        let z = try ZergHarness(["--processes", "2", "--need-app"], app: Self.brokenApp, waitForServing: false)
        defer { z.cleanup() }
        #expect(z.waitUntil(15) { z.hasExited() }, "\(z.log())")
        #expect(z.exitStatus.map { "\($0)" } == "exited with status 22", "\(z.exitStatus.map { "\($0)" } ?? "running")")
        #expect(z.log().contains("need-app: the app failed to load"))
        #expect(z.workers().isEmpty)
    }

    @Test func aVirtualenvOfAnotherPythonIsRefusedInOneLine() throws {
        let z = try ZergHarness(["--home", "venv"], waitForServing: false) { dir in
            try FileManager.default.createDirectory(atPath: dir + "/venv/lib/python3.10/site-packages", withIntermediateDirectories: true)
            try "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.10.12\n"
                .write(toFile: dir + "/venv/pyvenv.cfg", atomically: true, encoding: .utf8)
        }
        defer { z.cleanup() }
        #expect(z.waitUntil(10) { z.hasExited() })
        #expect(z.exitStatus != Shared.ExitStatus.exited(0))
        #expect(z.log().contains("a virtualenv of Python 3.10, but this zerg embeds Python 3.11"), "\(z.log())")
        #expect(z.log().split(separator: "\n").count == 1)
    }
}
