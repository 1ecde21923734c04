import Foundation
import Testing
@testable import Shared

/// The corpus of real-world uWSGI configs (Tests/Corpus, see its README), run
/// as written with the real binaries: each serves, or starts and names every
/// feature it lacks, or (strict) refuses naming them.
@Suite(.serialized) struct CorpusTests {
    static let source = FileSystem.directoryName(FileSystem.directoryName(FileSystem.directoryName("\(#filePath)"))) + "/Tests/Corpus"

    /// A copy of the corpus in a temp directory (configs write pid files and sockets beside themselves).
    final class Copy {
        let dir: TestDirectory
        var root: String { dir.path }
        var processes: [TestProcess] = []
        var daemons: [pid_t] = []

        init() throws {
            dir = try TestDirectory("corpus-test")
            do {
                for name in try FileManager.default.contentsOfDirectory(atPath: CorpusTests.source) {
                    try FileManager.default.copyItem(atPath: CorpusTests.source + "/" + name, toPath: dir.file(name))
                }
            } catch {
                dir.remove()
                throw error
            }
        }

        /// Starts `program ARGS` in the copy; waits until it says it serves (in
        /// its stderr, or in `logFile` when the config logs to a file), or exits.
        func start(_ args: [String], program: String = "zerg", env: [String: String], until ready: String = "serving on",
                   logFile: String? = nil) throws -> TestProcess {
            let p = try TestProcess(program, args, log: dir.file("run\(processes.count).log"), cwd: root, env: env)
            processes.append(p)
            _ = waitUntil(20) {
                let text = logFile.flatMap { try? String(contentsOfFile: dir.file($0), encoding: .utf8) } ?? p.log()
                return text.contains(ready) || p.hasExited()
            }
            return p
        }

        func cleanup() {
            for p in processes {
                p.stop()
                p.removeRouterDirectory()
            }
            for pid in daemons {
                kill(-pid, SIGKILL)
                kill(pid, SIGKILL)
            }
            dir.remove()
        }
    }

    /// The body of GET / over HTTP (nil: no 200).
    static func get(_ port: Int) -> String? {
        guard let r = try? HTTPClient.once(port: port, "/"), r.status == 200 else { return nil }
        return r.body
    }

    /// One request in the uwsgi protocol (what nginx's uwsgi_pass sends) on `fd`; the raw response.
    static func uwsgiGet(_ fd: FileDescriptor) throws -> String {
        defer { fd.close() }
        var vars: [UInt8] = []
        for (k, v) in [("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/"), ("PATH_INFO", "/"), ("QUERY_STRING", ""),
                       ("SERVER_PROTOCOL", "HTTP/1.1"), ("HTTP_HOST", "corpus"), ("REMOTE_ADDR", "127.0.0.1")] {
            for part in [Array(k.utf8), Array(v.utf8)] { vars += [UInt8(part.count & 0xff), UInt8(part.count >> 8)] + part }
        }
        try fd.writeAll([0, UInt8(vars.count & 0xff), UInt8(vars.count >> 8), 0] + vars)
        return String(decoding: try fd.readToEnd(), as: UTF8.self)
    }

    static func env(_ port: Int, _ extra: [String: String] = [:]) -> [String: String] {
        ["CORPUS_PORT": String(port), "CORPUS_USER": String(geteuid())].merging(extra) { $1 }
    }

    @Test func productionSettingsUnderStrictServe() throws {
        let c = try Copy()
        defer { c.cleanup() }
        let port = try BuildsSetup.freePort()
        let z = try c.start(["production.ini"], env: Self.env(port))
        #expect(Self.get(port)?.hasPrefix("ok ") == true, "\(z.log())")
        #expect(z.logLines(containing: "not offered").isEmpty && z.logLines(containing: "unknown option").isEmpty, "\(z.log())")
    }

