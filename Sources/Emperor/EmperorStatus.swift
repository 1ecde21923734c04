#if canImport(Glibc)
import Glibc
#endif
import Shared

/// The emperor's `status` page: every instance's stats merged per build
/// (`/status.json`), Prometheus text (`/metrics`), a dashboard (`/`), and
/// the probes `/ready` and `/live` (`EmperorReadiness`).
/// Instances' stats sockets are read on request, 250 ms at most each.
extension Emperor {
    func statusAnswer(path: String, query: [String: String] = [:]) -> StatsAnswer {
        switch path {
        case "/status.json": return .json(statusDocument())
        case "/history.json": return .json(historyDocument(query: query))
        case "/events.json": return .json(eventsDocument(query: query))
        case "/metrics": return StatsAnswer(contentType: "text/plain; version=0.0.4", body: Array(metricsText().utf8))
        case "/", "/index.html": return StatsAnswer(contentType: "text/html; charset=utf-8", body: Array(DashboardPage.html.utf8))
        case "/ready": return readinessAnswer()
        case "/live": return StatsAnswer(contentType: "text/plain", body: Array("alive\n".utf8))
        default: return StatsAnswer(status: 404, contentType: "text/plain", body: Array("not found: \(path)\n".utf8))
        }
    }

    struct BuildView {
        let name: String
        var live = false, stage = false
        var instances: [(Instance, JSON?)] = []
    }

    /// Builds in name order, each with its instances and their stats documents.
    func buildViews() -> [BuildView] {
        var views: [String: BuildView] = [:]
        for instance in instances.values.sorted(by: { $0.name < $1.name }) {
            let build = buildName(of: instance)
            var view = views[build] ?? markers(BuildView(name: build), config: instance.name)
            let stats = instance.pid != nil ? instance.statsAddress.flatMap { StatsClient.fetch(resolve($0)) }.map(Self.withMemory) : nil
            view.instances.append((instance, stats))
            views[build] = view
        }
        return views.values.sorted { $0.name < $1.name }
    }

    /// Workers' RSS read from /proc where the zerg did not sample it (it does
    /// only with memory-report or reload-on-rss): the dashboard shows every worker's.
    static func withMemory(_ stats: JSON) -> JSON {
        guard case .object(var members) = stats, let i = members.firstIndex(where: { $0.0 == "workers" }),
              case .array(let workers) = members[i].1 else { return stats }
        members[i].1 = .array(workers.map { w in
            guard case .object(var m) = w, (w["rss"]?.intValue ?? 0) == 0, let pid = w["pid"]?.intValue, pid > 0,
                  let rss = ChildProcess.memory(pid_t(pid))?.rss, let j = m.firstIndex(where: { $0.0 == "rss" }) else { return w }
            m[j].1 = .int(rss)
            return .object(m)
        })
        return .object(members)
    }

    /// A relative unix stats path is relative to the emperor's directory (where instances start).
    func resolve(_ address: ListenAddress) -> ListenAddress {
        if case .unix(let path) = address, !path.hasPrefix("/") { return .unix(absolute(path)) }
        return address
    }

    /// `_live` / `_stage` links next to the build directories (or one level up) that point at this build.
    func markers(_ view: BuildView, config: String) -> BuildView {
        var v = view
        let buildDir = FileSystem.directoryName(absolute(config))
        let buildsDir = FileSystem.directoryName(buildDir)
        for dir in [buildsDir, FileSystem.directoryName(buildsDir)] {
            for (link, isLive) in [("_live", true), ("_stage", false)] {
                guard FileSystem.symlinkTargetName(dir + "/" + link) == FileSystem.baseName(buildDir) else { continue }
                if isLive { v.live = true } else { v.stage = true }
            }
        }
        return v
    }

