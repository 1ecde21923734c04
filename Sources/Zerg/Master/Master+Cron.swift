#if canImport(Glibc)
import Glibc
#endif
import Shared
import ZergCore

extension Master {
    /// Schedules the next check at the start of the next minute (once: a
    /// `uwsgi.add_cron` may call it while the check is scheduled).
    func scheduleCron() {
        guard !cronJobs.isEmpty, !cronScheduled else { return }
        cronScheduled = true
        let now = Timestamp.now()
        let intoMinuteMs = Int(now.seconds % 60) * 1000 + Int(now.nanoseconds / 1_000_000)
        timers.schedule(afterMs: 60_000 - intoMinuteMs + 50, .cron)
    }

    /// The minute has come: runs every job due in it.
    func runCron() {
        cronScheduled = false
        defer { scheduleCron() }
        guard stopping == nil else { return }
        var t = time_t(Timestamp.now().seconds)
        var parts = tm()
        localtime_r(&t, &parts)
        var dropped: [Int] = []
        defer { for i in dropped.reversed() { cronJobs.remove(at: i) } }
        for i in cronJobs.indices where cronJobs[i].due(parts) {
            switch cronJobs[i].action {
            case .signal(let number):
                guard registered(number) else {
                    Log.info("signal \(number): no worker registers a handler for it any more; its cron entry is dropped")
                    dropped.append(i)
                    continue
                }
                raise(signal: number, cause: "cron")
            case .command(let command):
                if cronJobs[i].unique, let pid = cronJobs[i].running {
                    Log.info("cron `\(command)`: its previous run (pid \(pid)) still runs; skipped (unique)")
                    continue
                }
                do {
                    let pid = try daemons.startShellCommand(command)
                    cronJobs[i].running = pid
                    Log.info("cron: started `\(command)` (pid \(pid))")
                } catch {
                    Log.info("cron: cannot start `\(command)`: \(error)")
                }
            }
        }
    }

    /// A cron job's run ended (true); false: not a cron job.
    func cronExited(pid: pid_t, status: ExitStatus) -> Bool {
        guard let i = cronJobs.firstIndex(where: { $0.running == pid }) else { return false }
        cronJobs[i].running = nil
        if status != .exited(0) { Log.info("cron `\(cronJobs[i].command ?? "")` (pid \(pid)) ended: \(status)") }
        return true
    }
}
