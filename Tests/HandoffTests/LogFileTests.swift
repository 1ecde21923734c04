import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Shared

/// Log files as uWSGI sites rotate them: `log-maxsize` (the master renames and
/// every process reopens), `touch-logreopen` after an external `mv` (the
/// request log included), and what `disable-logging` still logs.
@Suite(.serialized) struct LogFileTests {
    static func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    @Test func logsRotateAndReopen() throws {
        let dir = try TestDirectory("logfile-test")
        let port = try BuildsSetup.freePort()
        try dir.write("trigger", "")
        let zerg = try TestProcess("zerg", ["--http-socket", "127.0.0.1:\(port)", "--wsgi-file", TestProcess.appsPath, "--processes", "2",
                                            "--logto", dir.file("site.log"), "--log-maxsize", "4000", "--log-backupname", dir.file("site.log.old"),
                                            "--req-logger", "file:\(dir.file("req.log"))", "--touch-logreopen", dir.file("trigger")],
                                   log: dir.file("stderr.log"), cwd: dir.path)
        defer {
            zerg.stop()
            dir.remove()
        }
        #expect(waitUntil(20) { Self.text(dir.file("site.log")).contains("serving on") }, "\(zerg.log())")
        // Request lines go to req.log: the process log grows with 408s, say; here, with the app's own prints.
        for i in 0..<60 { _ = try? HTTPClient.once(port: port, "/v/errors?\(i)") }
        #expect(waitUntil(5) { FileSystem.exists(dir.file("site.log.old")) }, "rotated past 4000 bytes")
        #expect(waitUntil(5) { Self.text(dir.file("site.log")).contains("log-maxsize: ") })
        // Every worker writes to the new file now.
        for i in 0..<8 { _ = try? HTTPClient.once(port: port, "/v/errors?after-\(i)") }
        #expect(waitUntil(5) { Self.text(dir.file("site.log")).components(separatedBy: "a message for the log").count > 8 },
                "\(Self.text(dir.file("site.log")))")

        // An external rotation of the request log: mv, then touch-logreopen.
        #expect(try HTTPClient.once(port: port, "/v/pid?before").status == 200)
        #expect(waitUntil(5) { Self.text(dir.file("req.log")).contains("/v/pid?before") })
        try FileManager.default.moveItem(atPath: dir.file("req.log"), toPath: dir.file("req.log.1"))
        // Each worker says when it has reopened its files.
        let reopened = Self.text(dir.file("site.log")).components(separatedBy: "log files reopened").count
        try dir.write("trigger", "now")
        #expect(waitUntil(5) { Self.text(dir.file("site.log")).components(separatedBy: "log files reopened").count >= reopened + 2 })
        for _ in 0..<4 { _ = try HTTPClient.once(port: port, "/v/pid?after") }
        #expect(waitUntil(5) { Self.text(dir.file("req.log")).contains("/v/pid?after") })
        #expect(!Self.text(dir.file("req.log.1")).contains("/v/pid?after"))
    }

    @Test func disableLoggingStillLogsWhatIsAskedFor() throws {
        let dir = try TestDirectory("logfile-test")
        let port = try BuildsSetup.freePort()
        let zerg = try TestProcess("zerg", ["--http-socket", "127.0.0.1:\(port)", "--wsgi-file", TestProcess.appsPath, "--processes", "1",
                                            "--disable-logging", "--log-slow", "200", "--log-zero"], log: dir.file("zerg.log"), cwd: dir.path)
        defer {
            zerg.stop()
            dir.remove()
        }
        #expect(waitUntil(20) { !zerg.logLines(containing: "serving on").isEmpty })
        #expect(try HTTPClient.once(port: port, "/v/pid?ms=1").status == 200)
        #expect(try HTTPClient.once(port: port, "/v/pid?ms=300").status == 200)
        #expect(try HTTPClient.once(port: port, "/v/empty").status == 200)
        #expect(waitUntil(5) { !zerg.logLines(containing: "GET /v/pid?ms=300").isEmpty && !zerg.logLines(containing: "GET /v/empty").isEmpty })
        #expect(zerg.logLines(containing: "GET /v/pid?ms=1 ").isEmpty, "a fast, non-empty response stays unlogged")
    }

    /// Several `logger` lines (a file besides `logto`, syslog), two `req-logger`
    /// files and `log-date`: every line reaches every target, the app's own
    /// prints included (through the master); `log-reopen` reopens at a reload.
    @Test func severalLoggersSyslogAndLogDate() throws {
        let dir = try TestDirectory("logfile-test")
        let port = try BuildsSetup.freePort()
        let syslog = try DatagramListener(dir.file("syslog.sock"))  // the test's syslog daemon
        try dir.write("printing.py", """
            import sys
            print("printed at import", flush=True)
            def application(environ, start_response):
                print("printed in", environ["PATH_INFO"], file=sys.stderr, flush=True)
                start_response("200 OK", [("Content-Length", "2")])
                return [b"ok"]
            """)
        let zerg = try TestProcess("zerg", ["--http-socket", "127.0.0.1:\(port)", "--wsgi-file", dir.file("printing.py"), "--processes", "2",
                                            "--logto", dir.file("site.log"), "--logger", "other file:\(dir.file("other.log"))",
                                            "--logger", "syslog:mysite,local3", "--log-date", "%Y-%m-%dT%H:%M:%S", "--log-reopen",
                                            "--req-logger", "file:\(dir.file("req1.log"))", "--logger-req", "file:logfile=\(dir.file("req2.log"))"],
                                   log: dir.file("stderr.log"), cwd: dir.path, env: [SyslogSocket.pathVariable: dir.file("syslog.sock")])
        defer {
            zerg.stop()
            dir.remove()
        }
        #expect(waitUntil(20) { Self.text(dir.file("site.log")).contains("serving on") }, "\(zerg.log())")
        #expect(try HTTPClient.once(port: port, "/first").status == 200)
        for file in ["site.log", "other.log"] {
            #expect(waitUntil(5) { Self.text(dir.file(file)).contains("printed in /first") }, "\(file): \(Self.text(dir.file(file)))")
            let text = Self.text(dir.file(file))
            #expect(text.components(separatedBy: "printed at import").count == 3, "both workers' prints: \(text)")
            #expect(text.contains("2 worker(s) serving on"))
            // log-date's format, then uWSGI's " - ".
            #expect(text.split(separator: "\n").first { $0.contains("serving on") }?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d - zerg\[\d+\]: .*/) != nil, "\(text)")
        }
        #expect(waitUntil(5) { syslog.received().contains { $0.hasPrefix("<158>") && $0.contains(" mysite: ") && $0.contains("printed in /first") } },
                "local3 (19 × 8 + info 6): \(syslog.received())")
        #expect(syslog.received().contains { $0.contains("serving on") })
        for file in ["req1.log", "req2.log"] {
            #expect(waitUntil(5) { Self.text(dir.file(file)).contains("GET /first") }, "\(file)")
        }
        #expect(!Self.text(dir.file("site.log")).contains("GET /first"), "request lines go to the req-loggers only")
        // log-reopen: a rotation by `mv`, then a reload, and the file is written again.
        try FileManager.default.moveItem(atPath: dir.file("other.log"), toPath: dir.file("other.log.1"))
        zerg.signal(SIGHUP)
        #expect(waitUntil(20) { Self.text(dir.file("other.log")).contains("configuration reloaded") }, "\(Self.text(dir.file("site.log")))")
    }
}