    func statusDocument() -> JSON {
        let builds: [JSON] = buildViews().map { view in
            .object([
                ("name", .string(view.name)),
                ("live", .bool(view.live)),
                ("stage", .bool(view.stage)),
                ("instances", .array(view.instances.map { instance, stats in
                    .object([
                        ("config", .string(instance.name)),
                        ("kind", instance.kind.map { .string($0.rawValue) } ?? .null),
                        ("state", .string(instance.state.rawValue)),
                        ("pid", .number(instance.pid ?? 0)),
                        ("ready", .bool(instance.ready)),
                        ("respawns", .number(instance.respawns)),
                        // Why it is not running (a config error), while it lasts.
                        ("problem", instance.lastProblem.map(JSON.string) ?? .null),
                        ("stats", stats ?? .null),
                    ])
                })),
            ])
        }
        return .object([
            ("version", .string(Version.string)),
            ("emperor_pid", .number(getpid())),
            ("emperor_build_id", .string(OwnBinary.runningBuildID())),
            ("hostname", .string(Host.hostname())),
            ("now", .int(Timestamp.now().seconds)),
            ("builds", .array(builds)),
        ])
    }

    /// Prometheus text exposition format (0.0.4).
    func metricsText() -> String {
        var families: [String: (help: String, type: String, samples: [String])] = [:]
        var order: [String] = []
        var samplesRaw: [String: [String]] = [:]  // _count/_sum lines of a histogram family, by family
        func add(_ name: String, _ help: String, _ type: String, _ labels: [(String, String)], _ value: Int64) {
            if families[name] == nil {
                families[name] = (help, type, [])
                order.append(name)
            }
            let l = labels.map { "\($0.0)=\"\(Self.labelEscape($0.1))\"" }.joined(separator: ",")
            families[name]!.samples.append("\(name){\(l)} \(value)")
        }
        /// A histogram of one build: `buckets` (upper bound in seconds, or "+Inf"; count, not cumulative), and the sum in seconds.
        func histogram(_ family: String, _ help: String, build: String, _ buckets: [(le: String, count: Int64)], sumSeconds: Double) {
            guard !buckets.isEmpty else { return }
            var cumulative: Int64 = 0
            for b in buckets {
                cumulative += b.count
                add(family + "_bucket", help, "histogram", [("build", build), ("le", b.le)], cumulative)
            }
            let label = "{build=\"\(Self.labelEscape(build))\"}"
            samplesRaw[family, default: []] += ["\(family)_count\(label) \(cumulative)", "\(family)_sum\(label) \(sumSeconds)"]
        }
        for view in buildViews() {
            add("hadjango_build_live", "1 when the _live link points at this build", "gauge", [("build", view.name)], view.live ? 1 : 0)
            for (instance, stats) in view.instances {
                let kind = instance.kind?.rawValue ?? "none"
                let base = [("build", view.name), ("kind", kind)]
                add("hadjango_instance_up", "1 when the instance reported ready", "gauge", base, instance.ready ? 1 : 0)
                add("hadjango_instance_respawns_total", "Times the emperor started the instance again", "counter", base, Int64(instance.respawns))
                guard let stats else { continue }
                if kind == "vassal" {
                    add("hadjango_queue_depth", "Requests waiting in the vassal for a worker", "gauge", [("build", view.name)], stats["listen_queue"]?.intValue ?? 0)
                    add("hadjango_queue_max_wait_milliseconds", "Longest wait of a request in the vassal's queue", "gauge", [("build", view.name)],
                        stats["queue"]?["max_wait_ms"]?.intValue ?? 0)
                    add("hadjango_connections_parked", "Idle keep-alive connections held by the vassal", "gauge", [("build", view.name)],
                        stats["parked_connections"]?.intValue ?? 0)
                    for event in ["accepted", "dispatched", "handed_back", "refused_heads", "lost_in_workers", "retried", "bad_gateway"] {
                        add("hadjango_handoff_total", "Vassal connection events", "counter", [("build", view.name), ("event", event)],
                            stats["handoff"]?[event]?.intValue ?? 0)
                    }
                    // The dispatch wait.
                    histogram("hadjango_queue_wait_seconds", "Time requests waited in the vassal for a worker", build: view.name,
                              (stats["queue"]?["wait_histogram_ms"]?.arrayValue ?? []).map { b in
                                  (b["le"]?.intValue.map { Self.seconds(ms: $0) } ?? "+Inf", b["count"]?.intValue ?? 0)
                              },
                              sumSeconds: Double(stats["queue"]?["wait_sum_us"]?.intValue ?? 0) / 1e6)
                    add("hadjango_queue_timeouts_total", "Requests answered 503 by the vassal", "counter", [("build", view.name)],
                        stats["listen_queue_errors"]?.intValue ?? 0)
                    continue
                }
                add("hadjango_static_requests_total", "Static files served by the zerg's workers", "counter", [("build", view.name)],
                    stats["static_requests"]?.intValue ?? 0)
                if let tally = ResponseTally(stats: stats) {
                    for (name, n) in zip(ResponseTally.classNames, tally.classes) {
                        add("hadjango_responses_total", "Responses sent by the zerg's workers, by status class", "counter",
                            [("build", view.name), ("class", name)], n)
                    }
                    // The response time.
                    histogram("hadjango_request_duration_seconds", "Time the zerg's workers took per response", build: view.name,
                              tally.buckets.enumerated().map { i, n in
                                  (i < ResponseTally.boundsMicros.count ? "\(Double(ResponseTally.boundsMicros[i]) / 1e6)" : "+Inf", n)
                              },
                              sumSeconds: Double(tally.sumMicros) / 1e6)
                }
                for d in stats["daemons"]?.arrayValue ?? [] {
                    let labels = [("build", view.name), ("cmd", d["cmd"]?.stringValue ?? "")]
                    add("hadjango_daemon_up", "1 while the attached daemon runs", "gauge", labels, (d["pid"]?.intValue ?? 0) > 0 ? 1 : 0)
                    add("hadjango_daemon_respawns_total", "Times the attached daemon was started again", "counter", labels, d["respawns"]?.intValue ?? 0)
                }
                for w in stats["workers"]?.arrayValue ?? [] {
                    let labels = [("build", view.name), ("worker", String(w["id"]?.intValue ?? 0))]
                    add("hadjango_worker_requests_total", "Requests served by the worker slot", "counter", labels, w["requests"]?.intValue ?? 0)
                    add("hadjango_worker_exceptions_total", "App exceptions in the worker slot", "counter", labels, w["exceptions"]?.intValue ?? 0)
                    add("hadjango_worker_busy", "1 while the worker runs a request", "gauge", labels, w["status"]?.stringValue == "busy" ? 1 : 0)
                    add("hadjango_worker_running", "1 when the slot has a process (0 when cheaped)", "gauge", labels, (w["pid"]?.intValue ?? 0) > 0 ? 1 : 0)
                    add("hadjango_worker_rss_bytes", "Resident memory (sampled with memory-report or reload-on-rss)", "gauge", labels, w["rss"]?.intValue ?? 0)
                    add("hadjango_worker_harakiri_total", "Harakiri kills", "counter", labels, w["harakiri_count"]?.intValue ?? 0)
                    add("hadjango_worker_respawns_total", "Processes the slot has had", "counter", labels, w["respawn_count"]?.intValue ?? 0)
                    add("hadjango_worker_running_time_microseconds_total", "Time spent in requests", "counter", labels, w["running_time"]?.intValue ?? 0)
                    if case .object(let causes)? = w["recycles"] {
                        for (cause, n) in causes {
                            add("hadjango_worker_recycles_total", "Worker replacements by cause", "counter", labels + [("cause", cause)], n.intValue ?? 0)
                        }
                    }
                }
            }
        }
        var out = ""
        for name in order {
            let f = families[name]!
            let family = name.hasSuffix("_bucket") ? String(name.dropLast("_bucket".count)) : name
            out += "# HELP \(family) \(f.help)\n# TYPE \(family) \(f.type)\n"
            for s in f.samples { out += s + "\n" }
            for s in samplesRaw[family] ?? [] where family != name { out += s + "\n" }
        }
        return out
    }

    static func seconds(ms: Int64) -> String {
        ms % 1000 == 0 ? "\(ms / 1000).0" : "\(Double(ms) / 1000)"
    }

    static func labelEscape(_ s: String) -> String {
        s.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"").replacingAll("\n", with: "\\n")
    }
}
