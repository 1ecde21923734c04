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

/// Socket activation under the emperor: systemd holds each build's port (a
/// socket unit) and passes it to the emperor, which gives it to the vassal
/// whose config names that address, on every start of it; the emperor keeps
/// its copy (across an upgrade too), so a restart never refuses a connection.
extension Emperor {
    /// What a vassal starts with: the sockets its predecessor listened on, else
    /// the ones systemd passed for its addresses (labelled as its config says them).
    func listeners(for instance: Instance) -> [(address: String, fd: FileDescriptor)] {
        if !instance.heldListeners.isEmpty { return instance.heldListeners }
        return instance.listenAddresses.compactMap { address in
            guard let wanted = try? address.socketAddress(),
                  let passed = activated.first(where: { SocketActivation.same($0.address, wanted) }) else { return nil }
            Log.info("\(instance.name): \(address) is the socket systemd passed (\(passed.name))")
            return (address.description, passed.fd)
        }
    }

    /// Said once after the first scan: passed sockets no config names (kept for a build that may).
    func noteUnclaimedActivation() {
        for passed in activated where !instances.values.contains(where: { instance in
            instance.listenAddresses.contains { (try? $0.socketAddress()).map { SocketActivation.same(passed.address, $0) } == true }
        }) {
            Log.info("socket activation: \(passed.name) (\(passed.address)) matches no config's address yet; kept for one that names it")
        }
    }
}
