#if canImport(Glibc)
import Glibc
#endif
import Shared
import ZergCore

/// uWSGI signals (`uwsgi.register_signal`, `signal`, `add_timer`,
/// `add_rb_timer`, `add_cron`): one-byte events the master routes to workers.
///
/// Every worker loads the app itself, so each one registers its handlers (a
/// report per signal) and the master keeps, per worker process, the signals
/// it can run and their target. A signal goes to the target among ready
/// workers that registered it: one worker (an idle one first), every worker
/// slot (its newest process only, so a rolling reload's overlap does not run
/// it twice), or worker N. Timers and cron entries belong to the master: a
/// signal number has one timer, so the same `add_timer` made by every
/// worker's import (or again by a reloaded worker) does not multiply it, nor
/// restart an `add_rb_timer`'s count; a timer or cron entry whose signal no
/// worker registers any more (a deploy dropped the handler) is dropped.
extension Master {
    /// A signal timer (`add_timer`: for ever; `add_rb_timer`: `remaining` times).
    struct SignalTimer: Equatable {
        var seconds: UInt32
        var remaining: UInt32?
        /// Bumped when the timer is replaced: what the queue holds for an older one is dropped.
        var generation: Int
    }

    struct SignalTimerKey: Hashable {
        let number: UInt8
        let seconds: UInt32
        let iterations: UInt32
    }

    func received(signalReport report: WorkerReport, from p: WorkerProcess) {
        switch report {
        case .registerSignal(let number, let target):
            p.signals[number] = target
            if case .worker(let id) = target, id > settings.workers {
                noteSignal(number, "targets worker\(id), but the zerg runs \(settings.workers) worker(s)")
            }
        case .raiseSignal(let number):
            raise(signal: number, cause: "worker \(p.id)")
        case .addTimer(let number, let seconds, let iterations):
            addSignalTimer(number, seconds: max(1, seconds), iterations: iterations)
        case .addCron(let number, let fields):
            addSignalCron(number, fields: fields.map(Int.init))
        default:
            break
        }
    }

    func addSignalCron(_ number: UInt8, fields: [Int]) {
        let job = CronJob(fields: fields, action: .signal(number))
        guard !cronJobs.contains(where: { $0.action == job.action && $0.fields == job.fields }) else { return }
        cronJobs.append(job)
        Log.info("signal \(number): raised by cron (\(fields.map(String.init).joined(separator: " ")))")
        scheduleCron()
    }

    func addSignalTimer(_ number: UInt8, seconds: UInt32, iterations: UInt32) {
        let remaining = iterations == 0 ? nil : iterations
        if let existing = signalTimers[number], existing.seconds == seconds, existing.remaining == nil, remaining == nil { return }
        // A counted timer another worker's import (or a respawn) already added, running or run out.
        let counted = SignalTimerKey(number: number, seconds: seconds, iterations: iterations)
        if remaining != nil {
            guard !countedTimers.contains(counted) else { return }
            countedTimers.insert(counted)
        }
        let generation = (signalTimers[number]?.generation ?? 0) + 1
        signalTimers[number] = SignalTimer(seconds: seconds, remaining: remaining, generation: generation)
        Log.info("signal \(number): raised every \(seconds) s\(remaining.map { ", \($0) time(s)" } ?? "")")
        timers.schedule(afterMs: Int(seconds) * 1000, .signalTimer(number, generation: generation))
    }

    func signalTimerFired(_ number: UInt8, generation: Int) {
        guard var timer = signalTimers[number], timer.generation == generation, stopping == nil else { return }
        guard registered(number) else {
            signalTimers[number] = nil
            Log.info("signal \(number): no worker registers a handler for it any more; its timer is dropped")
            return
        }
        raise(signal: number, cause: "timer")
        if let left = timer.remaining {
            guard left > 1 else {
                signalTimers[number] = nil
                return
            }
            timer.remaining = left - 1
            signalTimers[number] = timer
        }
        timers.schedule(afterMs: Int(timer.seconds) * 1000, .signalTimer(number, generation: generation))
    }

