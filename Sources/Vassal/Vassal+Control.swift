#if canImport(Glibc)
import Glibc
#endif
import Shared

/// Signals, the emperor's channel, and stopping.
extension Vassal {
    func handle(signal sig: Int32) {
        switch sig {
        case SIGHUP: reload()
        case SIGTERM: stop(.graceful)
        case SIGINT, SIGQUIT: stop(.immediate)
        case SIGUSR1: Log.info(statusLine())
        case SIGCHLD:
            // Only the daemons' pids: a reload's configuration check is waited for by itself.
            for pid in daemons.childPids {
                guard let status = ChildProcess.reap(pid) else { continue }
                if case .controlDaemonEnded(let command) = daemons.exited(pid: pid, status: status) {
                    Log.info("control daemon `\(command)` ended: the vassal stops")
                    stop(.graceful)
                }
            }
        default: break
        }
    }

    func statusLine() -> String {
        let byState = Dictionary(grouping: workers.values, by: \.state).mapValues(\.count)
        let states = byState.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }
        return "workers: \(states.isEmpty ? "none" : states.joined(separator: ", ")); clients held: \(clients.count), "
            + "by workers: \(workers.values.reduce(0) { $0 + $1.held.count }), queued: \(queueDepth); "
            + "accepted \(counters.accepted), dispatched \(counters.dispatched), handed back \(counters.handedBack), "
            + "lost in workers \(counters.lostInWorker), retried \(counters.retried), 502 \(counters.badGateway), "
            + "queue timeouts \(counters.queueTimeouts)"
    }

    /// Tells the emperor, or systemd (a vassal it started itself): `ready` once listening, and after a reload.
    func tellEmperor(_ report: EmperorProtocol.Report) {
        emperor?.tell(report)
        if report == .ready { notifier?.ready(status: statusLine()) }
    }

    func readEmperor() {
        emperor?.handleChannel(in: sources, stop: { stop($0 ? .graceful : .immediate) }, reload: { reload() })
    }

    /// A new emperor connected (the previous one died): it takes over.
    func adopted() {
        guard let emperor, emperor.adopt(in: sources, as: .emperor) else { return }
        emperor.tell(listeners: zip(settings.http, listeners).map { ($0.description, $1) })
        tellEmperor(stopping == nil ? .ready : .voluntaryShutdown)
        if stopping == nil { tellEmperor(.accepting) }
    }

    /// Graceful: no new clients; idle connections close; queued ones still go
    /// to workers until `reload-mercy`. Immediate: exit at the next turn.
    func stop(_ how: Stop) {
        if stopping == .immediate { return }
        if stopping == nil {
            Log.info(how == .graceful ? "graceful stop" : "stopping now")
            notifier?.stopping()
            stopDeadlineNs = Host.monotonicNanoseconds() + UInt64(settings.reloadMercySeconds) * 1_000_000_000
            for (l, token) in zip(listeners, listenerTokens) {
                sources.remove(l, token)
                l.close()
            }
            for path in listenerPaths { path.remove() }
            listeners = []
            listenerTokens = []
            listenerPending = []
            // Attached workers keep their links; new ones go to whoever takes the path next.
            releaseZergServer()
        }
        stopping = how
        daemons.stopAll()
        if how == .immediate { daemons.killAll() }
        for client in Array(clients.values) where client.state == .reading && client.buffer.isEmpty { drop(client) }
    }

    func finishedStopping(_ how: Stop, now: UInt64) -> Bool {
        if how == .immediate { return true }
        if now >= stopDeadlineNs {
            daemons.killAll()
            return true
        }
        return queueDepth == 0 && !workers.values.contains { $0.isServing } && !daemons.hasChildren
    }

    /// Stops taking new worker links: closes the zerg-server socket and
    /// removes its path, if the path is still this vassal's socket (a vassal
    /// started meanwhile on the same path may own it by now). Once only.
    func releaseZergServer() {
        guard let token = zergServerToken else { return }
        zergServerToken = nil
        sources.remove(zergServer, token)
        zergServer.close()
        zergServerPath?.remove()
    }
}
