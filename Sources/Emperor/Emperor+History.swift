#if canImport(Glibc)
import Glibc
#endif
import EmperorCore
import Shared

/// What the dashboard shows over time: each build's history (a stats round a
/// second, `StatsRound`, turned into `BuildSample`s) and the deploy events
/// (the emperor's own lifecycle, what the samples reveal — workers recycled,
/// harakiri — the `_live`/`_stage` links, and hactl's journal).
final class DeployRecord {
    var histories: [String: BuildHistory] = [:]
    var events = EventLog()
    var round: StatsRound?
    /// hactl's journal per builds directory, and its entries of the last minute (a link
    /// change may be seen a tick after hactl wrote why).
    var journals: [String: DeployJournal.Reader] = [:]
    var recentEntries: [DeployJournal.Entry] = []
    /// `<dir>/_live` and `<dir>/_stage` → the build each pointed at last tick (nil before the first).
    var links: [String: String]?
    /// Per zerg instance: its workers' recycle counts by cause and harakiri counts, last tick.
    var workerCounts: [String: [WorkerCount: Int64]] = [:]

    /// What a zerg's stats count for one worker slot that makes an event when it grows.
    struct WorkerCount: Hashable, Comparable {
        let worker: Int64
        /// A recycle cause (`max-requests`, `died`…), or nil for harakiri kills.
        let recycleCause: String?
        static func < (a: WorkerCount, b: WorkerCount) -> Bool { (a.worker, a.recycleCause ?? "") < (b.worker, b.recycleCause ?? "") }
    }

    static let sampleMs = 1000
    static let entryMemoryMs: Int64 = 60_000

    /// What an upgrade (SIGUSR2) hands to the new image: the events and every
    /// build's points (at most 20 builds' 3 hours: a few MB of JSON, once).
    var handover: JSON {
        .object([
            ("events", .array((0..<events.events.count).map { events.events[$0].json })),
            ("histories", .object(histories.sorted { $0.key < $1.key }.map { name, h in
                (name, .object([("fine", .array((0..<h.finePoints.count).map { .array(h.finePoints[$0].values) })),
                                ("coarse", .array((0..<h.coarsePoints.count).map { .array(h.coarsePoints[$0].values) }))]))
            })),
        ])
    }

    /// Takes over what the image this one replaced recorded.
    func restore(_ state: JSON) {
        for e in state["events"]?.arrayValue ?? [] { if let event = DeployEvent(json: e) { events.append(event) } }
        if case .object(let builds)? = state["histories"] {
            for (name, h) in builds {
                histories[name] = BuildHistory(fine: h["fine"]?.arrayValue.compactMap { HistoryPoint(values: $0.arrayValue) } ?? [],
                                               coarse: h["coarse"]?.arrayValue.compactMap { HistoryPoint(values: $0.arrayValue) } ?? [])
            }
        }
    }
}

extension Emperor {
    /// The build an instance belongs to: its `build` placeholder, else its config's directory.
    func buildName(of instance: Instance) -> String {
        instance.build.isEmpty ? FileSystem.baseName(FileSystem.directoryName(instance.name)) : instance.build
    }

    /// Records a deploy event about `instance` (or a build) now, and logs it.
    func recordEvent(_ kind: DeployEvent.Kind, _ instance: Instance?, build: String? = nil, subject: String? = nil, cause: String = "",
                     atMs: Int64? = nil) {
        let now = Timestamp.now().milliseconds
        // Events stay in time order (hactl's journal times are a little in the past).
        let at = max(atMs ?? now, record.events.events.last?.epochMs ?? 0)
        let event = DeployEvent(epochMs: at, build: build ?? instance.map(buildName) ?? "", kind: kind,
                                subject: subject ?? instance?.kind?.rawValue ?? "", cause: cause)
        record.events.append(event)
        Log.info(event.logLine)
    }

