#if canImport(Glibc)
import Glibc
#endif
import Shared

/// Every seed task as a command; none of them sleeps "for the emperor to poll":
/// each waits for what it needs (a build serving, nginx routing) with a deadline.
struct Commands {
    let deploy: Deploy
    var timeoutSeconds = 60

    func say(_ text: String) { print(text) }

    func findFreeBuild() -> String {
        BuildName.sequence(count: 26 * 27).first { !deploy.exists($0) && !FileSystem.exists(deploy.dir($0)) } ?? ""
    }

    /// Lays out builds/NAME from SRC: copy, hook, nginx snippets, shared media, deploy tag, vassal.ini.
    func create(_ name: String, from source: String, hook: String?) throws {
        let port = try deploy.port(name)
        let dir = deploy.dir(name)
        guard !FileSystem.exists(dir) else { throw Problem("build \(name) already exists (\(dir)); `hactl rm \(name)` first") }
        guard FileSystem.isDirectory(source) else { throw Problem("--from \(source): not a directory") }
        try FileSystem.makeDirectories(dir)
        say("[1/4] copying \(source) → \(dir)")
        guard try Run.run(["/bin/cp", "-a", FileSystem.absolute(source) + "/.", dir], cwd: deploy.root).isSuccess else {
            throw Problem("copying \(source) to \(dir) failed")
        }
        if let hook {
            say("[2/4] build hook: \(hook)")
            let status = try Run.shell(hook, cwd: dir, env: ["BUILD": name, "BUILD_DIR": dir, "PORT": String(port)])
            guard status.isSuccess else { throw Problem("the build hook `\(hook)` \(status); build \(name) left in \(dir) to inspect") }
        } else {
            say("[2/4] no build hook")
        }
        say("[3/4] nginx snippets, shared media, deploy tag")
        try FileSystem.writeFile(dir + "/live.conf", "upstream web { server 127.0.0.1:\(port); }\n")
        try FileSystem.writeFile(dir + "/stage.conf", "upstream webstage { server 127.0.0.1:\(port); }\n")
        // Uploaded media are shared by every build; static files are per build, served from the shared tree.
        try FileSystem.makeDirectories(deploy.root + "/assets/media")
        try FileSystem.makeDirectories(deploy.root + "/assets/static")
        if !FileSystem.exists(dir + "/media") { try? FileSystem.symlink("../../assets/media", at: dir + "/media") }
        if FileSystem.isDirectory(dir + "/static"), !FileSystem.exists(deploy.root + "/assets/static/" + name) {
            try? FileSystem.symlink("../../builds/\(name)/static", at: deploy.root + "/assets/static/" + name)
        }
        var t = time_t(Timestamp.now().seconds)
        var parts = tm()
        localtime_r(&t, &parts)
        let tag = "\(name)-\(parts.tm_year + 1900)\(pad(parts.tm_mon + 1))\(pad(parts.tm_mday))-\(pad(parts.tm_hour))\(pad(parts.tm_min))\(pad(parts.tm_sec))"
        try FileSystem.writeFile(dir + "/.DEPLOY_TAG", tag + "\n")
        say("[4/4] vassal.ini → ../../conf/vassal.skel")
        FileSystem.unlink(dir + "/vassal.ini")
        try FileSystem.symlink("../../conf/vassal.skel", at: dir + "/vassal.ini")
        say("build \(name) created: port \(port), deploy tag \(tag)")
    }

    func pad(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }

    /// Links zerg.ini (and vassal.ini if missing), then waits until the build serves.
    func activate(_ name: String) throws {
        let dir = deploy.dir(name)
        guard deploy.exists(name) else { throw Problem("no build \(name) in \(deploy.builds)") }
        if !FileSystem.exists(dir + "/vassal.ini") { try? FileSystem.symlink("../../conf/vassal.skel", at: dir + "/vassal.ini") }
        if FileSystem.symlinkTarget(dir + "/zerg.ini") == nil {
            try FileSystem.symlink("../../conf/zerg.skel", at: dir + "/zerg.ini")
        }
        try waitServing(name)
    }