    @Test func aSiteUsingUWSGIServicesServesUnderStrict() throws {
        let c = try Copy()
        defer { c.cleanup() }
        let port = try BuildsSetup.freePort()
        let z = try c.start(["site-services.ini"], env: Self.env(port), logFile: "site.log")
        defer { c.daemons += [pid_t((try? String(contentsOfFile: c.dir.file("worker.pid"), encoding: .utf8))?.trimmed() ?? "") ?? 0] }
        #expect((try? String(contentsOfFile: c.dir.file("site.log"), encoding: .utf8))?.contains("serving on") == true, "\(z.log())")
        // The count lives in the shared cache: whichever worker answers, it goes up by one.
        let counts = (1...6).compactMap { _ in try? HTTPClient.once(port: port, "/visits").body }
        #expect(counts == (1...6).map { "visits=\($0)\n" }, "\(counts)")
        for file in ["site.log", "copy.log"] {
            let text = (try? String(contentsOfFile: c.dir.file(file), encoding: .utf8)) ?? ""
            #expect(text.contains(" - zerg[") && text.contains("started daemon"), "\(file): \(text)")
        }
        #expect(waitUntil(5) { (try? String(contentsOfFile: c.dir.file("access.log"), encoding: .utf8))?.contains("GET /visits") == true })
        let css = try HTTPClient.once(port: port, "/static/site.css")
        #expect(css.status == 200 && css.headers["vary"] == "Accept-Encoding")
    }

    @Test func aThreadedContainerConfigServesAndNamesWhatItLacks() throws {
        let c = try Copy()
        defer { c.cleanup() }
        let port = try BuildsSetup.freePort()
        let z = try c.start(["container-threads.ini"], env: Self.env(port))
        let body = Self.get(port)
        #expect(body?.contains("threads=True") == true && body?.contains("name=container") == true, "\(z.log())")
        let css = try HTTPClient.once(port: port, "/static/site.css")
        #expect(css.status == 200 && css.body == "body { margin: 0; }\n" && css.headers["content-type"] == "text/css")
        #expect(!z.logLines(containing: "post-buffering").isEmpty, "post-buffering named as the vassal's")
    }

    @Test func uwsgiSocketsForNginxServe() throws {
        let c = try Copy()
        defer { c.cleanup() }
        let port = try BuildsSetup.freePort()
        let tcp = try c.start(["nginx-uwsgi.ini"], env: Self.env(port))
        let answer = try Self.uwsgiGet(try FileDescriptor.connect(host: "127.0.0.1", port: port))
        #expect(answer.hasPrefix("HTTP/1.0 200 OK") && answer.contains("ok pid="), "\(answer)\n\(tcp.log())")

        let unix = try c.start(["unix-socket.ini"], env: Self.env(port))
        let path = c.dir.file("site.sock")
        #expect(((try? FileSystem.status(path))?.mode ?? 0) & 0o777 == 0o660, "chmod-socket = 660")
        #expect(try Self.uwsgiGet(try FileDescriptor.connect(unixPath: path)).contains("ok pid="), "\(unix.log())")
        // vacuum: the socket's path goes with the zerg.
        unix.signal(SIGTERM)
        #expect(waitUntil(10) { unix.hasExited() })
        #expect(!FileSystem.exists(path), "\(path) removed at exit")
    }

