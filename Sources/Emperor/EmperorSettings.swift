import Shared

/// The emperor's own options, typed, from its configuration.
struct EmperorSettings {
    var patterns: [String]
    var rescanSeconds: Int
    var followSymlinks: Bool
    var wrapper: String?
    var binaryDirectory: String
    var statsAddress: ListenAddress?
    /// `status`: the HTTP status page (dashboard, status.json, metrics).
    var statusAddress: ListenAddress?
    var backoffStepMs: Int
    var backoffCapMs: Int

    /// A new instance's respawn delays.
    var backoff: Backoff { Backoff(stepMs: backoffStepMs, capMs: backoffCapMs, stableSeconds: stableSeconds) }
    var stableSeconds: Int
    var reloadMercySeconds: Int
    var gracefulStop: Bool
    var pidfile: String?
    /// `emperor-procname`, with `procname-prefix`/`-append`/`auto-procname` around it.
    var title: String?
    /// Where instances keep their adoption sockets (see `EmperorLink`).
    var runDirectory: String
    var lostGraceSeconds: Int
    var vassalSet: [String]
    var logto: String?
    /// `logto` and the `logger` lines.
    var logTargets: [LogTarget] = []
    /// `log-date`.
    var logDate: String?

    init(_ config: Configuration) throws(ConfigError) {
        patterns = config.strings("emperor")
        rescanSeconds = max(1, config.int("emperor-freq") ?? 3)
        followSymlinks = !config.bool("emperor-nofollow")
        wrapper = config.string("emperor-wrapper")
        // Beside the emperor's own path as started (not /proc/self/exe: a symlink retargeted by an upgrade counts).
        binaryDirectory = config.string("binary-path")
            ?? FileSystem.directoryName(OwnBinary.resolvePath(argv0: CommandLine.arguments[0], environment: Host.environment()))
        if let text = config.string("emperor-stats") {
            guard let address = ListenAddress(parsing: text) else {
                throw ConfigError(config.origin("emperor-stats") ?? .builtIn, "`emperor-stats = \(text)`: expected a unix socket path or host:port")
            }
            statsAddress = address
        }
        if let text = config.string("status") {
            guard let address = ListenAddress(parsing: text) else {
                throw ConfigError(config.origin("status") ?? .builtIn, "`status = \(text)`: expected host:port or a unix socket path")
            }
            statusAddress = address
        }
        backoffStepMs = max(1, config.int("emperor-throttle") ?? 1000)
        backoffCapMs = max(backoffStepMs, config.int("emperor-max-throttle") ?? 180_000)
        stableSeconds = max(0, config.int("emperor-stable-time") ?? 10)
        reloadMercySeconds = max(0, config.int("reload-mercy") ?? 30)
        gracefulStop = config.bool("emperor-graceful-shutdown")
        pidfile = config.string("emperor-pidfile")
        title = ProcessNames(config).title(explicit: config.string("emperor-procname"), automatic: "emperor")
        runDirectory = config.string("emperor-run-dir") ?? Self.defaultRunDirectory()
        lostGraceSeconds = max(0, config.int("emperor-lost-grace") ?? EmperorLink.defaultGraceSeconds)
        vassalSet = config.strings("vassal-set")
        logto = config.string("logto")
        var problems: [ConfigDiagnostic] = []
        logTargets = LogTarget.all(config, "logger", problems: &problems)
        if !problems.isEmpty { throw ConfigError(problems) }
        logDate = config.string("log-date")
    }

    /// A directory that needs no option and is the same for an emperor started
    /// again by the same user: /run/hadjango (root), $XDG_RUNTIME_DIR/hadjango, /tmp/hadjango-UID.
    static func defaultRunDirectory() -> String {
        if Host.uid == 0 && FileSystem.isDirectory("/run") { return "/run/hadjango" }
        if let runtime = Host.environment()["XDG_RUNTIME_DIR"], FileSystem.isDirectory(runtime) { return FileSystem.joined(runtime, "hadjango") }
        return "/tmp/hadjango-\(Host.uid)"
    }
}