    /// Whether a worker (starting, ready or leaving) has a handler for it.
    func registered(_ number: UInt8) -> Bool { processes.values.contains { $0.signals[number] != nil } }

    /// Sends the signal to its target's workers.
    func raise(signal number: UInt8, cause: String) {
        guard stopping == nil else { return }
        // Per slot, the newest ready process that can run it.
        var holders: [Int: WorkerProcess] = [:]
        for p in processes.values where p.state == .ready && p.signals[number] != nil {
            if let other = holders[p.id], other.startedNs > p.startedNs { continue }
            holders[p.id] = p
        }
        let candidates = holders.values.sorted { $0.id < $1.id }
        guard let newest = candidates.max(by: { $0.startedNs < $1.startedNs }), let target = newest.signals[number] else {
            noteSignal(number, "raised by \(cause), but no ready worker has a handler for it")
            return
        }
        let chosen: [WorkerProcess]
        switch target {
        case .allWorkers:
            chosen = candidates
        case .worker(let id):
            chosen = candidates.filter { $0.id == id }
        case .anyWorker:
            let idle = candidates.first { scoreboard.oldestRequest($0.rows) == nil }
            chosen = [idle ?? candidates[Int(signalRotation % UInt(candidates.count))]]
            signalRotation &+= 1
        }
        guard !chosen.isEmpty else {
            noteSignal(number, "raised by \(cause), but its target \(target) is not running")
            return
        }
        signalProblems[number] = nil
        for p in chosen { p.order(.signal(number)) }
        signalsDelivered += chosen.count
    }

    /// A problem with a signal, logged once until it is delivered again.
    func noteSignal(_ number: UInt8, _ problem: String) {
        guard signalProblems[number] != problem else { return }
        signalProblems[number] = problem
        Log.info("signal \(number): \(problem)")
    }

    // MARK: across a master re-exec

    /// Timers and signal cron entries, for the image that replaces this one.
    var signalState: JSON {
        .object([
            ("timers", .array(signalTimers.sorted { $0.key < $1.key }.map { number, t in
                .array([.number(Int(number)), .number(Int(t.seconds)), .number(Int(t.remaining ?? 0))])
            })),
            ("crons", .array(cronJobs.compactMap { job in
                guard case .signal(let number) = job.action else { return nil }
                return .array([.number(Int(number))] + job.fields.map { .number($0) })
            })),
        ])
    }

    func restoreSignals(_ state: JSON?) {
        for t in state?["timers"]?.arrayValue ?? [] {
            let v = t.arrayValue.compactMap(\.intValue).map(Int.init)
            guard v.count == 3, let number = UInt8(exactly: v[0]) else { continue }
            addSignalTimer(number, seconds: UInt32(clamping: v[1]), iterations: UInt32(clamping: v[2]))
        }
        for c in state?["crons"]?.arrayValue ?? [] {
            let v = c.arrayValue.compactMap(\.intValue).map(Int.init)
            guard v.count == 6, let number = UInt8(exactly: v[0]) else { continue }
            addSignalCron(number, fields: Array(v.dropFirst()))
        }
    }

    /// A worker's registrations, as `signalState` hands them over.
    static func signalList(_ p: WorkerProcess) -> JSON {
        .array(p.signals.sorted { $0.key < $1.key }.map { .array([.number(Int($0.key)), .string($0.value.description)]) })
    }

    static func restoreSignalList(_ list: JSON?, into p: WorkerProcess) {
        for item in list?.arrayValue ?? [] {
            let pair = item.arrayValue
            guard pair.count == 2, let n = pair[0].intValue, let number = UInt8(exactly: n),
                  let name = pair[1].stringValue, case .target(let target) = SignalTarget.parse(name) else { continue }
            p.signals[number] = target
        }
    }
}
