import Shared

/// uWSGI's cheaper subsystem: how many workers run, between `cheaper` and
/// `workers`, decided once a second from how busy they are and how many
/// requests wait (`../shared/reference/uwsgi.md` §4, behaviour not code).
/// A pure state machine: the master feeds it samples and acts on its answer
/// (n > 0: start n workers; n < 0: retire one idle worker; 0: nothing).
public struct Cheaper {
    public enum Algorithm: String, Sendable, CaseIterable { case busyness, spare, spare2, backlog, manual }

    public struct Settings: Equatable {
        public var minimum: Int          // cheaper
        public var initial: Int          // cheaper-initial
        public var maximum: Int          // workers
        public var step: Int             // cheaper-step (1 for every algorithm by default)
        public var overload: Int         // cheaper-overload: busyness window seconds; spare cycles; backlog threshold
        public var algorithm: Algorithm
        public var busyMin = 25, busyMax = 50, multiplier = 10, penalty = 2
        public var backlogAlert = 33, backlogMultiplier = 3, backlogStep = 1, backlogNonzeroSeconds = 60
        public var idleCycles = 10       // cheaper-idle (spare2)

        public init?(_ config: Configuration, workers: Int) {
            let minimum = config.int("cheaper") ?? 0
            guard minimum > 0 else { return nil }
            self.minimum = min(minimum, max(1, workers - 1))
            maximum = workers
            initial = min(max(config.int("cheaper-initial") ?? self.minimum, self.minimum), workers)
            step = max(1, config.int("cheaper-step") ?? 1)
            overload = max(1, config.int("cheaper-overload") ?? 3)
            algorithm = Algorithm(rawValue: config.string("cheaper-algo") ?? "spare") ?? .spare
            busyMin = config.int("cheaper-busyness-min") ?? busyMin
            busyMax = config.int("cheaper-busyness-max") ?? busyMax
            multiplier = max(1, config.int("cheaper-busyness-multiplier") ?? multiplier)
            penalty = config.int("cheaper-busyness-penalty") ?? penalty
            backlogAlert = config.int("cheaper-busyness-backlog-alert") ?? backlogAlert
            backlogMultiplier = max(1, config.int("cheaper-busyness-backlog-multiplier") ?? backlogMultiplier)
            backlogStep = max(1, config.int("cheaper-busyness-backlog-step") ?? backlogStep)
            backlogNonzeroSeconds = config.int("cheaper-busyness-backlog-nonzero") ?? backlogNonzeroSeconds
            idleCycles = max(1, config.int("cheaper-idle") ?? idleCycles)
        }
    }

    /// One active worker, as sampled this cycle.
    public struct Sample {
        public let id: Int
        public let busy: Bool
        /// Microseconds spent in completed requests, ever.
        public let busyMicros: Int64
        public init(id: Int, busy: Bool, busyMicros: Int64) {
            self.id = id
            self.busy = busy
            self.busyMicros = busyMicros
        }
    }

    public let settings: Settings
    // busyness
    private var multi: Int
    private var lastAction: Int = 0       // +1 spawn, -1 cheap
    private var lastCheapedS: Double = -1e9
    private var nextCheapS: Double
    private var tolerance = 0
    private var emergency = 0
    private var wasBusy: [Int: Int] = [:]
    private var lastMicros: [Int: Int64] = [:]
    private var windowStartS: Double
    private var nonzeroSinceS: Double?
    // spare / spare2
    private var overloadCount = 0
    private var idleCount = 0
    /// The last window's average busyness (%), for logs and stats.
    public private(set) var lastAverage = 0

    public init(_ settings: Settings, nowS: Double) {
        self.settings = settings
        multi = settings.multiplier
        windowStartS = nowS
        nextCheapS = nowS + Double(settings.overload * settings.multiplier)
    }

