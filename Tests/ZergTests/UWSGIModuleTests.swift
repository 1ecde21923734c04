import Foundation
import Testing
@testable import Shared

/// The `uwsgi` module's shared services, with real workers: signals the master
/// raises (timers, cron, `uwsgi.signal`) reach a worker's handler; a cache
/// written by one worker is read by another; a user lock excludes across
/// processes and threads, and survives its holder's SIGKILL.
@Suite(.serialized) struct UWSGIModuleTests {
    static let app = #"""
        import json, os, time, uwsgi
        from uwsgidecorators import timer, cron, signal, lock

        def bump(key):
            with_lock(lambda: uwsgi.cache_update(key, str(int(uwsgi.cache_get(key) or b"0") + 1)))

        def with_lock(f):
            uwsgi.lock()
            try:
                return f()
            finally:
                uwsgi.unlock()

        @timer(1)
        def every_second(num):
            bump("timer")

        # Twice in all: both workers' imports add it, the master counts it once.
        uwsgi.register_signal(25, "worker", lambda num: bump("rb"))
        uwsgi.add_rb_timer(25, 1, 2)

        @cron(-1, -1, -1, -1, -1)
        def every_minute(num):
            uwsgi.cache_update("cron", str(uwsgi.worker_id()))

        @signal(20, target="workers")
        def everyone(num):
            uwsgi.cache_update(f"seen-by-{uwsgi.worker_id()}", str(num))

        @signal(21, target="worker2")
        def only_two(num):
            uwsgi.cache_update("only-two", str(uwsgi.worker_id()))

        @signal(23, target="workers")
        def read_colour(num):
            uwsgi.cache_update(f"colour-read-by-{uwsgi.worker_id()}", uwsgi.cache_get("colour") or b"none")

        @signal(22, target="workers")
        def count_slowly(num):
            # read, wait, write: lost updates unless the lock excludes the other process
            @lock
            def step():
                n = int(uwsgi.cache_get("count") or b"0")
                time.sleep(0.02)
                uwsgi.cache_update("count", str(n + 1))
            for _ in range(10):
                step()
            bump("counted")

