#if canImport(Glibc)
import Glibc
#endif
import Shared
import VassalCore

/// The vassal's options, typed and checked, from its configuration.
struct VassalSettings {
    /// `http` and `http-socket` (HTTP), then `socket`/`uwsgi-socket` (the uwsgi protocol, for nginx's uwsgi_pass).
    var sockets: [ServedSocket]
    var http: [ListenAddress] { sockets.map(\.address) }
    var zergServer: String
    var listenBacklog: Int32
    /// chmod-socket, chown-socket, uid, gid.
    var ownership: SocketOwnership
    /// Extra uids whose workers may attach (besides our own and root).
    var allowedUIDs: [uid_t]
    /// How long a parked keep-alive connection may stay idle (`http-timeout`).
    var httpTimeoutSeconds: Int
    /// What a request being read may take (`http-headers-timeout`, `http-body-timeout`, `http-body-min-rate`).
    var requestDeadlines: RequestDeadlines
    /// `max-connections` as given (0: from the open-file limit, see `Vassal.maxConnections`).
    var maxConnectionsOption: Int
    /// `buffer-size` and `post-buffering`.
    var requestLimits: RequestReading.Limits
    var queueTimeoutSeconds: Int
    var bufferSize: Int
    var logto: String?
    /// `attach-daemon` and kin.
    var daemons: [AttachedDaemon] = []
    /// `logto` and the `logger` lines.
    var logTargets: [LogTarget] = []
    /// `log-date`.
    var logDate: String?
    var reloadMercySeconds: Int
    var touchReload: [String]
    /// `stats` (and `stats-http`): uWSGI's stats socket.
    var stats: ListenAddress?
    var statsHTTP: Bool
    /// TCP_DEFER_ACCEPT on the client listeners, for this many seconds (0: off).
    var deferAcceptSeconds: Int32
    var touchLogReopen: [String]
    /// The process title: `procname-master` (or `procname`), else with
    /// `auto-procname` (or a prefix) `vassal <build>` (`vassal <port>` without a build).
    var title: String?

    init(_ config: Configuration) throws(ConfigError) {
        var problems: [ConfigDiagnostic] = []
        sockets = ServedSocket.all(in: config, http: ["http", "http-socket"], problems: &problems)
        zergServer = config.string("zerg-server") ?? ""
        listenBacklog = Int32(clamping: max(1, config.int("listen") ?? 100))
        ownership = SocketOwnership(config, problems: &problems)
        allowedUIDs = []
        for entry in config.occurrences("zerg-allow-uid") {
            if let u = Identity.uid(entry.value) {
                allowedUIDs.append(u)
            } else {
                problems.append(ConfigDiagnostic(entry.origin, "`zerg-allow-uid = \(entry.value)`: no such user"))
            }
        }
        httpTimeoutSeconds = max(1, config.int("http-timeout") ?? 60)
        queueTimeoutSeconds = max(1, config.int("queue-timeout") ?? 30)
        bufferSize = min(max(256, config.size("buffer-size") ?? 4096), 128 * 1024)
        requestDeadlines = RequestDeadlines(config)
        maxConnectionsOption = max(0, config.int("max-connections") ?? 0)
        requestLimits = .init(headLimit: bufferSize, postBuffering: min(max(0, config.size("post-buffering") ?? 0), 16 << 20))
        logto = config.string("logto")
        logTargets = LogTarget.all(config, "logger", problems: &problems)
        daemons = AttachedDaemon.all(in: config, problems: &problems)
        logDate = config.string("log-date")
        reloadMercySeconds = max(0, config.int("reload-mercy") ?? 30)
        touchReload = config.strings("touch-reload")
        stats = config.string("stats").flatMap(ListenAddress.init(parsing:))
        statsHTTP = config.bool("stats-http")
        deferAcceptSeconds = config.deferAcceptSeconds
        touchLogReopen = config.strings("touch-logreopen")
        title = ProcessNames(config).title(explicit: config.string("procname-master") ?? config.string("procname"),
                                           automatic: "vassal \(config.placeholder("build") ?? sockets.first?.description ?? "")")

        if sockets.isEmpty {
            problems.append(ConfigDiagnostic(.builtIn, "nothing to listen on: give `http = [host]:port` (or `socket = [host]:port` for nginx's uwsgi_pass)"))
        }
        if zergServer.isEmpty {
            problems.append(ConfigDiagnostic(.builtIn, "no `zerg-server = PATH`: workers would have nowhere to attach"))
        }
        if !problems.isEmpty { throw ConfigError(problems) }
    }

    static func load(arguments: [String]) throws(ConfigError) -> (Configuration, VassalSettings) {
        let config = try ConfigLoader(role: .vassal).load(arguments: arguments)
        return (config, try VassalSettings(config))
    }
}
