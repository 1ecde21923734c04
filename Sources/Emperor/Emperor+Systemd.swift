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
        let failing = all.filter { $0.state == .invalid || $0.state == .throttled || ($0.state == .starting && $0.appFailing) }.count
        let status = "\(serving) of \(all.count) instance(s) serving" + (failing > 0 ? ", \(failing) failing" : "")
        // Settled: each serves or has failed (a zerg whose app does not load keeps retrying, but has failed for now).
        let settled = !all.contains { ($0.state == .starting && !$0.appFailing) || $0.state == .reloading }
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

/// Socket activation under the emperor: systemd holds each build's port (a
/// socket unit) and passes it to the emperor, which passes every such socket
/// on to each instance it starts (labelled `activated:NAME`); the instance
/// takes the one bound to an address its config names, once its own config is
/// resolved (`@(exec://)` ports included), and closes the others. The emperor
/// keeps its copies (across an upgrade too), so a restart never refuses a connection.
extension Emperor {
    /// What an instance starts with: the sockets its predecessor listened on
    /// (a vassal started again after a crash), else the ones systemd passed.
    func listeners(for instance: Instance) -> [(address: String, fd: FileDescriptor)] {
        if !instance.heldListeners.isEmpty { return instance.heldListeners }
        return activated.map { ("\(SocketActivation.label)\($0.name)", $0.fd) }
    }

    /// Said once at start.
    func noteActivation() {
        guard !activated.isEmpty else { return }
        let names = activated.map { "\($0.name) (\($0.address))" }.joined(separator: ", ")
        Log.info("systemd passed \(activated.count) socket(s): \(names); each goes to the instance whose config listens there")
    }
}
