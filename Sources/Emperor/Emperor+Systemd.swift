import Shared

/// The emperor under systemd (`Type=notify`, see `SystemdNotify`): `READY=1`
/// once every instance found at start (or at a HUP) serves or has failed,
/// `RELOADING=1` at a HUP, `STOPPING=1` at a stop, a `STATUS=` line with the
/// instances' counts, `WATCHDOG=1` at half the watchdog timeout, and
/// `MAINPID=` after an in-place upgrade.
extension Emperor {
    /// After each turn of the loop: says ready once everything has settled, and the status.
    func tellSystemd() {
        guard let notifier, shutdown == nil else { return }
        let all = instances.values
        let serving = all.filter(\.serves).count
        let failing = all.filter { $0.state == .invalid || $0.state == .throttled }.count
        let status = "\(serving) of \(all.count) instance(s) serving" + (failing > 0 ? ", \(failing) failing" : "")
        let settled = !all.contains { $0.state == .starting || $0.state == .reloading }
        if awaitingSystemdReady && settled {
            awaitingSystemdReady = false
            notifier.ready(status: status)
        } else {
            notifier.status(status)
        }
    }

    func scheduleWatchdog() {
        if let ms = notifier?.watchdogIntervalMs { timers.schedule(afterMs: ms, .watchdog) }
    }
}
