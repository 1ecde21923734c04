import Shared

/// The worker's event loop, in both modes, and the master's orders.
extension Worker {
    /// Serves until told to stop; returns the exit status.
    func run() -> Int32 {
        // Orders that came in the same read as the configuration (a stop sent at once).
        for order in control.takeQueued() { obey(order) }
        return link == nil ? runStandalone() : runAttached()
    }

    /// Standalone: the shared listeners, the ready pool, parked connections.
    private func runStandalone() -> Int32 {
        var lastSweep = Host.monotonicNanoseconds()
        while true {
            if accept.gate.isOn { updateGate() }
            // Under load something is always ready: look without giving up the
            // GIL, and release it (for the app's own threads) only to sleep.
            var events = (try? sources.wait(timeoutMs: 0)) ?? []
            // About to sleep: a worker that is running (its caches warm) takes a
            // waiting connection itself rather than leave it to a sleeping one.
            if events.isEmpty && isListening && listeners.indices.contains(where: { acceptOne($0) }) {
                continue
            }
            if events.isEmpty {
                accept.releaseSlot()
                let timeoutMs = accept.gated ? accept.gateWaitMs() : 1000
                events = Interpreter.withoutGIL { (try? sources.wait(timeoutMs: timeoutMs)) ?? [] }
                if accept.gate.isOn { updateGate() }
            }
            // Connections first, new ones last: a request already here is served
            // before more clients are taken on.
            var accepting: UInt64 = 0  // listener indexes, as bits (no array per turn)
            var ready: [Connection] = []
            var poolReady = false
            for event in events {
                switch sources[event] {
                case .control?: readControl()
                case .listener(let index)?: accepting |= index < 64 ? 1 << UInt64(index) : ~0
                case .pool?: poolReady = true
                case .connection(let conn)?: ready.append(conn)
                case .link?, nil: continue
                }
            }
            serveReady(ready, poolReady: poolReady)
            if accepting != 0 && isListening
                && accept.takesNewConnection(busy: !ready.isEmpty || poolReady, stopping: stopping, open: openConnections) {
                for i in listeners.indices where i >= 64 || accepting & (1 << UInt64(i)) != 0 {
                    acceptOne(i)
                }
            }
            let now = Host.monotonicNanoseconds()
            if now - lastSweep > 1_000_000_000 || stopping {
                sweepIdle(now: now)
                lastSweep = now
            }
            if stopping && parked.isEmpty {
                if retiring { return 0 }  // what is queued is the others' now
                // Stopping with the others: a last look at the shared queue, so that
                // what they left there is served, not dropped. Bounded, in case some
                // worker is still filling it.
                let deadline = Host.monotonicNanoseconds() + 100_000_000
                while Host.monotonicNanoseconds() < deadline, serveFromPool() {}
                return 0
            }
        }
    }

    func updateGate() {
        accept.updateGate(open: openConnections, passing: passesReadyWhenGated)
        syncListening()
        syncPool()
    }

    /// Zerg mode: connections from the vassal, orders from the master.
    private func runAttached() -> Int32 {
        guard let link else { return 0 }
        var drainingSent = false
        var lastSweep = Host.monotonicNanoseconds()
        while true {
            serveOrphanedHandoffs()
            if !link.isAttached {
                if stopping { return 0 }
                if paused {
                    waitForOrders(timeoutMs: 1000)
                    continue
                }
                do {
                    if try attachWithRetry() {
                        Log.info("reattached to \(link.path)")
                        drainingSent = false
                        tellVassal(.ready)
                    }
                } catch {
                    Log.info("\(error)")
                    return WorkerMain.appLoadFailed
                }
                continue
            }
            var events = (try? sources.wait(timeoutMs: 0)) ?? []
            if events.isEmpty {
                events = Interpreter.withoutGIL { (try? sources.wait(timeoutMs: 1000)) ?? [] }
            }
            var ready: [Connection] = []
            for event in events {
                switch sources[event] {
                case .control?: readControl()
                case .link?: receiveFromVassal()
                case .connection(let conn)?: ready.append(conn)
                default: continue
                }
            }
            // Held connections (seated): their requests after the vassal's, in epoll's order.
            for conn in ready where conn.eventToken != nil { serveHeld(conn) }
            if (stopping || paused) && !drainingSent && link.isAttached {
                // Held connections go back first: after `bye` the link is gone.
                giveBackHeld()
                // Nothing new for this worker; `bye` confirms no connection is still on its way.
                drainingSent = tellVassal(.draining)
            }
            let now = Host.monotonicNanoseconds()
            if now - lastSweep > 1_000_000_000 && !parked.isEmpty && !stopping && !paused {
                sweepIdle(now: now)  // held connections: keep-alive and head timeouts
                lastSweep = now
            }
        }
    }

    /// Sleeps (without the GIL) until the master says something, at most `timeoutMs`.
    func waitForOrders(timeoutMs: Int32) {
        let orders = Interpreter.withoutGIL { (try? control.fd.wait(timeoutMs: timeoutMs)) == true }
        if orders { readControl() }
    }

    /// The master's orders; a closed channel (the master is gone) is a stop.
    func readControl() {
        switch control.receive() {
        case .closed(let error):
            if let error { Log.info("control channel: \(error); stopping") }
            if let token = controlToken { sources.remove(control.fd, token) }
            controlToken = nil
            beginStopping()
        case .messages(let orders):
            for order in orders { obey(order) }
        }
    }

    func obey(_ order: MasterOrder) {
        switch order {
        case .reopenLog: reopenLog()
        case .configure:
            break  // a worker keeps the configuration it started with: a reload replaces workers
        case .pause: setPaused(true)
        case .resume: setPaused(false)
        case .signal(let number): runSignalHandler(number)
        case .stop: beginStopping()
        case .retire:
            if let pool = readyPool, !retiring {
                retiring = true
                // It gives connections to the pool now, and takes none.
                if let token = poolToken { sources.remove(pool.receiver, token) }
                poolToken = nil
            }
            beginStopping()
        }
    }

    /// A uWSGI signal this process registered: its handler runs here, between
    /// requests, shown on the scoreboard like a request (stats, harakiri).
    func runSignalHandler(_ number: UInt8) {
        let text = Array("SIGNAL \(number)".utf8)
        if let row { text.withUnsafeBytes { row.board.beginRequest(row: row.index, text: $0) } }
        defer { if let row { row.board.endRequest(row: row.index) } }
        Interpreter.withGIL { interpreter.dispatchSignal(number) }
    }

    /// Graceful stop: no new connections; idle ones close, or go to the other
    /// workers when only this one is leaving.
    func beginStopping() {
        stopping = true
        syncListening()
    }

    /// Pause: standalone, the listeners leave epoll; attached, the worker
    /// drains from the vassal (and reattaches on resume).
    func setPaused(_ on: Bool) {
        guard on != paused, !stopping else { return }
        paused = on
        Log.info(on ? "paused: taking no new connections" : "resumed")
        syncListening()
    }
}
