import Foundation
import Testing
@testable import Shared

/// The zerg as processes: workers, restarts, reloads, stops, errors users hit.
@Suite struct ZergProcessTests {
    static let host = "Host: test.local\r\n"

    func get(_ z: ZergHarness, _ path: String) -> Exchange? {
        try? z.exchange("GET \(path) HTTP/1.1\r\n\(Self.host)Connection: close\r\n\r\n")
    }

    @Test func workersServeAndTheUwsgiModuleWorks() throws {
        let z = try ZergHarness(["--processes", "3", "--procname-master", "zerg master <test>",
                                 "--log-format", "%(worker_id) %(addr) [%(ltime)] \"%(method) %(uri) %(proto)\" %(status) %(size) \"%(uagent)\" %(micros)us %(missing)"])
        defer { z.cleanup() }
        #expect(z.workers().count == 3)
        var seen: Set<Int> = []
        for _ in 0..<30 {
            guard let info = get(z, "/v/uwsgi")?.first?.json() else { continue }
            seen.insert(info["worker_id"] as? Int ?? 0)
            #expect(info["numproc"] as? Int == 3)
            #expect(info["masterpid"] as? Int == Int(z.pid))
            #expect(info["ppid"] as? Int == Int(z.pid))
            #expect(info["has_opt"] as? Bool == true)
            #expect((info["version"] as? String)?.isEmpty == false)
        }
        #expect(seen.isSubset(of: [1, 2, 3]) && !seen.isEmpty)
        // The logvar set by the app appears in the request line; unknown variables print "-".
        #expect(z.waitUntil(2) { z.log().range(of: #"\n[123] 127\.0\.0\.1 \[[^\]]+\] "GET /v/uwsgi HTTP/1\.1" 200 \d+ "-" \d+us -"#, options: .regularExpression) != nil }, "\(z.log())")
        // Process titles as ps shows them.
        let masterTitle = try FileSystem.readText("/proc/\(z.pid)/cmdline").replacingAll("\0", with: "")
        #expect(masterTitle == "zerg master <test>")
        let titles = z.workers().compactMap { try? FileSystem.readText("/proc/\($0)/cmdline").replacingAll("\0", with: "") }
        #expect(titles.contains { $0.hasPrefix("test worker ") }, "\(titles)")
    }

    @Test func memoryReportPrefixesRequestLinesWithUWSGIsMemoryFields() throws {
        let z = try ZergHarness(["--processes", "1", "--memory-report", "--log-format", "%(method) %(uri) %(status) rss=%(rssM)MB"])
        defer { z.cleanup() }
        #expect(try z.exchange("GET /v/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status == 200)
        #expect(z.waitUntil(5) { z.log().contains("GET /v/echo 200") })
        let line = z.log().split(separator: "\n").first { $0.contains("GET /v/echo 200") }.map(String.init) ?? ""
        #expect(line.hasPrefix("{address space usage: "), "\(line)")
        #expect(line.contains("MB} {rss usage: "))
        let rss = line.split(separator: "=").last.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
        #expect(rss > 5 && rss < 500, "\(line)")
    }

    /// What the widely copied "uWSGI in production" settings write:
    /// disable-logging with log-5xx, a process-name prefix, safe-pidfile.
    @Test func productionLoggingNamesAndPidfile() throws {
        let z = try ZergHarness(["--processes", "1", "--disable-logging", "--log-5xx", "--procname-prefix-spaced", "shop",
                                 "--procname-append", " [a]", "--safe-pidfile", "zerg.pid"])
        defer { z.cleanup() }
        #expect(try z.exchange("GET /v/pid HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").status == 200)
        #expect(try z.exchange("GET /raw/raise HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").status == 500)
        #expect(z.waitUntil(2) { z.log().contains("GET /raw/raise => generated") })
        #expect(!z.log().contains("GET /v/pid => generated"))  // a 200: not logged
        func title(_ pid: pid_t) -> String {
            String(decoding: (try? FileSystem.readFile("/proc/\(pid)/cmdline")) ?? [], as: UTF8.self).split(separator: "\0").first.map(String.init) ?? ""
        }
        #expect(title(z.pid) == "shop zerg master [a]")
        #expect(z.workers().map(title) == ["shop zerg worker 1 [a]"])
        #expect((try? FileSystem.readText(z.dir + "/zerg.pid")) == "\(z.pid)\n")
    }

