import Shared

/// Something that happened to a build during a deploy, with when and why:
/// the emperor's `/events.json`, its log, and the dashboard's chart markers.
public struct DeployEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// A config file appeared (or came back).
        case configSeen = "config seen"
        case started
        case ready
        /// Touched, HUP'd, or its binary upgraded: `cause` says which.
        case reloaded
        case stopped
        /// Exited without being asked (`cause`: its status).
        case crashed
        /// Started again after a crash.
        case respawned
        /// A worker replaced (`cause`: max-requests, reload-on-rss…).
        case workerRecycled = "worker recycled"
        case harakiri
        /// `_live` / `_stage` now points at this build.
        case live
        case stage
        case nginxReloaded = "nginx reloaded"
        /// The emperor re-exec'd itself (SIGUSR2), keeping its instances, history and events.
        case emperorUpgraded = "emperor upgraded"
    }

    public var epochMs: Int64
    /// The build it concerns ("" for none in particular).
    public var build: String
    public var kind: Kind
    /// vassal, zerg, or a worker ("worker 3"), when it concerns one.
    public var subject: String
    public var cause: String

    public init(epochMs: Int64, build: String, kind: Kind, subject: String = "", cause: String = "") {
        self.epochMs = epochMs
        self.build = build
        self.kind = kind
        self.subject = subject
        self.cause = cause
    }

    public var json: JSON {
        .object([("t", .int(epochMs)), ("build", .string(build)), ("event", .string(kind.rawValue)),
                 ("subject", .string(subject)), ("cause", .string(cause))])
    }

    public init?(json: JSON) {
        guard let t = json["t"]?.intValue, let kind = json["event"]?.stringValue.flatMap(Kind.init(rawValue:)) else { return nil }
        self.init(epochMs: t, build: json["build"]?.stringValue ?? "", kind: kind, subject: json["subject"]?.stringValue ?? "",
                  cause: json["cause"]?.stringValue ?? "")
    }

    /// The log line: "event: build c zerg reloaded (touch zerg.ini)".
    public var logLine: String {
        var s = build.isEmpty ? "event:" : "event: build \(build)"
        if !subject.isEmpty { s += " \(subject)" }
        s += " \(kind.rawValue)"
        if !cause.isEmpty { s += " (\(cause))" }
        return s
    }
}

/// The events of the last 3 hours (at most `capacity`: a crash loop cannot
/// grow it without bound), oldest first.
public struct EventLog: Sendable {
    public static let windowMs: Int64 = 3 * 3600 * 1000
    public static let capacity = 10_000
    public private(set) var events = Ring<DeployEvent>(capacity: capacity)

    public init() {}

    public mutating func append(_ event: DeployEvent) { events.append(event) }

    /// Events after `sinceMs` and within the window ending at `nowMs`.
    public func since(_ sinceMs: Int64, nowMs: Int64) -> [DeployEvent] {
        let from = max(sinceMs, nowMs - Self.windowMs)
        return events.suffix { $0.epochMs > from }
    }
}
