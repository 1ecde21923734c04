import Shared

/// What the emperor reads about one build at one moment: its zerg's and its
/// vassal's counters (cumulative, as their stats documents give them) and its
/// gauges. Two samples make a history point (`BuildHistory`).
public struct BuildSample: Sendable {
    /// When it was taken: monotonic (for rates) and wall clock (for the time axis).
    public var monotonicNs: UInt64
    public var epochMs: Int64
    /// The zerg's responses and durations since it started (nil: no zerg running, or an older one).
    public var tally: ResponseTally?
    /// What the vassal answered itself, since it started.
    public var vassal: VassalCounts?
    /// Requests waiting in the vassal (its queue and its listener's backlog).
    public var queue: Int = 0
    /// Workers running a request now, and workers up and accepting.
    public var busy: Int = 0
    public var ready: Int = 0
    /// Resident memory of the build's processes (vassal, zerg master, workers).
    public var rssBytes: Int64 = 0

    public init(monotonicNs: UInt64, epochMs: Int64) {
        self.monotonicNs = monotonicNs
        self.epochMs = epochMs
    }

    /// The vassal's own answers and failures, cumulative.
    public struct VassalCounts: Sendable, Equatable {
        /// 503s: the queue timed out, or the connection cap or the descriptors ran out.
        public var unavailable: Int64
        /// 502s: a worker died with the request and it could not be sent again.
        public var badGateway: Int64
        /// 4xx: heads refused (malformed, too large, too slow).
        public var refused: Int64
        /// Connections a worker lost (it died or refused them), resent or not.
        public var failedHandoffs: Int64

        public init(unavailable: Int64 = 0, badGateway: Int64 = 0, refused: Int64 = 0, failedHandoffs: Int64 = 0) {
            self.unavailable = unavailable
            self.badGateway = badGateway
            self.refused = refused
            self.failedHandoffs = failedHandoffs
        }

        /// From a vassal's stats document (`listen_queue_errors`, `handoff`).
        public init(stats: JSON) {
            let h = stats["handoff"]
            self.init(unavailable: (stats["listen_queue_errors"]?.intValue ?? 0) + (h?["shed"]?.intValue ?? 0),
                      badGateway: h?["bad_gateway"]?.intValue ?? 0,
                      refused: h?["refused_heads"]?.intValue ?? 0,
                      failedHandoffs: h?["lost_in_workers"]?.intValue ?? 0)
        }

        /// What was added since `earlier`, each count on its own: one that went
        /// back (the vassal was restarted) counts from 0.
        public func since(_ earlier: VassalCounts) -> VassalCounts {
            func d(_ now: Int64, _ then: Int64) -> Int64 { now >= then ? now - then : now }
            return VassalCounts(unavailable: d(unavailable, earlier.unavailable), badGateway: d(badGateway, earlier.badGateway),
                                refused: d(refused, earlier.refused), failedHandoffs: d(failedHandoffs, earlier.failedHandoffs))
        }
    }

    /// The gauges and counters from a build's stats documents (either may be missing).
    public mutating func read(vassal: JSON?, zerg: JSON?) {
        if let vassal {
            self.vassal = VassalCounts(stats: vassal)
            queue = Int(vassal["listen_queue"]?.intValue ?? 0)
        }
        if let zerg {
            tally = ResponseTally(stats: zerg)
            for w in zerg["workers"]?.arrayValue ?? [] where (w["pid"]?.intValue ?? 0) > 0 {
                if w["status"]?.stringValue == "busy" { busy += 1 }
                if w["accepting"]?.intValue == 1 { ready += 1 }
            }
        }
    }
}