    /// Called once a second. `backlog`: requests waiting for a worker.
    public mutating func decide(nowS: Double, active: [Sample], backlog: Int, freeSlots: Int) -> Int {
        let canSpawn = freeSlots > 0
        switch settings.algorithm {
        case .manual: return 0
        case .busyness: return busyness(nowS, active, backlog, freeSlots)
        case .backlog:
            if backlog > settings.overload && canSpawn { return min(settings.step, freeSlots) }
            if backlog < settings.overload && active.count > settings.minimum { return -1 }
            return 0
        case .spare:
            let idle = active.filter { !$0.busy }.count
            if idle == 0 {
                overloadCount += 1
                idleCount = 0
            } else if overloadCount > 0 {
                overloadCount -= 1
            }
            if overloadCount >= settings.overload && canSpawn {
                overloadCount = 0
                return min(settings.step, freeSlots)
            }
            if overloadCount == 0 && idle != 1 {
                idleCount += 1
                if idleCount >= settings.overload && active.count > settings.minimum {
                    idleCount = 0
                    return -1
                }
            }
            return 0
        case .spare2:
            let idle = active.filter { !$0.busy }.count
            if idle < settings.minimum {
                idleCount = 0
                return canSpawn ? min(settings.minimum - idle, freeSlots, settings.step) : 0
            }
            if idle == settings.minimum {
                idleCount = 0
                return 0
            }
            idleCount += 1
            if idleCount >= settings.idleCycles && active.count > settings.minimum {
                idleCount = 0
                return -1
            }
            return 0
        }
    }

    private mutating func nextCheapDelay() -> Double {
        Double(settings.overload * (emergency > 0 ? settings.backlogMultiplier : multi))
    }

    private mutating func emergencySpawn(_ nowS: Double, _ freeSlots: Int) -> Int {
        multi = settings.multiplier
        lastAction = 1
        let n = min(settings.backlogStep, freeSlots)
        emergency += n
        nextCheapS = nowS + nextCheapDelay()
        return n
    }

    private mutating func busyness(_ nowS: Double, _ active: [Sample], _ backlog: Int, _ freeSlots: Int) -> Int {
        let s = settings
        let window = Double(s.overload)
        for w in active { wasBusy[w.id, default: 0] += w.busy ? 1 : 0 }
        guard nowS - windowStartS >= window else {
            // Between windows: a long queue adds workers at once.
            if freeSlots > 0 && backlog > s.backlogAlert { return emergencySpawn(nowS, freeSlots) }
            if backlog > 0 {
                if let since = nonzeroSinceS {
                    if freeSlots > 0 && nowS - since >= Double(s.backlogNonzeroSeconds) {
                        nonzeroSinceS = nowS
                        return emergencySpawn(nowS, freeSlots)
                    }
                } else {
                    nonzeroSinceS = nowS
                }
            } else {
                nonzeroSinceS = nil
            }
            return 0
        }
        let elapsed = nowS - windowStartS
        windowStartS = nowS
        var total = 0
        for w in active {
            let previous = lastMicros[w.id] ?? w.busyMicros
            let delta = max(0, w.busyMicros - previous)
            var pct = Int(min(100, Double(delta) / (elapsed * 1e6) * 100))
            if delta == 0 && (wasBusy[w.id] ?? 0) > 0 { pct = 100 }  // one long request still running
            total += pct
            wasBusy[w.id] = 0
            lastMicros[w.id] = w.busyMicros
        }
        let ids = Set(active.map(\.id))
        lastMicros = lastMicros.filter { ids.contains($0.key) }
        wasBusy = wasBusy.filter { ids.contains($0.key) }
        let avg = active.isEmpty ? 0 : total / active.count
        lastAverage = avg
        if avg > s.busyMax {
            tolerance = 0
            let n = min(s.step, freeSlots)
            if n > 0 {
                lastAction = 1
                if (nowS - lastCheapedS) / window <= Double(multi) {
                    multi += s.penalty  // a worker retired too early had to come back
                } else {
                    multi = max(s.multiplier, multi - 1)
                }
                nextCheapS = nowS + nextCheapDelay()
            }
            return n
        }
        if freeSlots > 0 && backlog > s.backlogAlert { return emergencySpawn(nowS, freeSlots) }
        if avg < s.busyMin {
            if active.count <= 1 { return 0 }
            tolerance = 0
            if active.count > s.minimum && nowS >= nextCheapS {
                if lastAction == -1 { multi = max(s.multiplier, multi - 1) }
                nextCheapS = nowS + nextCheapDelay()
                lastCheapedS = nowS
                lastAction = -1
                if emergency > 0 { emergency -= 1 }
                return -1
            }
            return 0
        }
        if active.count <= 1 { return 0 }
        if emergency > 0 { emergency -= 1 }
        tolerance += 1
        if tolerance >= 3 {
            nextCheapS = nowS + nextCheapDelay()
        } else {
            nextCheapS += window  // this window does not count as idle
        }
        return 0
    }
}
