import Foundation
import Testing
@testable import Shared

/// `hactl` against a real emperor and a real nginx: create, activate, stage,
/// swap-live and roll back while a client hits nginx's live address.
@Suite(.serialized)
struct HactlTests {
    final class World {
        let dir: TestDirectory
        let base: Int, livePort: Int, stagePort: Int, statusPort: Int
        var emperor: TestProcess!
        let nginx: Nginx
        var deploy: String { dir.file("deploy") }
        var env: [String: String] {
            ["HACTL_DEPLOY": deploy, "HACTL_STATUS": "127.0.0.1:\(statusPort)", "HACTL_LIVE": "127.0.0.1:\(livePort)",
             "HACTL_NGINX_RELOAD": "nginx -p \(dir.path) -c \(dir.file("nginx.conf")) -s reload", "HACTL_BASE_PORT": String(base)]
        }

        init() throws {
            dir = try TestDirectory("hactl-test")
            nginx = Nginx(dir: dir)
            base = try BuildsSetup.freePorts(count: 4, step: 10)  // builds a, b, c (+ one spare)
            livePort = try BuildsSetup.freePort()
            stagePort = try BuildsSetup.freePort()
            statusPort = try BuildsSetup.freePort()
            let d = deploy
            for sub in ["conf", "builds", "run", "logs", "src-good", "src-broken"] {
                try FileManager.default.createDirectory(atPath: d + "/" + sub, withIntermediateDirectories: true)
            }
            let hactl = TestProcess.binDirectory + "/hactl"
            try dir.write("deploy/conf/vassal.skel", """
                [uwsgi]
                build = %c
                port = @(exec://\(hactl) --base-port \(base) port %c)
                http = 127.0.0.1:%(port)
                zerg-server = \(d)/run/%(build).sock
                stats = \(d)/run/%(build)-vassal.stats
                logto = \(d)/logs/vassal.%(build).log
                """)
            try dir.write("deploy/conf/zerg.skel", """
                [uwsgi]
                build = %c
                zerg = \(d)/run/%(build).sock
                chdir = %d
                python-path = %d
                wsgi-file = %dapp.py
                processes = 2
                stats = \(d)/run/%(build)-zerg.stats
                logto = \(d)/logs/zerg.%(build).log
                disable-logging = true
                """)
            try dir.write("deploy/src-good/app.py", """
                import os
                TAG = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".DEPLOY_TAG")).read().strip()
                def application(environ, start_response):
                    body = TAG.encode()
                    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
                    return [body]
                """)
            try dir.write("deploy/src-broken/app.py", "import no_such_module_here\n")
            try dir.write("nginx.conf", """
                \(nginx.preamble)
                http {
                    access_log off;
                    include \(d)/builds/_live/live.conf;
                    include \(d)/builds/_stage/stage.conf;
                    server {
                        listen 127.0.0.1:\(livePort);
                        location / { proxy_pass http://web; add_header X-Upstream $upstream_addr always; }
                    }
                    server {
                        listen 127.0.0.1:\(stagePort);
                        location / { proxy_pass http://webstage; add_header X-Upstream $upstream_addr always; }
                    }
                }
                """)
            emperor = try TestProcess("emperor", ["--emperor", "\(d)/builds/[a-z]*/vassal.ini", "--emperor", "\(d)/builds/[a-z]*/zerg.ini",
                                                  "--status", "127.0.0.1:\(statusPort)"], log: dir.file("emperor.log"), cwd: dir.path)
        }

        /// Runs hactl; returns its exit status and everything it printed.
        @discardableResult
        func hactl(_ args: [String]) throws -> (Int32, String) {
            try runCapturing(TestProcess.binDirectory + "/hactl", args, environment: ProcessInfo.processInfo.environment.merging(env) { $1 })
        }

        func cleanup() {
            nginx.stop()
            emperor.stopEmperor()
            dir.remove()
        }
    }