    /// The Django docs' example, with `daemonize`: the command returns, the
    /// daemon serves, and its pid file names it.
    @Test func theDjangoDocsExampleServesDetached() throws {
        let c = try Copy()
        defer { c.cleanup() }
        let port = try BuildsSetup.freePort()
        let z = try c.start(["django-docs.ini"], env: Self.env(port), until: "daemon")
        #expect(waitUntil(10) { z.hasExited() }, "the command returns")
        let pidfile = c.dir.file("project-master.pid")
        #expect(waitUntil(10) { FileSystem.exists(pidfile) })
        if let pid = (try? String(contentsOfFile: pidfile, encoding: .utf8)).flatMap({ pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) {
            c.daemons.append(pid)
            #expect(waitUntil(10) { Self.get(port)?.hasPrefix("ok ") == true }, "\((try? String(contentsOfFile: c.dir.file("yourproject.log"), encoding: .utf8)) ?? "")")
            kill(pid, SIGTERM)
            #expect(waitUntil(10) { kill(pid, 0) != 0 }, "the daemon stops on SIGTERM")
            #expect(!FileSystem.exists(pidfile), "its pid file removed")
        }
    }

    @Test func logicBlocksAndPlaceholdersServe() throws {
        let c = try Copy()
        defer { c.cleanup() }
        let port = try BuildsSetup.freePort()
        let blocks = try c.start(["logic-blocks.ini"], env: Self.env(port))
        #expect(Self.get(port)?.contains("name=blocks") == true, "\(blocks.log())")
        #expect(blocks.logLines(containing: "2 worker(s) serving").count == 1, "if-not-opt set processes = 2")
        blocks.stop()
        let placeholders = try c.start(["placeholders.ini"], env: Self.env(port))
        #expect(Self.get(port)?.contains("name=corpus") == true, "\(placeholders.log())")
    }

    static let notOffered = ["spooler", "mule", "sharedarea", "queue", "offload-threads", "subscribe-to", "legion"]

    @Test func optionsNotOfferedAreNamedOrRefusedUnderStrict() throws {
        let c = try Copy()
        defer { c.cleanup() }
        let port = try BuildsSetup.freePort()
        let z = try c.start(["not-offered.ini"], env: Self.env(port))
        #expect(Self.get(port)?.hasPrefix("ok ") == true)
        let line = z.logLines(containing: "not offered here").first ?? ""
        #expect(Self.notOffered.allSatisfy { line.contains("\($0) (core)") }, "\(z.log())")
        z.stop()

        let strict = try c.start(["not-offered-strict.ini"], env: Self.env(port))
        #expect(waitUntil(10) { strict.hasExited() })
        #expect(strict.exitStatus != .exited(0))
        for (i, name) in Self.notOffered.enumerated() {
            #expect(!strict.logLines(containing: "not-offered-strict.ini:\(i + 8): uWSGI option `\(name)` (core) is not offered here").isEmpty,
                    "\(strict.log())")
        }
    }

    @Test func quickstartsServeThroughTheirVassal() throws {
        let c = try Copy()
        defer { c.cleanup() }
        let port = try BuildsSetup.freePort()
        let ini = try c.start(["quickstart.ini"], env: Self.env(port))
        #expect(Self.get(port)?.hasPrefix("ok ") == true && !ini.logLines(containing: "(through the vassal)").isEmpty, "\(ini.log())")
        ini.stop()
        let line = try c.start(["--http", "127.0.0.1:\(port)", "--wsgi-file", "app.py", "--master", "--processes", "4"], env: Self.env(port))
        #expect(Self.get(port)?.hasPrefix("ok ") == true && !line.logLines(containing: "4 worker(s) serving on").isEmpty, "\(line.log())")
        line.stop()
        let short = try c.start(["-M", "-p", "2", "-w", "app", "--http-socket", "127.0.0.1:\(port)"], env: Self.env(port))
        #expect(Self.get(port)?.hasPrefix("ok ") == true, "\(short.log())")
    }

    /// An /etc/uwsgi/vassals/ directory of classic vassals under the emperor.
    @Test func aClassicVassalsDirectoryRunsUnderTheEmperor() throws {
        let c = try Copy()
        defer { c.cleanup() }
        let port = try BuildsSetup.freePorts(count: 2, step: 1)
        let emperor = try c.start(["--emperor", c.dir.file("vassals/*.ini")], program: "emperor", env: Self.env(port, ["CORPUS_PORT2": String(port + 1)]),
                                  until: "site2.ini: started")
        defer { emperor.stopEmperor() }
        #expect(waitUntil(20) { Self.get(port)?.hasPrefix("ok ") == true }, "\(emperor.log())")
        #expect(waitUntil(10) { (try? Self.uwsgiGet(try FileDescriptor.connect(host: "127.0.0.1", port: port + 1)))?.contains("ok pid=") == true })
        #expect(emperor.logLines(containing: "runs as a standalone zerg").count == 2, "\(emperor.log())")
    }
}