    /// uWSGI's `daemonize = FILE`: the command returns at once, the zerg serves
    /// on, detached (a session of its own), logging to the file.
    @Test func daemonizeDetachesAndLogsToTheFile() throws {
        let z = try ZergHarness(["--processes", "1", "--daemonize", "daemon.log"], waitForServing: false)
        defer { z.cleanup() }
        #expect(z.waitUntil(10) { z.hasExited() })
        #expect(z.exitStatus.map { "\($0)" } == "exited with status 0")
        let line = try #require(z.log().split(separator: "\n").first { $0.contains("zerg daemonized: pid ") }, "\(z.log())")
        let daemon = try #require(pid_t(line.split(separator: " ")[3].dropLast()))
        defer { kill(-daemon, SIGKILL); kill(daemon, SIGKILL) }
        let logPath = z.dir + "/daemon.log"
        var port = 0
        let deadline = Date().addingTimeInterval(20)  // (the harness's own wait ends with the process it started)
        while port == 0 && Date() < deadline {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let serving = text.split(separator: "\n").first(where: { $0.contains(" serving on 127.0.0.1:") }),
               let colon = serving.lastIndex(of: ":") {
                port = Int(serving[serving.index(after: colon)...].prefix { $0.isNumber }) ?? 0
            }
            if port == 0 { usleep(20_000) }
        }
        #expect(port > 0, "\((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "no log")")
        let fd = try FileDescriptor.connect(host: "127.0.0.1", port: port)
        defer { fd.close() }
        try fd.writeAll("GET /v/pid HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        #expect(try ZergHarness.read(fd, responses: 1, timeout: 5).status == 200)
        // A session of its own: session id (the 6th field of /proc/PID/stat) is its pid.
        let stat = try FileSystem.readText("/proc/\(daemon)/stat")
        let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        #expect(Int32(fields[3]) == daemon)
    }

    @Test func aDeadWorkerIsReplaced() throws {
        let z = try ZergHarness(["--processes", "2"])
        defer { z.cleanup() }
        let before = Set(z.workers())
        let victim = try #require(before.first)
        kill(victim, SIGKILL)
        #expect(z.waitUntil(5) { Set(z.workers()).count == 2 && !z.workers().contains(victim) })
        #expect(z.log().contains("pid \(victim) killed by SIGKILL; respawning"))
        #expect(z.waitUntil(5) { (0..<4).allSatisfy { _ in get(z, "/v/echo")?.status == 200 } })
    }

    /// Keep-alive connections stay with their worker, but a worker that finds
    /// two requests waiting at once leaves one to a free worker (the ready pool).
    @Test func aBusyWorkerLeavesASecondReadyRequestToAFreeOne() throws {
        let z = try ZergHarness(["--processes", "2"])
        defer { z.cleanup() }
        // Five keep-alive connections on two workers: three of them share one.
        var byWorker: [pid_t: [FileDescriptor]] = [:]
        var all: [FileDescriptor] = []
        defer { for fd in all { fd.close() } }
        func ask(_ fd: FileDescriptor, _ query: String = "") throws -> pid_t {
            try fd.writeAll("GET /v/pid\(query) HTTP/1.1\r\n\(Self.host)\r\n")
            let x = try ZergHarness.read(fd, responses: 1, timeout: 10)
            let body = String(decoding: try #require(x.first?.body), as: UTF8.self)
            return try #require(pid_t(body.split(separator: " ").first ?? ""))
        }
        for _ in 0..<5 {
            let fd = try FileDescriptor.connect(host: "127.0.0.1", port: z.port)
            all.append(fd)
            byWorker[try ask(fd), default: []].append(fd)
        }
        let (busy, conns) = try #require(byWorker.first { $0.value.count >= 3 })
        // The worker sleeps 300 ms on one; two more requests arrive on its others meanwhile.
        try conns[0].writeAll("GET /v/pid?ms=300 HTTP/1.1\r\n\(Self.host)\r\n")
        usleep(50_000)
        // (Each takes 100 ms: the one this worker keeps does not let it come back
        // for the other before the free worker, however slow the machine.)
        try conns[1].writeAll("GET /v/pid?ms=100 HTTP/1.1\r\n\(Self.host)\r\n")
        try conns[2].writeAll("GET /v/pid?ms=100 HTTP/1.1\r\n\(Self.host)\r\n")
        var servedBy: [pid_t] = []
        for fd in conns[0...2] {
            let x = try ZergHarness.read(fd, responses: 1, timeout: 10)
            servedBy.append(pid_t(String(decoding: try #require(x.first?.body), as: UTF8.self).split(separator: " ").first ?? "") ?? 0)
        }
        #expect(servedBy[0] == busy)
        #expect(Set(servedBy[1...2]).count == 2, "one waiting request went to the other worker: \(servedBy), busy \(busy)")
        // The moved connection goes on being served (by whichever worker it is with now).
        #expect(try ask(conns[1]) > 0 && ask(conns[2]) > 0)
    }

    @Test func sigtermLetsTheRequestInFlightFinish() throws {
        let z = try ZergHarness(["--processes", "1"])
        defer { z.cleanup() }
        let fd = try FileDescriptor.connect(host: "127.0.0.1", port: z.port)
        defer { fd.close() }
        try fd.writeAll("GET /v/slow?inflight HTTP/1.1\r\n\(Self.host)\r\n")  // ~2 s of streaming
        #expect(try fd.wait(timeoutMs: 3000))
        z.signal(SIGTERM)
        let x = try ZergHarness.read(fd, responses: 1, timeout: 15)
        #expect(x.status == 200)
        #expect(x.first?.body.count == 65536 * 200, "the whole body arrives despite the stop")
        #expect(z.waitUntil(10) { z.hasExited() })
        #expect(z.exitStatus == Shared.ExitStatus.exited(0))
        #expect(z.log().contains("graceful stop of 1 worker(s)"))
    }

    /// SIGHUP while clients run: waits until new workers have replaced every
    /// one of `old`, then until `thenMore` more requests were served.
    func reloadUnderLoad(_ z: ZergHarness, replacing old: Set<pid_t>, served: Atomic<Int>, thenMore: Int, within seconds: Double) {
        z.signal(SIGHUP)
        #expect(z.waitUntil(seconds) { let now = Set(z.workers()); return now.count == old.count && now.isDisjoint(with: old) }, "\(z.log())")
        let after = served.value
        #expect(z.waitUntil(5) { served.value > after + thenMore })
    }

    @Test func hupReloadsWorkersOneByOneWithoutRefusingConnections() throws {
        let z = try ZergHarness(["--processes", "2"])
        defer { z.cleanup() }
        let old = Set(z.workers())
        let port = z.port
        let done = Atomic(false)
        let failures = Atomic(0)
        let served = Atomic(0)
        let client = Thread {
            while !done.value {
                do {
                    let fd = try FileDescriptor.connect(host: "127.0.0.1", port: port)
                    try fd.writeAll("GET /v/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    let x = try ZergHarness.read(fd, responses: 1, timeout: 5)
                    fd.close()
                    if x.status == 200 { served.add(1) } else { failures.add(1) }
                } catch {
                    failures.add(1)
                }
            }
        }
        client.start()
        defer { done.set(true) }
        #expect(z.waitUntil(5) { served.value > 20 })
        reloadUnderLoad(z, replacing: old, served: served, thenMore: 20, within: 10)
        done.set(true)
        usleep(200_000)
        #expect(failures.value == 0, "\(failures.value) of \(served.value) requests failed during the reload")
        #expect(z.log().contains("rolling reload of 2 worker(s)"))
        print("rolling reload under load: \(served.value) requests, \(failures.value) failed")
    }

    /// Keep-alive clients with requests long enough for the ready pool (2 ms):
    /// connections move between workers, and a rolling reload neither loses the
    /// requests queued there nor closes a client's connection: the old workers
    /// hand theirs to the new ones. (A request on a reused connection closed
    /// unanswered would be sent again, as HTTP clients do; it is counted.)
    @Test func keepAliveRequestsMoveBetweenWorkersAndSurviveARollingReload() throws {
        let z = try ZergHarness(["--processes", "3"])
        defer { z.cleanup() }
        let old = Set(z.workers())
        let port = z.port
        let done = Atomic(false)
        let failures = Atomic(0)
        let served = Atomic(0)
        let moved = Atomic(0)
        let resent = Atomic(0)
        var clients: [Thread] = []
        for _ in 0..<8 {
            let client = Thread {
                var fd: FileDescriptor?
                var reused = false
                var lastPID = ""
                while !done.value {
                    do {
                        if fd == nil { fd = try FileDescriptor.connect(host: "127.0.0.1", port: port); reused = false; lastPID = "" }
                        try fd!.writeAll("GET /v/pid?ms=2 HTTP/1.1\r\nHost: x\r\n\r\n")
                        let x = try ZergHarness.read(fd!, responses: 1, timeout: 5, waitForClose: false)
                        let response = x.first
                        let closed = x.closedByServer || response?.header("Connection")?.lowercased() == "close"
                        guard let first = response, first.status == 200 else {
                            fd!.close(); fd = nil
                            if reused && response == nil { resent.add(1) } else { failures.add(1) }  // stale keep-alive: sent again
                            continue
                        }
                        served.add(1)
                        let pid = String(decoding: first.body, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
                        if !lastPID.isEmpty && pid != lastPID { moved.add(1) }
                        lastPID = pid
                        reused = true
                        if closed { fd!.close(); fd = nil }
                    } catch {
                        fd?.close(); fd = nil
                        if reused { resent.add(1) } else { failures.add(1) }
                    }
                }
                fd?.close()
            }
            clients.append(client)
            client.start()
        }
        defer { done.set(true) }
        #expect(z.waitUntil(10) { served.value > 300 })
        #expect(moved.value > 0, "no keep-alive connection moved to another worker in \(served.value) requests")
        reloadUnderLoad(z, replacing: old, served: served, thenMore: 100, within: 15)
        done.set(true)
        usleep(300_000)
        #expect(failures.value == 0, "\(failures.value) of \(served.value) requests failed")
        // Retired workers hand their keep-alive connections over instead of closing them.
        #expect(resent.value == 0, "\(resent.value) requests had to be sent again after a keep-alive connection was closed")
        print("keep-alive, 2 ms requests, rolling reload: \(served.value) requests, \(failures.value) failed, \(resent.value) sent again after an idle close, \(moved.value) served by another worker than the one before")
    }

    @Test func appImportErrorIsReportedOnceAndRetriedWithBackoff() throws {
        let z = try ZergHarness(["--processes", "4"], app: ZergHarness.supportDirectory + "/broken_app.py", waitForServing: false)
        defer { z.cleanup() }
        #expect(z.waitUntil(5) { z.log().contains("app failed to load: ModuleNotFoundError: No module named 'module_that_does_not_exist' (wsgi-file ") }, "\(z.log())")
        usleep(2_500_000)  // the observation window for the retry rate, not a synchronisation
        let log = z.log()
        let summaries = log.components(separatedBy: "app failed to load: ModuleNotFoundError").count - 1
        let attempts = log.components(separatedBy: "Traceback (most recent call last)").count - 1
        #expect(log.contains("import module_that_does_not_exist"))  // the worker's traceback
        #expect(summaries == 1, "the master says it once: \(summaries)")
        #expect(attempts <= 4 * 3, "no fork storm: \(attempts) attempts in 2.5 s")
        #expect(!z.hasExited())
    }

    @Test(arguments: [
        (["--wsgi-file", "nope.py"], "wsgi-file nope.py: no such file"),
        (["--home", "/nonexistent/venv"], "home /nonexistent/venv: no such directory"),
        (["--home", "/tmp"], "home /tmp: not a virtualenv"),
        (["--chdir", "/nonexistent"], "chdir /nonexistent: no such directory"),
        (["--workers", "many"], "`workers = many`: expected a whole number"),
    ])
    func userErrorsAreOneLine(_ args: [String], _ message: String) throws {
        let z = try ZergHarness(args, app: args.first == "--wsgi-file" ? nil : ZergHarness.appsPath, waitForServing: false)
        defer { z.cleanup() }
        #expect(z.waitUntil(10) { z.hasExited() })
        #expect(z.exitStatus != Shared.ExitStatus.exited(0))
        #expect(z.log().contains(message), "\(z.log())")
        #expect(z.log().split(separator: "\n").count <= 2)
    }

    @Test func portInUseIsOneLine() throws {
        let taken = try ListenAddress.tcp(host: "127.0.0.1", port: 0).listen()
        defer { taken.close() }
        let port = try taken.localPort()
        let z = try ZergHarness(["--http-socket", "127.0.0.1:\(port)"], waitForServing: false)
        defer { z.cleanup() }
        #expect(z.waitUntil(10) { z.hasExited() })
        #expect(z.log().contains("cannot listen on 127.0.0.1:\(port): Address already in use"), "\(z.log())")
    }

    @Test func venvPythonPathChdirAndEnvReachTheApp() throws {
        let z = try ZergHarness(["--home", "VENV", "--python-path", "../extra", "--chdir", "work", "--env", "GREETING=hi there",
                                 "--module", "probe:application"], app: nil, waitForServing: false) { dir in
            let venv = dir + "/VENV"
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            p.arguments = ["-m", "venv", "--without-pip", venv]
            try p.run()
            p.waitUntilExit()
            let site = venv + "/lib/python3.11/site-packages"
            try "VALUE = 'from the venv'\n".write(toFile: site + "/venvonly.py", atomically: false, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: dir + "/extra", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: dir + "/work", withIntermediateDirectories: true)
            try """
                import json, os, sys, venvonly
                def application(environ, start_response):
                    body = json.dumps({"venv": venvonly.VALUE, "prefix": sys.prefix, "cwd": os.getcwd(),
                                       "greeting": os.environ.get("GREETING"), "path0": sys.path[0]}).encode()
                    start_response("200 OK", [("Content-Type", "application/json")])
                    return [body]
                """.write(toFile: dir + "/extra/probe.py", atomically: false, encoding: .utf8)
        }
        defer { z.cleanup() }
        // `home` is relative to where the zerg starts; python-path (like the app) is seen after `chdir`.
        #expect(z.waitUntil(20) { z.servingPort() != nil }, "\(z.log())")
        let zz = z
        let port = try #require(z.servingPort())
        let fd = try FileDescriptor.connect(host: "127.0.0.1", port: port)
        defer { fd.close() }
        try fd.writeAll("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        let info = try #require(try ZergHarness.read(fd, responses: 1, timeout: 5).first?.json(), "\(zz.log())")
        #expect(info["venv"] as? String == "from the venv")
        #expect((info["prefix"] as? String)?.hasSuffix("/VENV") == true)
        #expect((info["cwd"] as? String)?.hasSuffix("/work") == true)
        #expect(info["greeting"] as? String == "hi there")
        #expect(info["path0"] as? String == "../extra")
    }
}

/// A tiny lock-protected value for the load thread.
final class Atomic<T>: @unchecked Sendable {
    private var v: T
    private let lock = NSLock()
    init(_ v: T) { self.v = v }
    var value: T { lock.lock(); defer { lock.unlock() }; return v }
    func set(_ n: T) { lock.lock(); v = n; lock.unlock() }
}

extension Atomic where T == Int {
    func add(_ n: Int) { lock.lock(); v += n; lock.unlock() }
}
