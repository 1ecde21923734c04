#if canImport(Glibc)
import Glibc
#endif
import EmperorCore
import Shared

/// SIGUSR2 (nginx's and gunicorn's convention): the emperor re-execs itself
/// from its binary's path, same pid (it may be PID 1 in a container, and every
/// instance stays its child), handing over what it holds: each instance's
/// state, control channel, held listening sockets and timers' deadlines, and
/// the stats and status listeners. Nothing restarts; no client notices. The new
/// binary is first run with `--version`: one that does not start leaves the
/// old image running, with one log line.
extension Emperor {
    static let stateVariable = "HADJANGO_EMPEROR_STATE"

    func upgrade() {
        guard shutdown == nil else {
            Log.info("SIGUSR2: stopping; no upgrade")
            return
        }
        if let problem = binary.checkStarts(program: "emperor") {
            Log.info("SIGUSR2: \(problem); the running emperor (\(binary.versionLine)) goes on")
            return
        }
        let (state, fds) = handoverState()
        Log.info("SIGUSR2: re-exec of \(binary.path) with \(instances.count) instance(s)")
        let error = binary.reexec(arguments, documents: [(Self.stateVariable, Array(state.serialized().utf8))], keeping: fds) { pathError in
            Log.info("\(pathError): re-exec of the running image instead")
        }
        Log.info("SIGUSR2: upgrade failed: \(error); the running emperor goes on")
    }

    /// The state, and the fds it names (to survive the exec).
    func handoverState() -> (JSON, [FileDescriptor]) {
        var fds: [FileDescriptor] = []
        func fd(_ f: FileDescriptor) -> JSON {
            fds.append(f)
            return .number(f.rawValue)
        }
        let list: [JSON] = instances.values.sorted { $0.name < $1.name }.map { i in
            var m: [(String, JSON)] = [
                ("name", .string(i.name)), ("pattern", .string(i.pattern)), ("kind", i.kind.map { .string($0.rawValue) } ?? .null),
                ("state", .string(i.state.rawValue)), ("pid", i.pid.map { .number($0) } ?? .null),
                ("control", i.control.map(fd) ?? .null), ("build", .string(i.build)),
                ("failures", .number(i.backoff.failures)), ("generation", .number(i.generation)),
                ("born", .int(i.born)), ("last_modified", .int(i.lastModified)), ("first_run", .int(i.firstRun)),
                ("last_run", .int(i.lastRun)), ("last_ready", .int(i.lastReady)), ("last_accepting", .int(i.lastAccepting)),
                ("last_loyal", .int(i.lastLoyal)), ("last_heartbeat", .int(i.lastHeartbeat)), ("stopping_since", .int(i.stoppingSince)),
                ("ready", .bool(i.ready)), ("accepting", .bool(i.accepting)), ("loyal", .bool(i.loyal)),
                ("respawns", .number(i.respawns)), ("started_ns", .int(Int64(clamping: i.startedAtNs))),
                ("next_spawn_ns", i.nextSpawnAtNs.map { .int(Int64(clamping: $0)) } ?? .null),
                ("retiring", .bool(i.retiring)), ("restart_after_exit", .bool(i.restartAfterExit)),
                ("adopted", .bool(i.adopted)),
                ("problem", i.lastProblem.map(JSON.string) ?? .null),
                ("listeners", .array(i.heldListeners.map { .object([("address", .string($0.address)), ("fd", fd($0.fd))]) })),
            ]
            if let s = i.stamp {
                m.append(("stamp", .object([("device", .int(Int64(bitPattern: s.device))), ("inode", .int(Int64(bitPattern: s.inode))),
                                            ("size", .int(s.size)), ("seconds", .int(s.modified.seconds)),
                                            ("nanoseconds", .int(s.modified.nanoseconds)),
                                            ("link", s.linkTarget.map(JSON.string) ?? .null)])))
            }
            return .object(m)
        }
        let doc: JSON = .object([
            ("instances", .array(list)),
            ("stats", statsServer.map { fd($0.listener) } ?? .null),
            ("status", statusServer.map { fd($0.listener) } ?? .null),
            ("activated", .array(activated.map { .object([("name", .string($0.name)), ("fd", fd($0.fd))]) })),
            ("record", record.handover),
        ])
        return (doc, fds)
    }

    /// The state a previous image handed over, read and cleared from the environment.
    static func takeState() -> JSON? {
        guard let bytes = SharedMemory.takeAnonymousFile(named: stateVariable, from: Host.environment()) else { return nil }
        return JSON.parse(String(decoding: bytes, as: UTF8.self))
    }

