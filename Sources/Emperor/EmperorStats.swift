#if canImport(Glibc)
import Glibc
#endif
import Shared

extension Emperor {
    /// uWSGI's `emperor-stats` document (same keys, types and units: epoch
    /// seconds, -1 for no pid), plus ours after them: `state`, `kind`, `config`
    /// (the absolute path), `next_spawn_in_ms`, `last_exit`, `problem`.
    func statsDocument() -> JSON {
        let now = Host.monotonicNanoseconds()
        let vassals: [JSON] = instances.values.sorted { $0.name < $1.name }.map { v in
            var members: [(String, JSON)] = [
                ("id", .string(v.name)),
                ("pid", .number(v.pid ?? -1)),
                ("born", .int(v.born)),
                ("last_mod", .int(v.lastModified)),
                ("last_heartbeat", .int(v.lastHeartbeat)),
                ("loyal", .number(v.loyal ? 1 : 0)),
                ("ready", .number(v.ready ? 1 : 0)),
                ("accepting", .number(v.accepting ? 1 : 0)),
                ("last_loyal", .int(v.lastLoyal)),
                ("last_ready", .int(v.lastReady)),
                ("last_accepting", .int(v.lastAccepting)),
                ("first_run", .int(v.firstRun)),
                ("last_run", .int(v.lastRun)),
                ("cursed", .int(v.state == .stopping ? v.stoppingSince : 0)),
                ("zerg", .number(v.kind == .zerg ? 1 : 0)),
                ("on_demand", .string("")),
                ("uid", .number(getuid())),
                ("gid", .number(getgid())),
                ("monitor", .string(v.pattern)),
                ("respawns", .number(v.respawns)),
                ("state", .string(v.state.rawValue)),
                ("kind", v.kind.map { .string($0.rawValue) } ?? .null),
                ("config", .string(absolute(v.name))),
            ]
            if let at = v.nextSpawnAtNs, v.state == .throttled {
                members.append(("next_spawn_in_ms", .number(at > now ? (at - now) / 1_000_000 : 0)))
            }
            if let exit = v.lastExit { members.append(("last_exit", .string(exit.description))) }
            if let problem = v.lastProblem { members.append(("problem", .string(problem))) }
            return .object(members)
        }
        return .object([
            ("version", .string(Version.string)),
            ("pid", .number(getpid())),
            ("uid", .number(getuid())),
            ("gid", .number(getgid())),
            ("cwd", .string(launcher.workingDirectory)),
            ("emperor", .array(settings.patterns.map { .string($0) })),
            ("emperor_tyrant", .int(0)),
            ("throttle_level", .int(0)),
            ("vassals", .array(vassals)),
            ("blacklist", .array([])),
        ])
    }
}
