#if canImport(Glibc)
import Glibc
#endif
import Shared
import ZergCore

/// The zerg's `stats` document: uWSGI's keys, nesting, types and units
/// (`../shared/reference/uwsgi.md` §5), so uwsgitop and exporters read it
/// unchanged; our extra keys come after uWSGI's in each object.
extension Master {
    func statsDocument() -> JSON {
        let queue = backlog
        let now = Host.monotonicNanoseconds()
        let sockets: [JSON] = listeners.isEmpty
            ? settings.zergServers.map { socketJSON(name: $0, proto: "zerg", queue: queue) }
            : boundAddresses.map { socketJSON(name: $0, proto: "http", queue: queue) }
        let workers: [JSON] = (1...settings.workers).map { id in workerJSON(id: id, now: now) }
        return .object(UWSGIStats.header(listenQueue: queue, listenQueueErrors: 0, sockets: sockets, workers: workers) + [
            // ours
            ("build", .string(settings.build)),
        ] + UWSGIStats.binaryKeys(binary) + [
            ("deploy_tag", deployTag().map(JSON.string) ?? .null),
            ("mode", .string(listeners.isEmpty ? "zerg" : "standalone")),
            ("harakiri_count", .number(harakiriCount)),
            // Standalone: requests answered 408 (head deadline) and bodies cut (body deadline).
            ("head_timeouts", .int(scoreboard[.headTimeouts])),
            ("body_timeouts", .int(scoreboard[.bodyTimeouts])),
            ("static_requests", .int(scoreboard[.staticRequests])),
        ] + scoreboard.responseTally().jsonMembers + [
            ("daemons", daemons.json),
            // uWSGI signals: handlers run, timers the master keeps.
            ("signals", .object([("delivered", .number(signalsDelivered)),
                                 ("timers", .array(signalTimers.sorted { $0.key < $1.key }.map { number, t in
                                     .object([("signal", .number(Int(number))), ("seconds", .number(Int(t.seconds))),
                                              ("remaining", t.remaining.map { .number(Int($0)) } ?? .null)])
                                 }))])),
            ("cheaper", settings.cheaper.map { c in
                .object([("algorithm", .string(c.algorithm.rawValue)), ("minimum", .number(c.minimum)),
                         ("maximum", .number(c.maximum)), ("active", .number(settings.workers - cheapedSlots.count)),
                         ("busyness", .number(cheaper?.lastAverage ?? 0))])
            } ?? .null),
            ("paused", .bool(paused)),
            // Why workers do not come up (an app import error, a refused attach), while it lasts.
            ("problem", lastFailure.map(JSON.string) ?? .null),
        ])
    }

    /// The seed's `.DEPLOY_TAG` file, in the build directory (`chdir` or the first `python-path`).
    func deployTag() -> String? {
        for dir in [settings.chdir].compactMap({ $0 }) + settings.pythonPath {
            if let text = try? FileSystem.readText(FileSystem.joined(dir, ".DEPLOY_TAG")) {
                let tag = text.trimmed()
                if !tag.isEmpty { return tag }
            }
        }
        return nil
    }

    func socketJSON(name: String, proto: String, queue: Int) -> JSON {
        .object([("name", .string(name)), ("proto", .string(proto)), ("queue", .number(queue)),
                 ("max_queue", .number(Int(settings.listenBacklog))), ("shared", .number(0)), ("can_offload", .number(0))])
    }

