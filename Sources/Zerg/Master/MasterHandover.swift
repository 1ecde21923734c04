#if canImport(Glibc)
import Glibc
#endif
import Shared
import ZergCore

/// A reload after the binary was replaced (an upgrade): the master re-execs
/// itself from the binary's path, same pid, so it runs the new code too. It
/// hands over its listeners, the scoreboard, the ready pool, its workers (still
/// its children: pid, slot, row, control channel) and the stats listener; the
/// new image loads the configuration and rolls every worker onto the new binary.
/// Nothing is refused meanwhile: the workers go on serving through the exec.
extension Master {
    static let stateVariable = "HADJANGO_MASTER_STATE"
    /// The configuration loaded by the reload that re-exec'd (a `configure` frame in a memfd).
    static let configVariable = "HADJANGO_MASTER_CONFIG"

    /// The configuration the image this one replaced loaded, if it left it.
    static func takeConfiguration(_ environment: [String: String]) -> Configuration? {
        guard let bytes = SharedMemory.takeAnonymousFile(named: configVariable, from: environment) else { return nil }
        var decoder = ControlDecoder<MasterOrder>()
        decoder.append(bytes)
        guard case .configure(let entries)? = try? decoder.next() else { return nil }
        return Configuration(entries: entries, warnings: [])
    }

    /// Re-execs when the binary at the path is not the running one; returns
    /// only when it did not (not replaced, or the exec failed).
    func reexecIfUpgraded() {
        guard binary.isReplaced else { return }
        if let problem = binary.checkStarts(program: "zerg") {
            noteBinary(nil)
            Log.info("\(problem): the master stays on the running image; workers start from it too until the file is fixed")
            return
        }
        var fds: [FileDescriptor] = listeners + (router?.listeners.map(\.fd) ?? []) + [scoreboard.memory.fd, sharedArea.memory.fd]
        if let pool = readyPool { fds += [pool.sender, pool.receiver] }
        if let stats { fds.append(stats.listener) }
        if let logPipe { fds += [logPipe.reader, logPipe.writer] }
        let workers: [JSON] = processes.values.sorted { $0.pid < $1.pid }.map { p in
            fds.append(p.control.fd)
            return .object([("id", .number(p.id)), ("pid", .number(p.pid)), ("row", .number(p.row)), ("cores", .number(p.rows.count)), ("control", .number(p.control.fd.rawValue)),
                            ("state", .string(p.state.rawValue)), ("ready_ms", p.readyMs.map { .number($0) } ?? .null),
                            ("signals", Self.signalList(p))])
        }
        let logPipeState: JSON = logPipe.map { .array([.number($0.reader.rawValue), .number($0.writer.rawValue)]) } ?? .null
        let state: JSON = .object([
            ("listeners", .array((Array(zip(settings.sockets.map(\.address), listeners)) + (router?.listeners ?? [])).map {
                .object([("address", .string($0.description)), ("fd", .number($1.rawValue))])
            })),
            // Daemons and the router's vassal are this process's children still after the exec.
            ("daemons", .array(daemons.running.map { .object([("cmd", .string($0.command)), ("pid", .number(Int($0.pid)))]) })),
            ("router", router.map { r in .object([("dir", .string(r.directory)), ("pid", r.pid.map { .number($0) } ?? .null)]) } ?? .null),
            ("scoreboard", .number(scoreboard.memory.fd.rawValue)), ("rows", .number(scoreboard.rows)),
            ("shared_area", .number(sharedArea.memory.fd.rawValue)),
            ("log_pipe", logPipeState),
            ("signals", signalState),
            ("pool", readyPool.map { .array([.number($0.sender.rawValue), .number($0.receiver.rawValue)]) } ?? .null),
            ("stats", stats.map { .number($0.listener.rawValue) } ?? .null),
            ("paused", .bool(paused)),
            ("workers", .array(workers)),
        ])
        fds += emperor?.prepareForExec() ?? []
        Log.info("the binary at \(binary.path) was replaced: re-exec of the master, \(processes.count) worker(s) kept")
        // The configuration this reload just loaded goes along: the new image does not load it again.
        let error = binary.reexec(arguments, documents: [(Self.stateVariable, Array(state.serialized().utf8)),
                                                         (Self.configVariable, ControlFrame.encode(MasterOrder.configure(configuration.entries)))],
                                  keeping: fds) { pathError in Log.info("\(pathError): re-exec of the running image instead") }
        Log.info("re-exec failed: \(error); the master goes on as it is")
    }

