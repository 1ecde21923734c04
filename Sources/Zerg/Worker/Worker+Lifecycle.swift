#if canImport(Glibc)
import Glibc
#endif
import Shared

/// A worker's own part of its lifecycle: asking to be recycled, warm-up
/// before traffic, reopening its log.
extension Worker {
    /// After a request: past `max-requests`, `reload-on-rss` or `reload-on-as`
    /// (and `min-worker-lifetime`), ask the master for a replacement. This
    /// worker keeps serving until the replacement is ready, then drains.
    func checkRecycle() {
        let life = settings.lifecycle
        guard !recycleRequested, !runner.warmingUp,
              Host.monotonicNanoseconds() - startedNs >= UInt64(life.minLifetimeSeconds) * 1_000_000_000 else { return }
        let served = processRows.flatMap { rows in row.map { Int($0.board.sum(rows, .requests)) } } ?? runner.requestsServed
        let memory = runner.memory
        let reason: (RecycleReason, String)
        if let limit = life.requestLimit(workerID: id), served >= limit {
            reason = (.maxRequests, "\(served) requests")
        } else if life.reloadOnRSS > 0 && memory.rss > life.reloadOnRSS {
            reason = (.reloadOnRSS, "\(memory.rss >> 20) MB resident")
        } else if life.reloadOnAS > 0 && memory.vsz > life.reloadOnAS {
            reason = (.reloadOnAS, "\(memory.vsz >> 20) MB address space")
        } else {
            return
        }
        recycleRequested = true
        tellMaster(.recycle(reason.0, reason.1))
    }

    /// `warmup` paths run through the app in-process before the worker takes
    /// traffic (the response goes to /dev/null). Returns the milliseconds spent.
    func warmUp() -> UInt64 {
        let life = settings.lifecycle
        guard !life.warmup.isEmpty else { return 0 }
        let start = Host.monotonicNanoseconds()
        runner.warmingUp = true
        defer { runner.warmingUp = false }
        for path in life.warmup {
            for _ in 0..<life.warmupRepeat {
                let bytes = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: zerg-warmup\r\n\r\n".utf8)
                guard case .complete(let head, _) = HTTPHeadParser.parse(bytes, limit: settings.bufferSize),
                      let sink = try? FileDescriptor.open("/dev/null", O_RDWR) else {
                    Log.info("warm-up \(path): not a valid request path; skipped")
                    continue
                }
                let t0 = Host.monotonicNanoseconds()
                let conn = Connection(fd: sink, remote: ("127.0.0.1", 0), scratch: scratch)
                _ = handle(conn, head)
                conn.close()
                let ms = Double(Host.monotonicNanoseconds() - t0) / 1e6
                Log.info("warm-up GET \(path): \(runner.lastStatus) in \(String(format2: ms)) ms")
            }
        }
        return (Host.monotonicNanoseconds() - start) / 1_000_000
    }

    /// touch-logreopen, a rotation: this worker's log lines (and Python's
    /// stdout/stderr) and its request log go to fresh opens of their files.
    func reopenLog() {
        reopenProcessLog()
        runner.requestLog?.reopen()
        Log.info("log files reopened")
    }

    func reopenProcessLog() {
        guard let path = settings.logFile else { return }  // several targets: the master's log pipe
        do {
            try Log.reopen(path)
        } catch {
            Log.info("cannot reopen \(path): \(error)")
        }
    }
}

extension String {
    /// A number with two decimals (no Foundation here).
    init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        let frac = hundredths % 100
        self = "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)"
    }
}
