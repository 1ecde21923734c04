import Shared

/// What the emperor's status page says about one build.
struct BuildState {
    var vassal: String?     // instance state: starting, ready, ...
    var zerg: String?
    var workersReady = 0
    var workersBusy = 0
    var workers = 0
    var requests: Int64 = 0
    var deployTag: String?
    var problem: String?

    var serving: Bool { vassal == "ready" && zerg == "ready" && workers > 0 && workersReady == workers }

    static func read(_ deploy: Deploy) -> [String: BuildState]? {
        guard let status = deploy.status,
              let r = try? HTTPProbe.get(host: status.host, port: status.port, path: "/status.json", timeoutMs: 3000),
              r.status == 200, let doc = JSON.parse(r.body) else { return nil }
        var out: [String: BuildState] = [:]
        for b in doc["builds"]?.arrayValue ?? [] {
            guard let name = b["name"]?.stringValue else { continue }
            var s = BuildState()
            for i in b["instances"]?.arrayValue ?? [] {
                let state = i["state"]?.stringValue
                let stats = i["stats"]
                switch i["kind"]?.stringValue {
                case "vassal": s.vassal = state
                case "zerg":
                    s.zerg = state
                    s.deployTag = stats?["deploy_tag"]?.stringValue
                    s.problem = stats?["problem"]?.stringValue
                    for w in stats?["workers"]?.arrayValue ?? [] where w["status"]?.stringValue != "cheap" {
                        s.workers += 1
                        if w["accepting"]?.intValue == 1 { s.workersReady += 1 }
                        if w["status"]?.stringValue == "busy" { s.workersBusy += 1 }
                        s.requests += w["requests"]?.intValue ?? 0
                    }
                default: break
                }
            }
            out[name] = s
        }
        return out
    }
}
