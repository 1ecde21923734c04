#if canImport(Glibc)
import Glibc
#endif
import Shared

/// What an orchestrator asks the emperor's status server: `/live` (200 while
/// the emperor's loop answers: a liveness probe) and `/ready` (200 when the
/// builds that take traffic serve: the `_live` build when a `_live` link
/// exists, else every build; 503 naming what is not ready otherwise).
/// Answered from the instances' states alone, without reading their stats.
extension Emperor {
    /// Why the emperor is not ready; nil when it is.
    func notReadyReason() -> String? {
        var builds: [String: (live: Bool, instances: [Instance])] = [:]
        for instance in instances.values {
            let name = instance.build.isEmpty ? FileSystem.baseName(FileSystem.directoryName(instance.name)) : instance.build
            let live = builds[name]?.live ?? markers(BuildView(name: name), config: instance.name).live
            builds[name, default: (live, [])].instances.append(instance)
        }
        guard !builds.isEmpty else { return "no builds" }
        let taking = builds.filter { $0.value.live }
        let checked = taking.isEmpty ? builds : taking
        var problems: [String] = []
        for (name, build) in checked.sorted(by: { $0.key < $1.key }) {
            for instance in build.instances.sorted(by: { $0.name < $1.name }) where !instance.serves {
                let why = instance.lastProblem.map { ": \($0)" } ?? ""
                problems.append("build \(name): \(instance.name) is \(instance.state.rawValue)\(why)")
            }
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }

    func readinessAnswer() -> StatsAnswer {
        if let reason = notReadyReason() {
            return StatsAnswer(status: 503, contentType: "text/plain", body: Array("not ready: \(reason)\n".utf8))
        }
        return StatsAnswer(contentType: "text/plain", body: Array("ready\n".utf8))
    }
}

extension Instance {
    /// Serving clients: ready, or reloading (its old workers serve meanwhile).
    var serves: Bool { state == .ready || state == .reloading }
}
