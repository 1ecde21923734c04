#if canImport(Glibc)
import Glibc
#endif
import Shared

/// A worker process as the master tracks it.
///
///     starting ──(ready report)──▶ ready ──(stop/retire order, or SIGKILL)──▶ stopping ──(reaped)──▶ gone
///         └──────────(failed report, then exit)──────────────────────────────────────────▶ gone
final class WorkerProcess {
    enum State: String { case starting, ready, stopping }
    let id: Int
    let pid: pid_t
    var control: MasterControl
    var eventToken: EventToken?
    var state = State.starting
    /// What it reported before exiting, when it could not start.
    var failure: (WorkerFailure, String)?
    /// The pid this one replaces in a rolling reload (stopped once this one is ready).
    var replaces: pid_t?
    /// A replacement was asked for (recycling); the old one drains when it is ready.
    var recycling = false
    /// Harakiri already dealt with this worker's stuck request.
    var harakiriSent = false
    /// Start to ready (app load and warm-up), from its ready message.
    var readyMs: Int?
    let startedNs = Host.monotonicNanoseconds()
    let startedEpoch = Timestamp.now().seconds
    /// The uWSGI signals it has handlers for, and where each goes (`Master+Signals`).
    var signals: [UInt8: SignalTarget] = [:]
    /// Its rows in the scoreboard: one per core (request thread).
    let rows: Range<Int>
    /// The first core's row: process-wide samples (memory) are written there.
    var row: Int { rows.lowerBound }

    init(id: Int, pid: pid_t, control: FileDescriptor, rows: Range<Int>) {
        self.id = id
        self.pid = pid
        self.control = MasterControl(fd: control)
        self.rows = rows
    }

    /// Sends an order; a worker that is gone is reaped through SIGCHLD anyway.
    func order(_ order: MasterOrder) {
        try? control.send(order)
    }
}