    /// Each second: the last round's documents become samples (what did not
    /// answer is left out), and a new round asks every running instance.
    func sampleTick() {
        if let round = record.round {
            round.abandon(sources: sources)
            finishRound(round)
        }
        let round = StatsRound(monotonicNs: Host.monotonicNanoseconds(), epochMs: Timestamp.now().milliseconds)
        record.round = round
        for instance in instances.values where instance.pid != nil {
            guard let address = instance.statsAddress else { continue }
            round.ask(instance.name, at: resolve(address), sources: sources) { Event.sample($0) }
        }
        if round.isComplete { finishRound(round) }
        readJournals()
        watchLinks()
        timers.schedule(afterMs: DeployRecord.sampleMs, .sample)
    }

    /// A stats connection of the current round is readable.
    func sampleReadable(_ name: String) {
        guard let round = record.round else { return }
        round.readable(name, sources: sources)
        if round.isComplete { finishRound(round) }
    }

    /// Turns a round's documents into one sample per build (once).
    func finishRound(_ round: StatsRound) {
        guard record.round === round else { return }
        record.round = nil
        var samples: [String: BuildSample] = [:]
        for instance in instances.values.sorted(by: { $0.name < $1.name }) {
            let build = buildName(of: instance)
            var sample = samples[build] ?? BuildSample(monotonicNs: round.monotonicNs, epochMs: round.epochMs)
            let doc = round.documents[instance.name]
            if let pid = instance.pid { sample.rssBytes += ChildProcess.memory(pid)?.rss ?? 0 }
            switch instance.kind {
            case .vassal?: sample.read(vassal: doc, zerg: nil)
            case .zerg?:
                sample.read(vassal: nil, zerg: doc)
                for w in doc?["workers"]?.arrayValue ?? [] {
                    if let pid = w["pid"]?.intValue, pid > 0 { sample.rssBytes += ChildProcess.memory(pid_t(pid))?.rss ?? 0 }
                }
                if let doc { noteWorkerEvents(instance, doc) }
            case nil: break
            }
            samples[build] = sample
        }
        for (build, sample) in samples { record.histories[build, default: BuildHistory()].record(sample) }
        record.workerCounts = record.workerCounts.filter { instances[$0.key] != nil }
        // A build whose configs are all gone keeps its history until the window has passed.
        let horizon = round.epochMs - Int64(BuildHistory.coarse.seconds * BuildHistory.coarse.count) * 1000
        for (build, history) in record.histories where samples[build] == nil && (history.latest?.epochMs ?? 0) < horizon {
            record.histories[build] = nil
        }
    }

    /// Workers recycled (by cause) and killed by harakiri since the last round.
    func noteWorkerEvents(_ instance: Instance, _ doc: JSON) {
        var counts: [DeployRecord.WorkerCount: Int64] = [:]
        for w in doc["workers"]?.arrayValue ?? [] {
            let id = w["id"]?.intValue ?? 0
            if case .object(let causes)? = w["recycles"] {
                for (cause, n) in causes { counts[.init(worker: id, recycleCause: cause)] = n.intValue ?? 0 }
            }
            counts[.init(worker: id, recycleCause: nil)] = w["harakiri_count"]?.intValue ?? 0
        }
        if let before = record.workerCounts[instance.name] {
            for (key, n) in counts.sorted(by: { $0.key < $1.key }) where n > before[key] ?? 0 {
                let times = n - (before[key] ?? 0)
                let repeated = times > 1 ? "\(times) times" : ""
                if let cause = key.recycleCause {
                    recordEvent(.workerRecycled, instance, subject: "worker \(key.worker)", cause: repeated.isEmpty ? cause : "\(cause), \(repeated)")
                } else {
                    recordEvent(.harakiri, instance, subject: "worker \(key.worker)", cause: repeated)
                }
            }
        }
        record.workerCounts[instance.name] = counts
    }

