#if canImport(Glibc)
import Glibc
#endif
import PythonGlue
import Shared

/// A worker with `threads = N`: N cores, each a `Worker` loop on a thread of
/// its own (its epoll, connections, request runner, scoreboard row and,
/// attached to a vassal, its own link), sharing the process's interpreter. A
/// core holds the GIL while it runs the app, and releases it whenever it waits
/// (for the network, for epoll; the app releases it in `time.sleep` and its own
/// I/O). The main thread relays: the master's orders go to every core over an
/// in-process control channel each, the cores' reports go to the master.
///
/// Why cores rather than one loop feeding a pool of request threads: a core is
/// exactly the loop of a one-thread worker, so all it does (keep-alive parking,
/// the ready pool, CPU slots, linger and hand-back, graceful drain) holds per
/// thread unchanged, and a vassal sees each core as one more attached worker,
/// with the handoff protocol as it is. This is uWSGI's model too: its threads
/// each accept and serve, and its stats list them as `cores`.
final class WorkerCores {
    enum Event {
        case master
        case core(Int)
    }

    let cores: [Worker]
    private var master: WorkerControl
    /// The relay's end of each core's control channel (nil once that core has ended).
    private var channels: [MasterControl?]
    private var tokens: [EventToken?]
    private var masterToken: EventToken?
    private let sources: EventSources<Event>
    private let stackBytes: Int
    /// A recycle report goes to the master once, whichever core asks first.
    private var recycleAsked = false
    private var signalTurn = 0

    /// `channels[k]` is the other end of `cores[k].control`.
    init(cores: [Worker], master: WorkerControl, channels: [FileDescriptor], stackBytes: Int) throws {
        self.cores = cores
        self.master = master
        self.channels = channels.map { MasterControl(fd: $0) }
        self.stackBytes = stackBytes
        let sources = try EventSources<Event>()
        self.sources = sources
        tokens = try channels.enumerated().map { k, fd in try sources.add(fd, .core(k)) }
        masterToken = try sources.add(master.fd, .master)
    }

    /// Starts every core's thread and relays until all have ended; returns the
    /// worker's exit status (the highest of the cores').
    func run(interpreter: Interpreter) -> Int32 {
        // Orders that came in the same read as the configuration.
        for order in master.takeQueued() { relay(order) }
        let statuses = ExitStatuses(count: cores.count)
        var threads: [SystemThread] = []
        interpreter.releaseGIL()  // the cores take it in turn from here
        for (k, core) in cores.enumerated() {
            do {
                threads.append(try SystemThread.start(name: "zerg core \(k)", stackBytes: stackBytes) {
                    pg_thread_begin()
                    core.runner.bindToThisThread()
                    // Held only while running the app (`Worker.handle`).
                    _ = pg_release_gil()
                    statuses.set(k, core.run())
                    core.control.fd.close()  // the relay sees this core end
                })
            } catch {
                Log.info("cannot start request thread \(k): \(error); the worker runs with \(k)")
                close(k)
                core.control.fd.close()
            }
        }
        while channels.contains(where: { $0 != nil }) {
            for event in (try? sources.wait(timeoutMs: 1000)) ?? [] {
                switch sources[event] {
                case .master?: readMaster()
                case .core(let k)?: readCore(k)
                case nil: continue
                }
            }
        }
        for thread in threads { thread.join() }
        interpreter.acquireGIL()
        return statuses.highest
    }

    /// Orders from the master; a closed channel (the master is gone) closes
    /// every core's, which each core takes as a stop.
    private func readMaster() {
        switch master.receive() {
        case .messages(let orders):
            for order in orders { relay(order) }
        case .closed(let error):
            if let error { Log.info("control channel: \(error); stopping") }
            if let token = masterToken { sources.remove(master.fd, token) }
            masterToken = nil
            for k in channels.indices { close(k) }
        }
    }

    private func relay(_ order: MasterOrder) {
        switch order {
        case .reopenLog:
            cores.first?.reopenProcessLog()  // the process's log: once
            for core in cores { core.runner.requestLog?.reopen() }
            Log.info("log files reopened")
        case .configure:
            break
        case .pause, .resume, .stop, .retire:
            for channel in channels { try? channel?.send(order) }
        case .signal:
            // One core runs the handler: an idle one, else the next in turn.
            let open = channels.indices.filter { channels[$0] != nil }
            guard !open.isEmpty else { return }
            let idle = open.first { k in cores[k].row.map { $0[.requestStart] == 0 } ?? true }
            let k = idle ?? open[signalTurn % open.count]
            signalTurn &+= 1
            try? channels[k]?.send(order)
        }
    }

    private func readCore(_ k: Int) {
        guard var channel = channels[k] else { return }
        switch channel.receive() {
        case .messages(let reports):
            channels[k] = channel
            for report in reports {
                if case .recycle = report {
                    if recycleAsked { continue }
                    recycleAsked = true
                }
                try? master.send(report)
            }
        case .closed:
            close(k)
        }
    }

    private func close(_ k: Int) {
        guard let channel = channels[k] else { return }
        if let token = tokens[k] { sources.remove(channel.fd, token) }
        tokens[k] = nil
        channel.fd.close()
        channels[k] = nil
    }

    /// Each core's exit status, written by its thread before it ends (read after every join).
    private final class ExitStatuses: @unchecked Sendable {
        private var values: [Int32]
        init(count: Int) { values = Array(repeating: 0, count: count) }
        func set(_ k: Int, _ status: Int32) { values[k] = status }
        var highest: Int32 { values.max() ?? 0 }
    }
}