    /// What the image this one replaced handed over, read and cleared from the environment.
    static func takeState(_ environment: [String: String]) -> JSON? {
        guard let bytes = SharedMemory.takeAnonymousFile(named: stateVariable, from: environment) else { return nil }
        return JSON.parse(String(decoding: bytes, as: UTF8.self))
    }

    /// The locks and caches the previous image created, when this configuration
    /// lays them out the same (else a new area: the cache starts empty).
    static func inheritedArea(_ state: JSON?, _ settings: ZergSettings) -> SharedArea? {
        guard let fd = inherited(state?["shared_area"]) else { return nil }
        guard let area = try? SharedArea.attach(fd: fd), area.matches(locks: settings.locks, caches: settings.caches) else {
            Log.info("locks or caches changed: new ones, empty")
            fd.close()
            return nil
        }
        return area
    }

    /// The running daemons the previous image handed over: `{cmd, pid}`
    /// objects, or (an image before those) pids by position in `configured`.
    static func inheritedDaemons(_ list: JSON?, _ configured: [AttachedDaemon]) -> [(command: String, pid: pid_t)] {
        (list?.arrayValue ?? []).enumerated().compactMap { i, item in
            if let pid = item.intValue { return i < configured.count ? (configured[i].command, pid_t(pid)) : nil }
            guard let command = item["cmd"]?.stringValue, let pid = item["pid"]?.intValue else { return nil }
            return (command, pid_t(pid))
        }
    }

    /// An inherited fd named in the state.
    static func inherited(_ value: JSON?) -> FileDescriptor? {
        value?.intValue.flatMap { try? FileDescriptor.inherited(Int32($0), what: "zerg master state") }
    }

    /// The listeners the previous image held, by address.
    static func inheritedListeners(_ state: JSON) -> [(address: String, fd: FileDescriptor)] {
        (state["listeners"]?.arrayValue ?? []).compactMap { l in
            guard let address = l["address"]?.stringValue, let fd = inherited(l["fd"]) else { return nil }
            return (address, fd)
        }
    }

    /// Takes over the previous image's workers, then rolls them onto this binary.
    func restore(_ state: JSON) {
        paused = { if case .bool(let b)? = state["paused"] { return b } else { return false } }()
        for w in state["workers"]?.arrayValue ?? [] {
            guard let id = w["id"]?.intValue, let pid = w["pid"]?.intValue, let row = w["row"]?.intValue,
                  let control = Self.inherited(w["control"]) else { continue }
            try? control.setNonBlocking()
            // `cores` is absent in what an image before threads handed over: one row each.
            let cores = Int(w["cores"]?.intValue ?? 1)
            let p = WorkerProcess(id: Int(id), pid: pid_t(pid), control: control, rows: Int(row)..<Int(row) + max(1, cores))
            p.state = w["state"]?.stringValue.flatMap(WorkerProcess.State.init(rawValue:)) ?? .ready
            p.readyMs = w["ready_ms"]?.intValue.map(Int.init)
            Self.restoreSignalList(w["signals"], into: p)
            p.eventToken = try? sources.add(control, .worker(p))
            processes[p.pid] = p
            slotHistory[p.id, default: SlotHistory()].spawns += 1
            // A worker that was being stopped keeps its deadline (re-armed in full: the exec is quick).
            if p.state == .stopping { timers.schedule(afterMs: settings.workerReloadMercySeconds * 1000, .kill(pid: p.pid)) }
        }
        restoreSignals(state["signals"])
        // Slots the adaptive count would leave empty are running here: they stay.
        cheapedSlots.subtract(processes.values.map(\.id))
        // Workers that ended during the exec: their SIGCHLD is pending and reaps them now.
        for (pid, status) in ChildProcess.reapAll() { childEnded(pid: pid, status: status) }
        announcedReady = processes.values.contains { $0.state == .ready }
        Log.info("re-exec'd (\(binary.versionLine)): \(processes.count) worker(s) taken over; rolling them onto it")
        startReload(configuration: false)
    }
}
