import Foundation
import Testing
@testable import Shared

/// `mount` and `manage-script-name`: several apps in every worker, each
/// getting its mountpoint as SCRIPT_NAME and the rest as PATH_INFO.
@Suite(.serialized) struct MountsTests {
    static let second = """
        import json
        def application(environ, start_response):
            body = json.dumps({"app": "two", "SCRIPT_NAME": environ["SCRIPT_NAME"], "PATH_INFO": environ["PATH_INFO"]}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        """

    func get(_ z: ZergHarness, _ path: String) throws -> RawResponse {
        try #require(try z.exchange("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").first)
    }

    @Test func twoMountedAppsGetTheirScriptName() throws {
        let z = try ZergHarness(["--processes", "2", "--mount", "/one=\(ZergHarness.appsPath)", "--mount", "/one/two=second.py",
                                 "--manage-script-name"], app: nil) { dir in
            try Self.second.write(toFile: dir + "/second.py", atomically: true, encoding: .utf8)
        }
        defer { z.cleanup() }
        let one = try get(z, "/one/v/echo?q=1").json()
        #expect(one?["SCRIPT_NAME"] as? String == "/one" && one?["PATH_INFO"] as? String == "/v/echo" && one?["QUERY_STRING"] as? String == "q=1")
        // The longest mountpoint wins, at a segment boundary.
        let two = try get(z, "/one/two/x/y").json()
        #expect(two?["app"] as? String == "two" && two?["SCRIPT_NAME"] as? String == "/one/two" && two?["PATH_INFO"] as? String == "/x/y")
        #expect(try get(z, "/one/twofold").json()?["SCRIPT_NAME"] as? String == "/one")
        // No default app: a path under no mountpoint is answered 404.
        let none = try get(z, "/three")
        #expect(none.status == 404 && none.bodyText.contains("no app is mounted at /three"))
        #expect(z.log().contains("|app: 1|"), "the log line names the app")
    }

    @Test func aMountBesideTheDefaultApp() throws {
        let z = try ZergHarness(["--processes", "1", "--mount", "/two=second.py", "--manage-script-name"]) { dir in
            try Self.second.write(toFile: dir + "/second.py", atomically: true, encoding: .utf8)
        }
        defer { z.cleanup() }
        let root = try get(z, "/v/echo").json()
        #expect(root?["SCRIPT_NAME"] as? String == "" && root?["PATH_INFO"] as? String == "/v/echo")
        #expect(try get(z, "/two/").json()?["PATH_INFO"] as? String == "/")
    }
}

/// The `uwsgi` module's hooks Django sites set: `post_fork_hook` runs in each
/// worker once its apps are loaded, `atexit` when the worker ends.
@Suite(.serialized) struct UWSGIHookTests {
    @Test func postForkAndAtexitRun() throws {
        let z = try ZergHarness(["--processes", "2", "--wsgi-file", "hooked.py"], app: nil) { dir in
            try """
                import os, uwsgi, uwsgidecorators
                def hook(event):
                    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "hooks.log"), "a") as f:
                        f.write(f"{event} {os.getpid()}\\n")
                @uwsgidecorators.postfork
                def reconnect():
                    hook("postfork")
                @uwsgidecorators.postfork(2)
                def only_in_worker_two():
                    hook("postfork-2")
                uwsgi.atexit = lambda: hook("atexit")
                try:
                    uwsgidecorators.filemon("/tmp")
                except NotImplementedError as e:
                    hook("refused " + str(e).split(" is not")[0])
                def application(environ, start_response):
                    start_response("200 OK", [("Content-Length", "2")])
                    return [b"ok"]
                """.write(toFile: dir + "/hooked.py", atomically: true, encoding: .utf8)
        }
        defer { z.cleanup() }
        let log = z.dir + "/hooks.log"
        func lines(_ event: String) -> Int {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.hasPrefix(event) }.count
        }
        #expect(z.waitUntil(5) { lines("postfork ") == 2 && lines("postfork-2") == 1 }, "@postfork in each worker, @postfork(2) in worker 2")
        #expect(lines("refused uwsgidecorators.filemon") == 2, "what is not offered says so")
        #expect(lines("atexit") == 0)
        z.signal(SIGTERM)
        #expect(z.waitUntil(10) { z.hasExited() })
        #expect(lines("atexit") == 2, "\(z.log())")
    }
}
