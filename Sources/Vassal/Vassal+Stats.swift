#if canImport(Glibc)
import Glibc
#endif
import Shared

/// The vassal's `stats` document, in uWSGI's schema: `listen_queue` counts the
/// requests waiting for a worker (the dispatch queue and the listeners' backlogs), `workers` are the attached zerg workers (of any zerg), and
/// our keys (parked connections, queue figures, handoff counters) follow.
extension Vassal {
    func statsDocument() -> JSON {
        let sockets: [JSON] = zip(settings.sockets, listeners).map { socket, fd in
            var name = socket.address.description
            if case .tcp(let host, _) = socket.address, let port = try? fd.localPort() { name = "\(host):\(port)" }
            return .object([("name", .string(name)), ("proto", .string(socket.wire.rawValue)), ("queue", .number(waiting)),
                            ("max_queue", .number(Self.maxQueue)), ("shared", .number(0)), ("can_offload", .number(0))])
        } + [.object([("name", .string(settings.zergServer)), ("proto", .string("zerg")), ("queue", .number(0)),
                      ("max_queue", .number(Int(settings.listenBacklog))), ("shared", .number(0)), ("can_offload", .number(0))])]
        let now = Host.monotonicNanoseconds()
        let attached = workers.values.sorted { ($0.build, $0.workerID, $0.pid) < ($1.build, $1.workerID, $1.pid) }
        let rows: [JSON] = attached.enumerated().map { index, w in
            let busy = w.isServing
            // Seated, the seat counts its requests; else the connections it answered for.
            let requests = w.seat?.served ?? w.connectionsServed
            let status: String
            switch w.state {
            case .busy: status = "busy"
            case .free where busy: status = "busy"
            case .draining: status = busy ? "busy" : "pause"
            default: status = "idle"
            }
            var members: [(String, JSON)] = [
                ("id", .number(index + 1)),
                ("pid", .number(w.pid)),
                ("accepting", .number(w.state == .free || w.state == .busy ? 1 : 0)),
                ("requests", .number(requests)),
                ("delta_requests", .number(requests)),
                ("exceptions", .number(0)),
                ("harakiri_count", .number(0)),
                ("signals", .number(0)),
                ("signal_queue", .number(0)),
                ("status", .string(status)),
                ("rss", .number(0)),
                ("vsz", .number(0)),
                ("running_time", .number(0)),
                ("last_spawn", .int(w.attachedEpoch)),
                ("respawn_count", .number(1)),
                ("tx", .number(0)),
                ("avg_rt", .number(0)),
                ("apps", .array([])),
                ("cores", .array([.object([("id", .number(0)), ("requests", .number(requests)),
                                           ("in_request", .number(busy ? 1 : 0))])])),
            ]
            members.append(("state", .string(w.state.rawValue)))
            members.append(("build", .string(w.build)))
            members.append(("worker_id", .number(w.workerID)))
            if w.seat != nil { members.append(("held_connections", .number(w.held.count))) }
            if let h = w.serving {
                members.append(("client", .string("\(h.host):\(h.port)")))
                // (A seated worker does not say when it began: its scoreboard row does, in the zerg's stats.)
                if w.seat == nil { members.append(("busy_ms", .number(now > w.busySinceNs ? (now - w.busySinceNs) / 1_000_000 : 0))) }
            }
            return .object(members)
        }
        let parked = clients.values.filter { $0.state == .reading }.count
        return .object(UWSGIStats.header(listenQueue: waiting, listenQueueErrors: counters.queueTimeouts, sockets: sockets, workers: rows) + [
            // ours
            ("role", .string("vassal")),
            // Why requests are answered 503 at once (an app that cannot load), while it lasts.
            ("problem", appProblem.map(JSON.string) ?? .null),
        ] + UWSGIStats.binaryKeys(binary) + [
            ("parked_connections", .number(parked)),
            // Keep-alive connections seated workers hold between requests (`HandoffSeat`).
            ("held_connections", .number(workers.values.reduce(0) { $0 + $1.held.count })),
            ("daemons", daemons.json),
            // Waiting: `depth` in the vassal, `backlog` in the listeners (see `Vassal+Admission`);
            // the wait figures are the vassal's queue only (the kernel does not date a backlog).
            ("queue", .object([("depth", .number(queueDepth)), ("backlog", .number(backlog)), ("max_depth", .number(counters.maxQueueDepth)),
                               ("max_wait_ms", .number(counters.maxQueueWaitNs / 1_000_000)),
                               ("timeouts", .number(counters.queueTimeouts)),
                               ("wait_sum_us", .number(counters.waitSumNs / 1000)),
                               ("wait_histogram_ms", .array(counters.waitBuckets.enumerated().map { i, n in
                                   .object([("le", i < Self.waitBucketsMs.count ? .number(Self.waitBucketsMs[i]) : .string("+Inf")),
                                            ("count", .number(n))])
                               }))])),
            ("handoff", .object([("accepted", .number(counters.accepted)), ("dispatched", .number(counters.dispatched)),
                                 ("handed_back", .number(counters.handedBack)), ("closed_in_seats", .number(counters.closedInSeats)),
                                 ("refused_heads", .number(counters.refusedHeads)),
                                 ("lost_in_workers", .number(counters.lostInWorker)), ("retried", .number(counters.retried)),
                                 ("bad_gateway", .number(counters.badGateway)),
                                 ("head_timeouts", .number(counters.headTimeouts)), ("body_timeouts", .number(counters.bodyTimeouts)),
                                 ("shed", .number(counters.shed)), ("idle_closed_for_room", .number(counters.idleClosedForRoom)),
                                 ("max_connections", .number(maxConnections))])),
        ])
    }
}
