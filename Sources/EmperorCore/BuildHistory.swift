import Shared

/// One interval of a build's history: rates per second over it, latency
/// quantiles of the responses that ended in it, gauges at (or over) it.
/// 88 bytes, so a build's whole window (`BuildHistory`, 1,980 points) is
/// 174 KB once full, and 20 builds' 3.5 MB.
public struct HistoryPoint: Sendable, Equatable {
    /// End of the interval (epoch ms) and its length.
    public var epochMs: Int64
    public var seconds: Float
    /// Responses per second, all of them and by class (the vassal's own 503s,
    /// 502s and refused heads included).
    public var rps: Float = 0
    public var ok: Float = 0, redirect: Float = 0, clientError: Float = 0, serverError: Float = 0
    /// The vassal's 503s per second (queue timeout, caps), and lost handoffs per second.
    public var unavailable: Float = 0
    public var failedHandoffs: Float = 0
    /// Latency quantiles in ms (nil: no response in the interval).
    public var p50: Float?, p90: Float?, p99: Float?
    /// Requests waiting (the most seen), workers busy and ready (averages over a coarse point).
    public var queue: Float = 0
    public var busy: Float = 0, ready: Float = 0
    public var rssBytes: Int64 = 0

    /// The point between two samples of the same build.
    public init(from earlier: BuildSample, to now: BuildSample) {
        epochMs = now.epochMs
        let ns = now.monotonicNs > earlier.monotonicNs ? now.monotonicNs - earlier.monotonicNs : 1
        seconds = Float(Double(ns) / 1e9)
        let perSecond = { (n: Int64) -> Float in Float(Double(n) * 1e9 / Double(ns)) }
        // Counters that went back (a restart) count from 0 again.
        let tally = now.tally.map { t in earlier.tally.flatMap { t.since($0) } ?? t } ?? ResponseTally()
        let vassal = now.vassal.map { v in earlier.vassal.map { v.since($0) } ?? v } ?? BuildSample.VassalCounts()
        let c = tally.classes
        ok = perSecond(c[0] + c[1])
        redirect = perSecond(c[2])
        clientError = perSecond(c[3] + vassal.refused)
        serverError = perSecond(c[4] + vassal.unavailable + vassal.badGateway)
        rps = ok + redirect + clientError + serverError
        unavailable = perSecond(vassal.unavailable)
        failedHandoffs = perSecond(vassal.failedHandoffs)
        p50 = tally.quantileMs(0.5).map(Float.init)
        p90 = tally.quantileMs(0.9).map(Float.init)
        p99 = tally.quantileMs(0.99).map(Float.init)
        queue = Float(now.queue)
        busy = Float(now.busy)
        ready = Float(now.ready)
        rssBytes = now.rssBytes
    }

    /// A point back from its `values` (an emperor upgrade hands its history over); nil if malformed.
    public init?(values v: [JSON]) {
        guard v.count == Self.columns.count, let t = v[0].intValue else { return nil }
        func f(_ i: Int) -> Float { Float(v[i].doubleValue ?? 0) }
        func q(_ i: Int) -> Float? { v[i].doubleValue.map(Float.init) }
        epochMs = t
        seconds = f(1)
        rps = f(2)
        ok = f(3)
        redirect = f(4)
        clientError = f(5)
        serverError = f(6)
        unavailable = f(7)
        failedHandoffs = f(8)
        p50 = q(9)
        p90 = q(10)
        p99 = q(11)
        queue = f(12)
        busy = f(13)
        ready = f(14)
        rssBytes = v[15].intValue ?? 0
    }

    /// The columns of `/history.json`, in order, with each point's values.
    public static let columns = ["t", "seconds", "rps", "2xx", "3xx", "4xx", "5xx", "503", "failed_handoffs",
                                 "p50", "p90", "p99", "queue", "busy", "ready", "rss"]
    public var values: [JSON] {
        func r(_ v: Float) -> JSON { .double((Double(v) * 100).rounded() / 100) }
        func q(_ v: Float?) -> JSON { v.map(r) ?? .null }
        return [.int(epochMs), r(seconds), r(rps), r(ok), r(redirect), r(clientError), r(serverError), r(unavailable), r(failedHandoffs),
                q(p50), q(p90), q(p99), r(queue), r(busy), r(ready), .int(rssBytes)]
    }
}

/// A build's history in bounded memory: a point a second for the last 15
/// minutes, and a point each 10 s for the last 3 hours. Coarse points are
/// made from the samples at their ends, like fine ones (so their quantiles
/// are exact for the bucket grid, not averages of quantiles); their gauges
/// are the most waiting and the average workers busy/ready over the 10 s.
public struct BuildHistory: Sendable {
    public static let fine = (seconds: 1, count: 900)
    public static let coarse = (seconds: 10, count: 1080)

    public private(set) var finePoints = Ring<HistoryPoint>(capacity: fine.count)
    public private(set) var coarsePoints = Ring<HistoryPoint>(capacity: coarse.count)
    private var lastSample: BuildSample?
    private var coarseStart: BuildSample?
    /// Gauges over the coarse point being made: most waiting, sums of busy and ready, samples.
    private var gauges = (queue: Float(0), busy: Float(0), ready: Float(0), samples: Float(0))

    public init() {}

    /// A history handed over by the emperor image this one replaced (its
    /// points; the next sample starts the next point).
    public init(fine: [HistoryPoint], coarse: [HistoryPoint]) {
        for p in fine { finePoints.append(p) }
        for p in coarse { coarsePoints.append(p) }
    }

    /// Adds a sample: a fine point from the last one, and a coarse point when
    /// a 10-second boundary of the wall clock was crossed.
    public mutating func record(_ sample: BuildSample) {
        if let last = lastSample {
            let point = HistoryPoint(from: last, to: sample)
            finePoints.append(point)
            gauges.queue = max(gauges.queue, point.queue)
            gauges.busy += point.busy
            gauges.ready += point.ready
            gauges.samples += 1
        }
        lastSample = sample
        let period = Int64(Self.coarse.seconds) * 1000
        guard let start = coarseStart else {
            coarseStart = sample
            return
        }
        guard sample.epochMs / period != start.epochMs / period else { return }
        var point = HistoryPoint(from: start, to: sample)
        if gauges.samples > 0 {
            point.queue = gauges.queue
            point.busy = gauges.busy / gauges.samples
            point.ready = gauges.ready / gauges.samples
        }
        coarsePoints.append(point)
        coarseStart = sample
        gauges = (0, 0, 0, 0)
    }

    /// Points that end after `sinceMs`: fine ones when the fine window reaches
    /// back that far (or `step` asks for 1 s), else coarse ones.
    public func points(sinceMs: Int64, step: Int? = nil) -> (step: Int, points: [HistoryPoint]) {
        let oldestFine = finePoints.isEmpty ? Int64.max : finePoints[0].epochMs
        let useFine = step.map { $0 < Self.coarse.seconds } ?? (sinceMs >= oldestFine - 1000 || coarsePoints.isEmpty)
        let ring = useFine ? finePoints : coarsePoints
        return (useFine ? Self.fine.seconds : Self.coarse.seconds, ring.suffix { $0.epochMs > sinceMs })
    }

    public var latest: HistoryPoint? { finePoints.last }
}
