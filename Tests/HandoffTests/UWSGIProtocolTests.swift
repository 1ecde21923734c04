import Foundation
import Testing
@testable import Shared

/// The uwsgi protocol behind Debian's nginx (`uwsgi_pass` with its
/// `uwsgi_params`), the most common uWSGI setup: requests with bodies and
/// large headers, and a rolling reload under load without a failed request.
@Suite(.serialized) struct UWSGIProtocolTests {
    /// nginx on `nginxPort` passing everything to `upstream` with uwsgi_pass.
    static func nginxConf(_ nginx: Nginx, nginxPort: Int, upstream: String) -> String {
        """
        \(nginx.preamble)
        http {
            access_log off;
            client_body_temp_path \(nginx.dir.path)/body;
            client_max_body_size 10m;
            large_client_header_buffers 4 32k;
            server {
                listen 127.0.0.1:\(nginxPort);
                location / { include /etc/nginx/uwsgi_params; uwsgi_pass \(upstream); }
            }
        }
        """
    }

    /// The JSON the test app's echo route answers, through nginx.
    static func echo(port: Int, _ request: String) throws -> [String: Any] {
        let client = try HTTPClient(port: port)
        try client.send(request)
        let r = try client.readResponse()
        guard r.status == 200, let json = try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any] else {
            throw TestFailure("echo answered \(r.status): \(r.body.prefix(300))")
        }
        return json
    }

    /// What any uwsgi upstream must do behind nginx: the environ from
    /// uwsgi_params, a body, a header of 10 KB (with buffer-size raised), and
    /// an error the client can read when the packet exceeds buffer-size.
    static func checkThroughNginx(port: Int) throws {
        let env = try echo(port: port, "GET /v/echo?x=1 HTTP/1.1\r\nHost: site.example\r\nX-Test: yes\r\n\r\n")
        #expect(env["QUERY_STRING"] as? String == "x=1" && env["PATH_INFO"] as? String == "/v/echo")
        #expect(env["HTTP_X_TEST"] as? String == "yes" && env["HTTP_HOST"] as? String == "site.example")
        #expect(env["REMOTE_ADDR"] as? String == "127.0.0.1" && env["REQUEST_METHOD"] as? String == "GET")
        #expect(env["SERVER_PROTOCOL"] as? String == "HTTP/1.1", "the client's protocol, from uwsgi_params")

        let body = String(repeating: "0123456789abcdef", count: 20_000)  // 320 KB: nginx buffers it to a file first
        let posted = try echo(port: port, "POST /v/echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        #expect((posted["body"] as? String)?.count == body.utf8.count && posted["CONTENT_LENGTH"] as? String == String(body.utf8.count))
        #expect(posted["CONTENT_TYPE"] as? String == "text/plain" && posted["HTTP_CONTENT_TYPE"] == nil, "PEP 3333: no HTTP_CONTENT_TYPE")

        let large = String(repeating: "v", count: 10_000)
        let big = try echo(port: port, "GET /v/echo HTTP/1.1\r\nHost: x\r\nX-Large: \(large)\r\n\r\n")
        #expect((big["HTTP_X_LARGE"] as? String) == large)

        let tooLarge = String(repeating: "v", count: 40_000)
        let client = try HTTPClient(port: port)
        try client.send("GET /v/echo HTTP/1.1\r\nHost: x\r\nX-A: \(tooLarge.prefix(20_000))\r\nX-B: \(tooLarge.prefix(20_000))\r\n\r\n")
        let refused = try client.readResponse()
        #expect(refused.status == 431 && refused.body.contains("buffer-size"), "\(refused.status) \(refused.body.prefix(200))")
    }

    /// Standalone zerg on `socket`: served through nginx; a rolling reload of
    /// its workers under load through nginx fails no request; a request with a
    /// modifier other than WSGI's is refused with one log line.
    @Test func aZergOnAUWSGISocketBehindNginx() throws {
        guard Nginx.isInstalled else {
            Issue.record("nginx is not installed (scripts/setup.sh installs it)")
            return
        }
        let dir = try TestDirectory("uwsgi-test")
        let nginx = Nginx(dir: dir)
        let upstreamPort = try BuildsSetup.freePort()
        let zerg = try TestProcess("zerg", ["--socket", "127.0.0.1:\(upstreamPort)", "--wsgi-file", TestProcess.appsPath,
                                            "--processes", "2", "--threads", "2", "--buffer-size", "32768", "--disable-logging"],
                                   log: dir.file("zerg.log"), cwd: dir.path)
        defer {
            nginx.stop()
            zerg.stop()
            dir.remove()
        }
        #expect(waitUntil(20) { !zerg.logLines(containing: "serving on 127.0.0.1:\(upstreamPort) (uwsgi)").isEmpty || zerg.hasExited() })
        let port = try BuildsSetup.freePort()
        try dir.write("nginx.conf", Self.nginxConf(nginx, nginxPort: port, upstream: "127.0.0.1:\(upstreamPort)"))
        try nginx.start()
        try Self.checkThroughNginx(port: port)

        // modifier1 5 (PSGI in uWSGI): not ours to run.
        let raw = try FileDescriptor.connect(host: "127.0.0.1", port: upstreamPort)
        defer { raw.close() }
        try raw.writeAll([5, 0, 0, 0])
        #expect((try? raw.readToEnd())?.isEmpty == true, "closed without an answer")
        #expect(waitUntil(5) { !zerg.logLines(containing: "modifier1 5 is not served here").isEmpty })

        let load = LoadGenerator(port: port, keepAlive: 4, close: 4)
        defer { load.stop() }
        #expect(load.waitForSuccesses(200))
        let start = Host.monotonicNanoseconds()
        for round in 1...2 {
            zerg.signal(SIGHUP)
            #expect(waitUntil(20) { zerg.logLines(containing: "rolling reload done").count >= round })
            #expect(load.waitForSuccesses(100))
        }
        load.stop()
        let s = load.summary(from: start, to: Host.monotonicNanoseconds())
        print("two rolling reloads of a zerg on a uwsgi socket, through nginx under load: \(s)")
        #expect(s.failures.isEmpty, "\(s.failures.prefix(5).map { $0.failure ?? "" })\n\(nginx.errorLog.suffix(2000))")
    }

    /// A vassal with a `socket` listener: its uwsgi connections are queued and
    /// handed to attached workers (2 × 2 threads) like HTTP ones; a rolling
    /// reload of the zerg and a reload (re-exec) of the vassal, under load
    /// through nginx, fail no request.
    @Test func aVassalOnAUWSGISocketBehindNginx() throws {
        guard Nginx.isInstalled else {
            Issue.record("nginx is not installed (scripts/setup.sh installs it)")
            return
        }
        let upstreamPort = try BuildsSetup.freePort()
        let setup = try VassalSetup(vassalArgs: ["--socket", "127.0.0.1:\(upstreamPort)", "--buffer-size", "32768"])
        let nginx = Nginx(dir: setup.dir)
        defer {
            nginx.stop()
            setup.cleanup()
        }
        // buffer-size applies where the request is read: the vassal, and the workers it hands it to.
        let zerg = try setup.startZerg(workers: 2, args: ["--threads", "2", "--buffer-size", "32768"])
        let port = try BuildsSetup.freePort()
        try setup.dir.write("nginx.conf", Self.nginxConf(nginx, nginxPort: port, upstream: "127.0.0.1:\(upstreamPort)"))
        try nginx.start()
        try Self.checkThroughNginx(port: port)
        // The HTTP listener beside it still serves HTTP.
        #expect(try HTTPClient.once(port: setup.port, "/v/pid").status == 200)

        let load = LoadGenerator(port: port, keepAlive: 4, close: 4)
        defer { load.stop() }
        #expect(load.waitForSuccesses(200))
        let start = Host.monotonicNanoseconds()
        zerg.signal(SIGHUP)
        #expect(waitUntil(20) { !zerg.logLines(containing: "rolling reload done").isEmpty })
        #expect(load.waitForSuccesses(100))
        setup.vassal.signal(SIGHUP)
        #expect(waitUntil(20) { setup.vassal.logLines(containing: "reloading: re-exec").count >= 1 })
        #expect(load.waitForSuccesses(200))
        load.stop()
        let s = load.summary(from: start, to: Host.monotonicNanoseconds())
        print("a rolling reload of the zerg and a vassal re-exec, uwsgi through nginx under load: \(s)")
        #expect(s.failures.isEmpty, "\(s.failures.prefix(5).map { $0.failure ?? "" })\n\(nginx.errorLog.suffix(2000))\n\(setup.vassal.log().suffix(2000))")
    }
}