    /// The directories that may hold `_live`/`_stage` for the instances' builds.
    func linkDirectories() -> Set<String> {
        var dirs: Set<String> = []
        for instance in instances.values {
            let buildsDir = FileSystem.directoryName(FileSystem.directoryName(absolute(instance.name)))
            dirs.insert(buildsDir)
            dirs.insert(FileSystem.directoryName(buildsDir))
        }
        return dirs
    }

    /// New lines of hactl's journals: nginx reloads become events; link
    /// changes are kept a minute as the cause of what `watchLinks` sees.
    func readJournals() {
        let now = Timestamp.now().milliseconds
        for dir in linkDirectories() {
            if record.journals[dir] == nil { record.journals[dir] = DeployJournal.Reader(buildsDirectory: dir) }
            for entry in record.journals[dir]!.readNew() {
                if entry.kind == .nginxReloaded {
                    recordEvent(.nginxReloaded, nil, build: entry.build, cause: entry.by, atMs: entry.epochMs)
                } else {
                    record.recentEntries.append(entry)
                }
            }
        }
        record.recentEntries.removeAll { now - $0.epochMs > DeployRecord.entryMemoryMs }
    }

    /// `_live` / `_stage` pointed somewhere else since the last tick: an event
    /// for the build it now points at, caused by hactl when its journal says so.
    func watchLinks() {
        var now: [String: String] = [:]
        for dir in linkDirectories() {
            for link in ["_live", "_stage"] {
                now[dir + "/" + link] = FileSystem.symlinkTargetName(dir + "/" + link)
            }
        }
        defer { record.links = now }
        guard let before = record.links else { return }
        for (path, build) in now.sorted(by: { $0.key < $1.key }) where before[path] != build {
            let kind: DeployEvent.Kind = path.hasSuffix("/_live") ? .live : .stage
            let cause = record.recentEntries.last { $0.kind == kind && $0.build == build }?.by
                ?? "the \(FileSystem.baseName(path)) link was changed (not by hactl)"
            let was = before[path].map { "; was \($0)" } ?? ""
            recordEvent(kind, nil, build: build, cause: cause + was)
        }
    }
}

extension Emperor {
    /// Epoch ms from a `since` parameter: ms, or seconds when small enough to be seconds (either is accepted).
    static func epochMs(_ text: String?) -> Int64 {
        guard let text, let v = Double(text), v.isFinite, v > 0 else { return 0 }
        return v < 100_000_000_000 ? Int64(v * 1000) : Int64(v)
    }

    /// `/history.json?build=a&since=…&step=1|10`: each build's points after
    /// `since`, as rows of `columns` (one build, or all without `build`).
    func historyDocument(query: [String: String]) -> JSON {
        let since = Self.epochMs(query["since"])
        let step = query["step"].flatMap { Int($0) }
        var builds: [(String, JSON)] = []
        var usedStep = BuildHistory.fine.seconds
        for (name, history) in record.histories.sorted(by: { $0.key < $1.key }) where query["build"].map({ $0 == name }) ?? true {
            let (s, points) = history.points(sinceMs: since, step: step)
            usedStep = s
            builds.append((name, .object([("step", .int(Int64(s))), ("points", .array(points.map { .array($0.values) }))])))
        }
        return .object([
            ("now", .int(Timestamp.now().milliseconds)),
            ("step", .int(Int64(usedStep))),
            ("columns", .array(HistoryPoint.columns.map(JSON.string))),
            ("builds", .object(builds)),
        ])
    }

    /// `/events.json?since=…&build=a`: deploy events after `since` (ms or s), oldest first.
    func eventsDocument(query: [String: String]) -> JSON {
        let now = Timestamp.now().milliseconds
        let events = record.events.since(Self.epochMs(query["since"]), nowMs: now).filter { e in query["build"].map { $0 == e.build } ?? true }
        return .object([("now", .int(now)), ("events", .array(events.map(\.json)))])
    }
}
