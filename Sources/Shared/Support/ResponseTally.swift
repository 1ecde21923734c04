/// Responses by status class and how long they took, as cumulative counts:
/// the zerg's workers add to them (its scoreboard's totals row), its stats
/// document shows them (`responses`, `latency`), and the emperor takes the
/// difference between two samples for its history and quantiles.
///
/// Durations go into fixed buckets (upper bounds in microseconds, then one
/// for anything longer), fine enough that a quantile read from them is within
/// a quarter to a third of the true value between 1 ms and 1 s: 0.25 ms up to
/// 30 s, about ×1.33–1.5 apart. Bucket counts are not cumulative here; the
/// Prometheus exposition makes them so.
public struct ResponseTally: Equatable, Sendable {
    /// Bucket upper bounds (µs); a last bucket holds what is longer than all.
    public static let boundsMicros: [Int64] = [
        250, 500, 750, 1_000, 1_500, 2_000, 3_000, 4_000, 5_000, 7_500, 10_000, 15_000, 20_000, 30_000, 40_000,
        50_000, 75_000, 100_000, 150_000, 200_000, 300_000, 500_000, 750_000, 1_000_000, 2_000_000, 5_000_000,
        10_000_000, 30_000_000,
    ]
    public static var bucketCount: Int { boundsMicros.count + 1 }
    /// 1xx, 2xx, 3xx, 4xx, 5xx.
    public static let classNames = ["1xx", "2xx", "3xx", "4xx", "5xx"]

    /// Responses per class (index 0 = 1xx).
    public var classes: [Int64]
    /// Responses per duration bucket.
    public var buckets: [Int64]
    /// Their durations added up (µs).
    public var sumMicros: Int64

    public init(classes: [Int64] = Array(repeating: 0, count: 5), buckets: [Int64] = Array(repeating: 0, count: bucketCount), sumMicros: Int64 = 0) {
        self.classes = classes
        self.buckets = buckets
        self.sumMicros = sumMicros
    }

    /// The class index of a status code (nil outside 100–599).
    public static func classIndex(status: Int) -> Int? { (100..<600).contains(status) ? status / 100 - 1 : nil }

    /// The bucket a duration falls in.
    public static func bucket(micros: Int64) -> Int {
        var low = 0, high = boundsMicros.count
        while low < high {
            let mid = (low + high) / 2
            if micros <= boundsMicros[mid] { high = mid } else { low = mid + 1 }
        }
        return low
    }

    public var count: Int64 { buckets.reduce(0, +) }

    /// What was added since `earlier`; nil when a count went back (the process
    /// was restarted: its counts began again from 0).
    public func since(_ earlier: ResponseTally) -> ResponseTally? {
        guard classes.count == earlier.classes.count, buckets.count == earlier.buckets.count else { return nil }
        let c = zip(classes, earlier.classes).map { $0 - $1 }
        let b = zip(buckets, earlier.buckets).map { $0 - $1 }
        let s = sumMicros - earlier.sumMicros
        guard !c.contains(where: { $0 < 0 }), !b.contains(where: { $0 < 0 }), s >= 0 else { return nil }
        return ResponseTally(classes: c, buckets: b, sumMicros: s)
    }

    public static func + (a: ResponseTally, b: ResponseTally) -> ResponseTally {
        ResponseTally(classes: zip(a.classes, b.classes).map { $0 + $1 }, buckets: zip(a.buckets, b.buckets).map { $0 + $1 },
                      sumMicros: a.sumMicros + b.sumMicros)
    }

    /// The `q` quantile (0…1) in milliseconds, interpolated linearly within its
    /// bucket (the last, open bucket answers its lower bound); nil with no responses.
    public func quantileMs(_ q: Double) -> Double? {
        let total = count
        guard total > 0 else { return nil }
        let rank = max(1, (q * Double(total)).rounded(.up))
        var seen: Int64 = 0
        for (i, n) in buckets.enumerated() where n > 0 {
            if Double(seen + n) >= rank {
                let low = i == 0 ? 0 : Double(Self.boundsMicros[i - 1])
                guard i < Self.boundsMicros.count else { return low / 1000 }
                let high = Double(Self.boundsMicros[i])
                return (low + (high - low) * (rank - Double(seen)) / Double(n)) / 1000
            }
            seen += n
        }
        return nil
    }

    /// `{"responses": {"1xx": …}, "latency": {"sum_us": …, "buckets": [{"le_us": 250, "count": …}, …, {"le_us": null, …}]}}` members.
    public var jsonMembers: [(String, JSON)] {
        [
            ("responses", .object(zip(Self.classNames, classes).map { ($0, .int($1)) })),
            ("latency", .object([
                ("sum_us", .int(sumMicros)),
                ("buckets", .array(buckets.enumerated().map { i, n in
                    .object([("le_us", i < Self.boundsMicros.count ? .int(Self.boundsMicros[i]) : .null), ("count", .int(n))])
                })),
            ])),
        ]
    }

    /// Read back from a stats document (nil when it has none: an older zerg).
    public init?(stats: JSON) {
        guard let responses = stats["responses"], let latency = stats["latency"] else { return nil }
        let buckets = latency["buckets"]?.arrayValue.map { $0["count"]?.intValue ?? 0 } ?? []
        guard buckets.count == Self.bucketCount else { return nil }
        self.init(classes: Self.classNames.map { responses[$0]?.intValue ?? 0 }, buckets: buckets,
                  sumMicros: latency["sum_us"]?.intValue ?? 0)
    }
}
