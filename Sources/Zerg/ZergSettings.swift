import Shared
import ZergCore

/// The zerg's options, typed and checked, from its configuration.
struct ZergSettings {
    /// `http-socket`, then `socket`/`uwsgi-socket` (uwsgi unless `protocol = http`).
    var sockets: [ServedSocket]
    /// `http` (uWSGI's quickstart router): a vassal owns these ports, the workers attach to it (`Router`).
    var routerHTTP: [ListenAddress]
    var zergServers: [String]
    var workers: Int
    /// Request threads per worker (`threads`); 1: the worker serves on its main thread.
    var threads: Int
    /// `threads-stacksize`: each request thread's stack, in bytes (0: the system's default).
    var threadStackBytes: Int
    var wsgiFile: String?
    var module: String?
    var callable: String
    var pythonPath: [String]
    var home: String?
    var chdir: String?
    var env: [String]
    var unenv: [String]
    var bufferSize: Int
    var socketTimeoutMs: Int32
    var keepAliveTimeoutSeconds: Int
    /// Head and body deadlines (`http-headers-timeout`, `http-body-timeout`, `http-body-min-rate`).
    var requestDeadlines: RequestDeadlines
    /// `max-connections` as given (0: from the open-file limit, see `Worker.maxConnections`).
    var maxConnectionsOption: Int
    var listenBacklog: Int32
    var logto: String?
    /// `logto` and the `logger` lines: where this zerg's log goes.
    var logTargets: [LogTarget]
    /// `req-logger` lines (none: with the rest of the log).
    var requestLogTargets: [LogTarget]
    /// `log-date` / `logdate`.
    var logDate: String?
    /// `log-reopen`: the log files are opened again at each reload.
    var logReopen: Bool
    var logFormat: String?
    var logXForwardedFor: Bool
    /// Request headers with `_` in their names reach the app (`http-allow-underscore-headers`).
    var allowUnderscoreHeaders: Bool
    var disableLogging: Bool
    /// Workers of a CPU-bound app computing at once (0: no limit); see CPUGate.
    var cpuSlots: Int
    /// TCP_DEFER_ACCEPT on the client listeners, for this many seconds (0: off).
    var deferAcceptSeconds: Int32
    var procnameMaster: String?
    var procname: String?
    /// `procname-prefix`, `procname-append`, `auto-procname`.
    var names: ProcessNames
    /// Requests logged even with `disable-logging` (`log-4xx`, `log-5xx`, `log-slow`, `log-big`, `log-zero`, `log-ioerror`).
    var forcedLogging: ForcedLogging
    /// `log-maxsize` (bytes; 0: never): the master rotates `logto` past it, to `log-backupname`.
    var logMaxSize: Int
    var logBackupName: String?
    /// `need-app`: an app that does not load at start stops the zerg (status 22).
    var needApp: Bool
    /// `daemonize`: the log file of the detached process.
    var daemonizeLog: String?
    var reloadMercySeconds: Int
    var workerReloadMercySeconds: Int
    var pidfile: String?
    /// Milliseconds an attached worker waits for a keep-alive client's next request before handing it back.
    var keepAliveLingerMs: Int32
    /// Static files (`static-map`, `static-map2`, `check-static`, `static-index`, ...).
    var staticFiles: StaticFiles
    var staticExpiry: StaticExpiry
    /// `static-gzip*`: precompressed FILE.gz answers.
    var staticGzip: StaticGzip
    /// `mime-file` (default Debian's /etc/mime.types): content types of static files.
    var mimeTypes: MIMETypes
    /// `honour-range`: static files answer one `Range` (206).
    var honourRange: Bool
    /// The apps: the default one and `mount`s (`manage-script-name`).
    var mounts: AppMounts
    /// `attach-daemon`, `smart-attach-daemon`, `attach-daemon2`: run by the master.
    var daemons: [AttachedDaemon]
    /// `cron`, `unique-cron`, `cron2`: run by the master.
    var cronJobs: [CronJob]
    /// `locks`: user locks 0…locks for `uwsgi.lock(n)`.
    var locks: Int
    /// `cache2` / `cache`: the shared caches.
    var caches: [CacheSpec]
    /// The `build` placeholder (the seed sets `build = %c`): told to the vassal at attach.
    var build: String
    var ownership: SocketOwnership
    var lifecycle: WorkerLifecycle
    /// The adaptive worker count (`cheaper` > 0), else nil.
    var cheaper: Cheaper.Settings?
    /// `stats` (and `stats-http`): uWSGI's stats socket.
    var stats: ListenAddress?
    var statsHTTP: Bool