    /// Until every worker of the build is ready (and warmed) and its port answers.
    func waitServing(_ name: String) throws {
        let port = try deploy.port(name)
        guard deploy.status != nil else { throw Problem("no status page to read readiness from: give --status host:port (the emperor's `status`)") }
        let start = Host.monotonicNanoseconds()
        var last = BuildState()
        while Host.monotonicNanoseconds() - start < UInt64(timeoutSeconds) * 1_000_000_000 {
            if let state = BuildState.read(deploy)?[name] {
                last = state
                if state.serving, let r = try? HTTPProbe.get(port: port, path: "/", timeoutMs: 5000), r.status < 500 {
                    say("build \(name) serves on :\(port): \(state.workers) worker(s) ready (\((Host.monotonicNanoseconds() - start) / 1_000_000) ms)")
                    return
                }
            }
            usleep(50_000)  // polling interval of a readiness check with a deadline
        }
        var why = "vassal \(last.vassal ?? "not started"), zerg \(last.zerg ?? "not started"), \(last.workersReady)/\(last.workers) workers ready"
        if let problem = last.problem { why += "; \(problem)" }
        // The seed's layout keeps each build's logs in deploy/logs: their last complaint says why.
        for log in ["vassal.\(name).log", "zerg.\(name).log"] {
            guard let text = try? FileSystem.readText(deploy.root + "/logs/" + log) else { continue }
            if let line = text.split(separator: "\n").last(where: { $0.contains("cannot") || $0.contains("error") || $0.contains("failed") }) {
                why += "\n  \(log): \(line)"
            }
        }
        throw Problem("build \(name) is not serving after \(timeoutSeconds) s: \(why)")
    }

    /// N requests, C at a time, to PATH on the build's own port: status and ms each.
    func warmup(_ name: String, paths: [String], requests: Int, concurrency: Int) throws {
        let port = try deploy.port(name)
        let all = (0..<requests).map { paths[$0 % paths.count] }
        var results: [(String, Int, Double)] = []
        // `concurrency` requests in flight at a time, each on its own connection, driven by poll(2).
        var next = 0
        while next < all.count {
            let batch = Array(all[next..<min(all.count, next + concurrency)])
            next += batch.count
            results += WarmupBatch.run(port: port, paths: batch)
        }
        for (path, status, ms) in results { say("\(status == 0 ? "ERR" : String(status)) \(path) \(String(format1: ms)) ms") }
        let bad = results.filter { !(200..<400).contains($0.1) }.count
        say("warm-up of \(name): \(results.count) requests, \(bad) not 2xx/3xx")
        if bad > 0 { throw Problem("\(bad) warm-up request(s) failed") }
    }

    func stage(_ name: String, warmPaths: [String]) throws {
        try activate(name)
        try warmup(name, paths: warmPaths, requests: 10, concurrency: 4)
        try deploy.point("_stage", at: name, by: "hactl stage \(name)")
        try deploy.reloadNginx(by: "hactl stage \(name)")
        say("stage → \(name)")
    }

    /// `_live` → NAME (default: the stage build), `_stage` → the previous live one; nginx reloaded and checked.
    func swapLive(_ wanted: String?) throws {
        guard let newLive = wanted ?? deploy.stage else { throw Problem("no build given and no _stage link") }
        guard deploy.exists(newLive) else { throw Problem("no build \(newLive)") }
        let oldLive = deploy.live
        guard oldLive != newLive else { throw Problem("\(newLive) is already live") }
        if let state = BuildState.read(deploy)?[newLive], !state.serving {
            throw Problem("\(newLive) is not serving (zerg \(state.zerg ?? "not started")); `hactl activate \(newLive)` first")
        }
        let by = "hactl swap-live" + (wanted.map { " \($0)" } ?? "")
        try deploy.point("_live", at: newLive, by: by)
        if let oldLive { try deploy.point("_stage", at: oldLive, by: by) }
        try deploy.reloadNginx(by: by)
        if let live = deploy.liveURL {
            // nginx answers with X-Upstream (the shipped server block adds it): wait for the new port.
            let port = try deploy.port(newLive)
            let start = Host.monotonicNanoseconds()
            var inARow = 0
            while true {
                // Five answers in a row from the new port: old nginx workers may still take a connection or two.
                if let r = try? HTTPProbe.get(host: live.host, port: live.port, path: "/", timeoutMs: 5000),
                   r.headers["x-upstream"]?.hasSuffix(":\(port)") == true {
                    inARow += 1
                    if inARow >= 5 { break }
                    continue
                }
                inARow = 0
                guard Host.monotonicNanoseconds() - start < 20_000_000_000 else {
                    throw Problem("nginx at \(live.host):\(live.port) does not route to :\(port) 20 s after the reload")
                }
                usleep(20_000)
            }
        }
        say("live → \(newLive)" + (oldLive.map { ", stage → \($0) (still warm: `hactl swap-live` rolls back)" } ?? ""))
    }