    @Test func aFullDeployThroughNginxLosesNoRequest() throws {
        guard Nginx.isInstalled else {
            Issue.record("nginx is not installed (scripts/setup.sh installs it)")
            return
        }
        let w = try World()
        defer { w.cleanup() }
        // Build a: created, activated, made live and stage.
        var (rc, out) = try w.hactl(["create", "a", "--from", w.deploy + "/src-good"])
        #expect(rc == 0, "\(out)")
        (rc, out) = try w.hactl(["activate", "a"])
        #expect(rc == 0, "\(out)\n\(w.emperor.log())")
        guard rc == 0 else { return }
        try FileManager.default.createSymbolicLink(atPath: w.deploy + "/builds/_live", withDestinationPath: "a")
        try FileManager.default.createSymbolicLink(atPath: w.deploy + "/builds/_stage", withDestinationPath: "a")
        try w.nginx.start()
        let tagA = try String(contentsOfFile: w.deploy + "/builds/a/.DEPLOY_TAG", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(waitUntil(10) { (try? HTTPClient.once(port: w.livePort, "/").body) == tagA })

        let load = LoadGenerator(port: w.livePort, keepAlive: 4, close: 4, path: "/", retryStaleKeepAlive: true)
        defer { load.stop() }
        #expect(load.waitForSuccesses(100))
        let start = Host.monotonicNanoseconds()
        // Build c: created (find-free-build says b, but the seed's flow may skip), staged, swapped live.
        (rc, out) = try w.hactl(["find-free-build"])
        #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "b")
        (rc, out) = try w.hactl(["create", "c", "--from", w.deploy + "/src-good", "--hook", "echo hook ran for $BUILD on $PORT > hook.txt"])
        #expect(rc == 0, "\(out)")
        #expect(FileSystem.exists(w.deploy + "/builds/c/hook.txt"))
        (rc, out) = try w.hactl(["stage", "c"])
        #expect(rc == 0, "\(out)")
        let tagC = try String(contentsOfFile: w.deploy + "/builds/c/.DEPLOY_TAG", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(waitUntil(5) { (try? HTTPClient.once(port: w.stagePort, "/").body) == tagC })
        (rc, out) = try w.hactl(["swap-live"])
        #expect(rc == 0, "\(out)")
        // hactl returned once nginx routed to c; old nginx workers finish their connections.
        #expect(waitUntil(5) { (try? HTTPClient.once(port: w.livePort, "/").body) == tagC })
        // rm of the live build is refused.
        (rc, out) = try w.hactl(["rm", "c"])
        #expect(rc == 1 && out.contains("is the live build"), "\(out)")
        // Rollback: one command; a was kept warm as the stage build.
        (rc, out) = try w.hactl(["swap-live"])
        #expect(rc == 0, "\(out)")
        #expect(waitUntil(5) { (try? HTTPClient.once(port: w.livePort, "/").body) == tagA })
        #expect(load.waitForSuccesses(100))
        load.stop()
        let s = load.summary(from: start, to: Host.monotonicNanoseconds())
        print("create c, stage c, swap live to c, roll back to a, all through nginx under load: \(s)")
        #expect(s.failures.isEmpty, "\(s.failures.prefix(5).map { $0.failure ?? "" })")
        (rc, out) = try w.hactl(["status"])
        #expect(out.contains("a ") && out.contains("live") && out.contains("stage"), "\(out)")
        print(out)
    }

    @Test func activatingABrokenBuildFailsWithTheImportError() throws {
        let w = try World()
        defer { w.cleanup() }
        var (rc, out) = try w.hactl(["create", "x", "--from", w.deploy + "/src-broken"])
        #expect(rc == 0, "\(out)")
        let start = Date()
        (rc, out) = try w.hactl(["--timeout", "10", "activate", "x"])
        #expect(rc == 1)
        #expect(out.contains("ModuleNotFoundError") && out.contains("no_such_module_here"), "\(out)")
        #expect(Date().timeIntervalSince(start) < 15)
        (rc, out) = try w.hactl(["port", "a-1"])
        #expect(rc == 1 && out.contains("not a build name"))
        // make-incremental: files equal to the basis build's become hard links to them.
        (rc, out) = try w.hactl(["create", "y", "--from", w.deploy + "/src-broken"])
        #expect(rc == 0)
        (rc, out) = try w.hactl(["make-incremental", "y", "--from", "x"])
        #expect(rc == 0 && out.contains("hard-linked"), "\(out)")
        let x = try FileSystem.status(w.deploy + "/builds/x/app.py"), y = try FileSystem.status(w.deploy + "/builds/y/app.py")
        #expect(x.inode == y.inode)
    }
}
