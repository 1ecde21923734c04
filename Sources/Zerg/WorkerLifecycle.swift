import Shared

/// When a worker is recycled, killed or warmed up: uWSGI's per-worker limits
/// (max-requests, lifetimes, memory), harakiri, touch files and warm-up paths.
struct WorkerLifecycle {
    var maxRequests: Int
    var maxRequestsDelta: Int
    var maxLifetimeSeconds: Int
    var maxLifetimeDelta: Int
    var minLifetimeSeconds: Int
    var reloadOnRSS: Int64
    var reloadOnAS: Int64
    var evilReloadOnRSS: Int64
    var evilReloadOnAS: Int64
    var harakiriSeconds: Int
    var harakiriGracefulSeconds: Int
    var harakiriGracefulSignal: Int32
    var touchReload: [String]
    var touchWorkersReload: [String]
    var touchLogReopen: [String]
    var warmup: [String]
    var warmupRepeat: Int
    var memoryReport: Bool

    init(_ config: Configuration) {
        let mb: Int64 = 1 << 20
        maxRequests = max(0, config.int("max-requests") ?? 0)
        maxRequestsDelta = max(0, config.int("max-requests-delta") ?? 0)
        maxLifetimeSeconds = max(0, config.int("max-worker-lifetime") ?? 0)
        maxLifetimeDelta = max(0, config.int("max-worker-lifetime-delta") ?? 0)
        minLifetimeSeconds = max(0, config.int("min-worker-lifetime") ?? 10)
        reloadOnRSS = Int64(max(0, config.int("reload-on-rss") ?? 0)) * mb
        reloadOnAS = Int64(max(0, config.int("reload-on-as") ?? 0)) * mb
        evilReloadOnRSS = Int64(max(0, config.int("evil-reload-on-rss") ?? 0)) * mb
        evilReloadOnAS = Int64(max(0, config.int("evil-reload-on-as") ?? 0)) * mb
        harakiriSeconds = max(0, config.int("harakiri") ?? 0)
        harakiriGracefulSeconds = max(0, config.int("harakiri-graceful-timeout") ?? 0)
        harakiriGracefulSignal = Int32(clamping: config.int("harakiri-graceful-signal") ?? 15)
        touchReload = config.strings("touch-reload")
        touchWorkersReload = config.strings("touch-workers-reload") + config.strings("touch-chain-reload")
        touchLogReopen = config.strings("touch-logreopen")
        warmup = config.strings("warmup")
        warmupRepeat = max(1, config.int("warmup-requests") ?? 1)
        memoryReport = config.bool("memory-report")
    }

    /// The worker samples its memory after each request only when something reads it.
    var samplesMemory: Bool { memoryReport || reloadOnRSS > 0 || reloadOnAS > 0 }

    /// uWSGI's `max-requests + (id - 1) * max-requests-delta`.
    func requestLimit(workerID: Int) -> Int? {
        maxRequests > 0 ? maxRequests + (workerID - 1) * maxRequestsDelta : nil
    }

    func lifetimeLimitSeconds(workerID: Int) -> Int? {
        maxLifetimeSeconds > 0 ? max(maxLifetimeSeconds + (workerID - 1) * maxLifetimeDelta, minLifetimeSeconds) : nil
    }
}