    func deactivate(_ name: String) throws {
        guard deploy.exists(name) else { throw Problem("no build \(name)") }
        FileSystem.unlink(deploy.dir(name) + "/zerg.ini")
        say("build \(name): zerg.ini removed (its workers drain and stop)")
    }

    func stop(_ name: String) throws {
        try deactivate(name)
        FileSystem.unlink(deploy.dir(name) + "/vassal.ini")
        say("build \(name): vassal.ini removed (its port closes)")
    }

    func rm(_ name: String) throws {
        if deploy.live == name { throw Problem("\(name) is the live build; swap another one live first") }
        if deploy.stage == name { throw Problem("\(name) is the stage build; stage another one first") }
        try stop(name)
        let status = try Run.run(["/bin/rm", "-rf", deploy.dir(name)], cwd: deploy.root)
        guard status.isSuccess else { throw Problem("rm -rf \(deploy.dir(name)) \(status)") }
        say("build \(name) removed")
    }

    /// Files equal (size, mtime) to the basis build's become hard links to them.
    func makeIncremental(_ name: String, basis: String) throws {
        guard deploy.exists(name), deploy.exists(basis) else { throw Problem("both builds must exist") }
        var linked = 0
        func walk(_ rel: String) throws {
            for entry in try FileSystem.list(deploy.dir(name) + rel) {
                let path = rel + "/" + entry
                let mine = try FileSystem.status(deploy.dir(name) + path, followSymlinks: false)
                if mine.isDirectory { try walk(path); continue }
                guard mine.isRegularFile, let theirs = try? FileSystem.status(deploy.dir(basis) + path, followSymlinks: false),
                      theirs.isRegularFile, theirs.size == mine.size, theirs.inode != mine.inode,
                      (try? FileSystem.readFile(deploy.dir(name) + path, limit: 1 << 30)) == (try? FileSystem.readFile(deploy.dir(basis) + path, limit: 1 << 30))
                else { continue }
                let tmp = deploy.dir(name) + path + ".hactl-link"
                do {
                    try FileSystem.hardLink(deploy.dir(basis) + path, at: tmp)
                    try FileSystem.rename(tmp, to: deploy.dir(name) + path)
                } catch {
                    FileSystem.unlink(tmp)
                    continue
                }
                linked += 1
            }
        }
        try walk("")
        say("build \(name): \(linked) file(s) hard-linked to \(basis)")
    }

    func statusTable() {
        let states = BuildState.read(deploy)
        say("build  port   live/stage  vassal     zerg       workers      deploy tag                requests")
        for name in deploy.names() {
            let port = (try? deploy.port(name)).map(String.init) ?? "-"
            let marks = [deploy.live == name ? "live" : nil, deploy.stage == name ? "stage" : nil].compactMap { $0 }.joined(separator: ",")
            let s = states?[name] ?? BuildState()
            let workers = s.workers > 0 ? "\(s.workersReady)/\(s.workers) (\(s.workersBusy) busy)" : "-"
            let row = [name.padded(6), port.padded(6), (marks.isEmpty ? "-" : marks).padded(11), (s.vassal ?? "-").padded(10),
                       (s.zerg ?? "-").padded(10), workers.padded(12), (s.deployTag ?? "-").padded(25), String(s.requests)]
            say(row.joined(separator: " "))
            if let problem = s.problem { say("       problem: \(problem)") }
        }
        if states == nil { say("(no emperor status page at \(deploy.status.map { "\($0.host):\($0.port)" } ?? "-"): states unknown)") }
    }
}

extension String {
    func padded(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
    init(format1 v: Double) {
        let tenths = Int((v * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}