    /// Takes over the instances of the image this one replaced.
    func restore(_ state: JSON) {
        if let r = state["record"] { record.restore(r) }
        recordEvent(.emperorUpgraded, nil, build: "", cause: "SIGUSR2: now \(binary.versionLine)")
        func fd(_ value: JSON?) -> FileDescriptor? {
            value?.intValue.flatMap { try? FileDescriptor.inherited(Int32($0), what: "emperor state") }
        }
        for item in state["activated"]?.arrayValue ?? [] {
            if let f = fd(item["fd"]), let address = f.boundAddress() { activated.append((address, item["name"]?.stringValue ?? "?", f)) }
        }
        let now = Host.monotonicNanoseconds()
        var ended: [pid_t] = []
        for item in state["instances"]?.arrayValue ?? [] {
            guard let name = item["name"]?.stringValue, let pattern = item["pattern"]?.stringValue,
                  let stateText = item["state"]?.stringValue, let st = InstanceState(rawValue: stateText) else { continue }
            let i = Instance(name: name, pattern: pattern, backoff: settings.backoff)
            i.kind = item["kind"]?.stringValue.flatMap(InstanceKind.init(rawValue:))
            i.state = st
            i.pid = item["pid"]?.intValue.map { pid_t($0) }
            i.build = item["build"]?.stringValue ?? ""
            i.generation = Int(item["generation"]?.intValue ?? 0)
            for _ in 0..<Int(item["failures"]?.intValue ?? 0) { _ = i.backoff.nextDelayMs(ranNs: 0) }
            func int(_ key: String) -> Int64 { item[key]?.intValue ?? 0 }
            func bool(_ key: String) -> Bool { if case .bool(let b)? = item[key] { return b } else { return false } }
            i.born = int("born"); i.lastModified = int("last_modified"); i.firstRun = int("first_run"); i.lastRun = int("last_run")
            i.lastReady = int("last_ready"); i.lastAccepting = int("last_accepting"); i.lastLoyal = int("last_loyal")
            i.lastHeartbeat = int("last_heartbeat"); i.stoppingSince = int("stopping_since")
            i.ready = bool("ready"); i.accepting = bool("accepting"); i.loyal = bool("loyal")
            i.respawns = Int(int("respawns")); i.startedAtNs = UInt64(clamping: int("started_ns"))
            i.retiring = bool("retiring"); i.restartAfterExit = bool("restart_after_exit")
            i.lastProblem = item["problem"]?.stringValue
            if let s = item["stamp"] {
                i.stamp = ConfigStamp(device: UInt64(bitPattern: s["device"]?.intValue ?? 0), inode: UInt64(bitPattern: s["inode"]?.intValue ?? 0),
                                      size: s["size"]?.intValue ?? 0,
                                      modified: Timestamp(seconds: s["seconds"]?.intValue ?? 0, nanoseconds: s["nanoseconds"]?.intValue ?? 0),
                                      linkTarget: s["link"]?.stringValue)
            }
            i.heldListeners = (item["listeners"]?.arrayValue ?? []).compactMap { l in
                guard let address = l["address"]?.stringValue, let f = fd(l["fd"]) else { return nil }
                return (address, f)
            }
            if let control = fd(item["control"]) {
                i.control = control
                i.controlToken = try? sources.add(control, .control(name))
            }
            // An adopted instance is not this process's child: its end is watched through a pidfd again.
            if bool("adopted"), let pid = i.pid {
                i.adopted = true
                if let pidfd = try? ChildProcess.pidfd(pid) {
                    i.pidfd = pidfd
                    i.pidfdToken = try? sources.add(pidfd, .adoptedExit(name))
                } else {
                    ended.append(pid)  // gone during the exec
                }
            }
            instances[name] = i
            // The deadlines the previous image had armed.
            switch st {
            case .throttled:
                let at = UInt64(clamping: item["next_spawn_ns"]?.intValue ?? 0)
                i.nextSpawnAtNs = at
                timers.schedule(afterMs: at > now ? Int((at - now) / 1_000_000) : 0, .respawn(name: name, generation: i.generation))
            case .stopping:
                if let pid = i.pid {
                    let left = Int64(settings.reloadMercySeconds) - (Timestamp.now().seconds - i.stoppingSince)
                    timers.schedule(afterMs: Int(max(0, left)) * 1000, .kill(name: name, pid: pid, mercy: settings.reloadMercySeconds))
                }
            default:
                break
            }
        }
        // Instances that ended during the exec: their SIGCHLD is pending and reaps them now.
        for (pid, status) in ChildProcess.reapAll() { childExited(pid: pid, status: status) }
        for pid in ended { childExited(pid: pid, status: .unknown) }
        Log.info("upgraded in place: \(instances.count) instance(s) taken over (\(binary.versionLine))")
    }
}