        def application(environ, start_response):
            path, query = environ["PATH_INFO"], environ["QUERY_STRING"]
            out = {"worker": uwsgi.worker_id()}
            if path == "/raise":
                uwsgi.signal(int(query))
            elif path == "/get":
                value = uwsgi.cache_get(query)
                out["value"] = value.decode() if value is not None else None
            elif path == "/set":
                key, value = query.split("=")
                out["stored"] = uwsgi.cache_set(key, value)
                out["again"] = uwsgi.cache_set(key, value)
                out["exists"] = uwsgi.cache_exists(key)
            elif path == "/del":
                out["deleted"] = uwsgi.cache_del(query)
                out["exists"] = uwsgi.cache_exists(query)
            elif path == "/hold":
                uwsgi.lock(1)
                uwsgi.cache_update("holder", str(os.getpid()))
                time.sleep(60)
            elif path == "/lock1":
                uwsgi.lock(1)
                out["locked"] = uwsgi.is_locked(1)
                uwsgi.unlock(1)
            elif path == "/errors":
                for name, call in (("no-such-cache", lambda: uwsgi.cache_get("k", "nope")),
                                   ("no-such-lock", lambda: uwsgi.lock(9)),
                                   ("bad-target", lambda: uwsgi.register_signal(30, "nobody", print))):
                    try:
                        call()
                    except Exception as e:
                        out[name] = str(e)
            body = json.dumps(out).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        """#

    static func start(_ extra: [String] = []) throws -> ZergHarness {
        try ZergHarness(["--processes", "2", "--wsgi-file", "signals.py", "--cache2", "name=shared,items=64,blocksize=128",
                         "--locks", "1"] + extra, app: nil) { dir in
            try app.write(toFile: dir + "/signals.py", atomically: true, encoding: .utf8)
        }
    }

    func call(_ z: ZergHarness, _ path: String) throws -> [String: Any] {
        let r = try #require(try z.exchange("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").first)
        #expect(r.status == 200, "\(path): \(r.bodyText)\n\(z.log())")
        return r.json() ?? [:]
    }

    func cached(_ z: ZergHarness, _ key: String) -> String? {
        (try? call(z, "/get?\(key)"))?["value"] as? String
    }

    @Test func timerAndTargetedSignalsReachWorkers() throws {
        let z = try Self.start(["--threads", "2"])
        defer { z.cleanup() }
        // The timer: the master raises it every second, one worker runs it.
        #expect(z.waitUntil(6) { Int(cached(z, "timer") ?? "") ?? 0 >= 3 }, "\(z.log())")
        // `workers`: both workers run it; one worker's request reads what both wrote.
        _ = try call(z, "/raise?20")
        #expect(z.waitUntil(5) { cached(z, "seen-by-1") == "20" && cached(z, "seen-by-2") == "20" }, "\(z.log())")
        // `worker2`: only worker 2, whoever raised it.
        _ = try call(z, "/raise?21")
        #expect(z.waitUntil(5) { cached(z, "only-two") == "2" })
        // The same timer registered by both workers' imports is one timer.
        #expect(z.log().components(separatedBy: "raised every 1 s\n").count == 2, "\(z.log())")
        #expect(z.log().components(separatedBy: "signal 25: raised every 1 s, 2 time(s)").count == 2, "\(z.log())")
        // Errors name what is wrong.
        let errors = try call(z, "/errors")
        #expect((errors["no-such-cache"] as? String)?.contains("no cache named `nope` (configured: shared)") == true)
        #expect((errors["no-such-lock"] as? String)?.contains("locks 0 to 1") == true)
        #expect((errors["bad-target"] as? String)?.contains("unknown target") == true)
        // The cron entry: raised at the start of the next minute.
        #expect(z.waitUntil(65) { cached(z, "cron") != nil }, "\(z.log())")
        #expect(z.log().contains("raised by cron (-1 -1 -1 -1 -1)"))
        #expect(cached(z, "rb") == "2", "add_rb_timer(25, 1, 2) from two imports: two runs")
    }

    @Test func theCacheIsSharedAndTheLockExcludes() throws {
        let z = try Self.start(["--threads", "2"])
        defer { z.cleanup() }
        let set = try call(z, "/set?colour=teal")
        #expect(set["stored"] as? Bool == true && set["again"] == nil || set["again"] is NSNull, "cache_set does not overwrite: \(set)")
        #expect(set["exists"] as? Bool == true)
        // Every worker reads it (a request may land on any; a `workers` signal runs in each).
        _ = try call(z, "/raise?23")
        #expect(z.waitUntil(5) { cached(z, "colour-read-by-1") == "teal" && cached(z, "colour-read-by-2") == "teal" }, "\(z.log())")
        let del = try call(z, "/del?colour")
        #expect(del["deleted"] as? Bool == true && (del["exists"] == nil || del["exists"] is NSNull))
        // 2 workers × 10 locked read-sleep-write steps on 2 threads each: no update is lost.
        _ = try call(z, "/raise?22")
        #expect(z.waitUntil(15) { cached(z, "counted") == "2" }, "\(z.log())")
        #expect(cached(z, "count") == "20")
    }

    @Test func aLockWhoseHolderIsKilledIsTakenOver() throws {
        let z = try Self.start()
        defer { z.cleanup() }
        // A client holds lock 1 in a worker (it sleeps inside), which is then killed.
        let holder = try FileDescriptor.connect(host: "127.0.0.1", port: z.port)
        defer { holder.close() }
        try holder.writeAll("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
        var holderPid: pid_t = 0
        #expect(z.waitUntil(5) {
            holderPid = pid_t(cached(z, "holder") ?? "") ?? 0
            return holderPid != 0
        })
        #expect(z.workers().contains(holderPid))
        kill(holderPid, SIGKILL)
        let start = Date()
        let r = try call(z, "/lock1")
        #expect(r["locked"] as? Bool == true)
        #expect(Date().timeIntervalSince(start) < 5)
        #expect(z.waitUntil(5) { z.log().contains("uwsgi lock 1: its holder died holding it; taken over") }, "\(z.log())")
    }

}