    /// The most workers a zerg runs (`workers`/`processes`).
    static let maxWorkers = 1024
    /// The most request threads a worker runs (`threads`).
    static let maxThreads = 256
    static let maxLocks = 1024

    init(_ config: Configuration) throws(ConfigError) {
        var problems: [ConfigDiagnostic] = []
        sockets = ServedSocket.all(in: config, problems: &problems)
        zergServers = config.strings("zerg")
        routerHTTP = []
        for entry in config.occurrences("http") {
            if let address = ListenAddress(parsing: entry.value) {
                routerHTTP.append(address)
            } else {
                problems.append(ConfigDiagnostic(entry.origin, "`http = \(entry.value)`: expected `[host]:port` or a socket path"))
            }
        }
        workers = config.int("workers") ?? 1
        if workers < 1 || workers > Self.maxWorkers {
            problems.append(ConfigDiagnostic(config.origin("workers") ?? .builtIn, "`workers = \(workers)`: expected 1 to \(Self.maxWorkers)"))
        }
        threads = config.int("threads") ?? 1
        if threads < 1 || threads > Self.maxThreads {
            problems.append(ConfigDiagnostic(config.origin("threads") ?? .builtIn, "`threads = \(threads)`: expected 1 to \(Self.maxThreads)"))
            threads = 1
        }
        threadStackBytes = max(0, config.int("threads-stacksize") ?? 0) * 1024
        wsgiFile = config.string("wsgi-file")
        module = config.string("module")
        callable = config.string("callable") ?? "application"
        if let m = module, let (mod, call) = m.splitOnce(":") {
            module = mod
            callable = call
        }
        pythonPath = config.strings("python-path")
        home = config.string("home")
        chdir = config.string("chdir")
        env = config.strings("env")
        unenv = config.strings("unenv")
        bufferSize = max(256, config.size("buffer-size") ?? 4096)
        socketTimeoutMs = Int32(clamping: max(1, config.int("socket-timeout") ?? 4) * 1000)
        keepAliveTimeoutSeconds = max(1, config.int("http-timeout") ?? 60)
        requestDeadlines = RequestDeadlines(config)
        maxConnectionsOption = max(0, config.int("max-connections") ?? 0)
        listenBacklog = Int32(clamping: max(1, config.int("listen") ?? 100))
        logto = config.string("logto")
        logTargets = LogTarget.all(config, "logger", problems: &problems)
        requestLogTargets = LogTarget.all(config, "req-logger", problems: &problems)
        logDate = config.string("log-date")
        logReopen = config.bool("log-reopen")
        logFormat = config.string("log-format")
        logXForwardedFor = config.bool("log-x-forwarded-for")
        allowUnderscoreHeaders = config.bool("http-allow-underscore-headers")
        disableLogging = config.bool("disable-logging")
        deferAcceptSeconds = config.deferAcceptSeconds
        cpuSlots = max(0, config.int("cpu-slots") ?? Host.cpuCount)
        procnameMaster = config.string("procname-master")
        procname = config.string("procname")
        names = ProcessNames(config)
        needApp = config.bool("need-app")
        daemonizeLog = config.string("daemonize")
        forcedLogging = ForcedLogging(config)
        logMaxSize = max(0, config.size("log-maxsize") ?? 0)
        logBackupName = config.string("log-backupname")
        reloadMercySeconds = max(0, config.int("reload-mercy") ?? 30)
        workerReloadMercySeconds = max(0, config.int("worker-reload-mercy") ?? 60)
        pidfile = config.string("pidfile")
        keepAliveLingerMs = Int32(clamping: max(0, config.int("handback-linger") ?? 2))
        staticFiles = StaticFiles(config, base: chdir, problems: &problems)
        staticExpiry = StaticExpiry(config, problems: &problems)
        staticGzip = StaticGzip(config, problems: &problems)
        mimeTypes = staticFiles.isEmpty ? MIMETypes() : MIMETypes(files: config.strings("mime-file").isEmpty ? ["/etc/mime.types"] : config.strings("mime-file"))
        honourRange = config.bool("honour-range")
        daemons = AttachedDaemon.all(in: config, problems: &problems)
        cronJobs = CronJob.all(in: config, problems: &problems)
        locks = config.int("locks") ?? 0
        if !(0...Self.maxLocks).contains(locks) {
            problems.append(ConfigDiagnostic(config.origin("locks") ?? .builtIn, "`locks = \(locks)`: expected 0 to \(Self.maxLocks)"))
        }
        caches = CacheSpec.all(in: config, problems: &problems)
        if caches.count > SharedArea.maxCaches {
            problems.append(ConfigDiagnostic(config.origin("cache2") ?? .builtIn, "\(caches.count) caches: at most \(SharedArea.maxCaches)"))
        }
        mounts = AppMounts(config, defaultFile: wsgiFile, defaultModule: module, callable: callable, problems: &problems)
        build = config.placeholder("build") ?? ""
        ownership = SocketOwnership(config, problems: &problems)
        lifecycle = WorkerLifecycle(config)
        cheaper = Cheaper.Settings(config, workers: workers)
        stats = config.string("stats").flatMap(ListenAddress.init(parsing:))
        statsHTTP = config.bool("stats-http")
        if let c = config.int("cheaper"), c > 0, c >= workers {
            problems.append(ConfigDiagnostic(config.origin("cheaper") ?? .builtIn, "`cheaper = \(c)` must be below `workers = \(workers)` (it is the minimum of an adaptive count up to `workers`)"))
        }

        if sockets.isEmpty && zergServers.isEmpty && routerHTTP.isEmpty {
            problems.append(ConfigDiagnostic(.builtIn, "nothing to serve: give `http-socket = [host]:port`, `http = [host]:port` (a vassal in front of the workers), `socket = [host]:port` (the uwsgi protocol, for nginx's uwsgi_pass) or `zerg = PATH` to attach to a vassal"))
        }
        if mounts.apps.isEmpty {
            problems.append(ConfigDiagnostic(.builtIn, "no application: give `wsgi-file = PATH`, `module = package.module[:callable]` or `mount = /prefix=app.py`"))
        }
        if !problems.isEmpty { throw ConfigError(problems) }
    }

    /// Loads the configuration from the command line (without argv[0]) and
    /// types it; master and workers both read it this way.
    static func load(arguments: [String]) throws(ConfigError) -> (Configuration, ZergSettings) {
        let config = try ConfigLoader(role: .zerg).load(arguments: arguments)
        return (config, try ZergSettings(config))
    }

    /// The one file the log goes to, written by every process itself (and
    /// inherited by children as stdout/stderr); nil with several targets or
    /// syslog, where the master reads its children's output (`logFansOut`).
    var logFile: String? { LogTarget.singleFile(logTargets) }

    /// Several targets, or syslog: children write into the master's log pipe,
    /// the master sends each line to every target (uWSGI's `log-master`).
    var logFansOut: Bool { logFile == nil && !logTargets.isEmpty && logTargets != [.stdio] }

    /// The file `log-maxsize` rotates: `logto`, else the first file logger.
    var rotatedLog: String? {
        logto ?? logTargets.lazy.compactMap { if case .file(let path) = $0 { path } else { nil } }.first
    }

    /// A process's title (see `ProcessNames`).
    func title(explicit: String?, automatic: String) -> String? { names.title(explicit: explicit, automatic: automatic) }
}