    /// One slot: its serving process (the newest that is not stopping), or a cheaped/empty slot.
    func workerJSON(id: Int, now: UInt64) -> JSON {
        let history = slotHistory[id] ?? SlotHistory()
        let p = processes.values.filter { $0.id == id && $0.state != .stopping }.max { $0.startedNs < $1.startedNs }
        let rows = p?.rows ?? 0..<0
        func field(_ f: Scoreboard.Field) -> Int64 { scoreboard.sum(rows, f) }
        let delta = field(.requests)
        let requests = history.requests + delta
        let busyMicros = history.busyMicros + field(.busyMicros)
        let oldest = scoreboard.oldestRequest(rows)
        let status: String
        if p == nil {
            status = cheapedSlots.contains(id) ? "cheap" : "idle"
        } else if oldest != nil {
            status = "busy"
        } else {
            status = paused ? "pause" : "idle"
        }
        let inRequest = oldest != nil
        /// How long the request started at `start` has run (it may have begun after `now` was read: never negative).
        func running(_ start: UInt64) -> UInt64 { start != 0 && now > start ? now - start : 0 }
        let runningMs = running(oldest?.startNs ?? 0) / 1_000_000
        // uWSGI's cores: one per request thread, each its own scoreboard row.
        let cores: [JSON] = (rows.isEmpty ? 0..<1 : rows).map { row in
            let start = rows.isEmpty ? 0 : UInt64(max(0, scoreboard[row, .requestStart]))
            let startedAgo = Int64(running(start) / 1_000_000_000)
            return .object([
                ("id", .number(rows.isEmpty ? 0 : row - rows.lowerBound)), ("requests", .number(rows.isEmpty ? 0 : scoreboard[row, .requests])),
                ("static_requests", .number(0)), ("routed_requests", .number(0)), ("offloaded_requests", .number(0)),
                ("write_errors", .number(0)), ("read_errors", .number(0)), ("in_request", .number(start != 0 ? 1 : 0)), ("vars", .array([])),
                ("req_info", start != 0 ? .object([("request_start", .int(Timestamp.now().seconds - startedAgo))]) : .object([])),
            ])
        }
        // One entry per app (mounts); requests are counted per worker, not per app: all on app 0.
        let apps: [JSON] = settings.mounts.apps.enumerated().map { i, app in
            .object([
                ("id", .number(i)), ("modifier1", .number(0)), ("mountpoint", .string(app.mountpoint)), ("startup_time", .number(0)),
                ("requests", .number(i == 0 ? requests : 0)), ("exceptions", .number(i == 0 ? history.exceptions + field(.exceptions) : 0)),
                ("chdir", .string(settings.chdir ?? "")),
            ])
        }
        var members: [(String, JSON)] = [
            ("id", .number(id)),
            ("pid", .number(p?.pid ?? 0)),
            ("accepting", .number(p?.state == .ready && !paused ? 1 : 0)),
            ("requests", .number(requests)),
            ("delta_requests", .number(delta)),
            ("exceptions", .number(history.exceptions + field(.exceptions))),
            ("harakiri_count", .number(history.harakiri)),
            ("signals", .number(0)),
            ("signal_queue", .number(0)),
            ("status", .string(status)),
            ("rss", .number(rows.isEmpty ? 0 : scoreboard[rows.lowerBound, .rss])),
            ("vsz", .number(rows.isEmpty ? 0 : scoreboard[rows.lowerBound, .vsz])),
            ("running_time", .number(busyMicros)),
            ("last_spawn", .int(p?.startedEpoch ?? 0)),
            ("respawn_count", .number(history.spawns)),
            ("tx", .number(history.tx + field(.tx))),
            ("avg_rt", .number(requests > 0 ? busyMicros / requests : 0)),
            ("apps", .array(apps)),
            ("cores", .array(cores)),
        ]
        // ours
        members.append(("state", .string(p?.state.rawValue ?? (cheapedSlots.contains(id) ? "cheap" : "down"))))
        members.append(("build", .string(settings.build)))
        if let ms = p?.readyMs { members.append(("ready_ms", .number(ms))) }
        if inRequest {
            members.append(("request", .string(oldest.map { scoreboard.requestText(row: $0.row) } ?? "")))
            members.append(("request_ms", .number(runningMs)))
        }
        members.append(("recycles", .object(history.recycles.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })))
        return .object(members)
    }
}
