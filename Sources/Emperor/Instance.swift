#if canImport(Glibc)
import Glibc
#endif
import Shared

/// Which program runs a config.
enum InstanceKind: String {
    /// Owns a port (`http`) and a `zerg-server` socket.
    case vassal
    /// Attaches to a vassal (`zerg`) and runs the workers.
    case zerg

    /// `zerg` wins (a zerg may also serve `http-socket` itself); then
    /// `zerg-server` or `http` (the vassal's port); then `http-socket` or
    /// `socket` alone: a classic uWSGI vassal (an app on its own socket, behind
    /// nginx's `uwsgi_pass` for `socket`), run as a standalone zerg.
    static func of(_ config: Configuration) -> InstanceKind? {
        if config.has("zerg") { return .zerg }
        if config.has("zerg-server") { return .vassal }
        // `http` with an app and no zerg-server: uWSGI's router in front of its own workers.
        if config.has("http") { return hasApp(config) ? .zerg : .vassal }
        if config.has("http-socket") || config.has("socket") { return .zerg }
        return nil
    }

    static func hasApp(_ config: Configuration) -> Bool { config.has("wsgi-file") || config.has("module") }

    /// Why `of` chose what it chose, for the start line.
    static func reason(_ config: Configuration) -> String {
        if config.has("zerg") { return "zerg: attaches to a vassal" }
        if config.has("http") && !config.has("zerg-server") && hasApp(config) {
            return "zerg with its own vassal: http and an app, without zerg-server (uWSGI's router in front of the workers)"
        }
        if config.has("zerg-server") || config.has("http") { return "vassal: owns the port\(config.has("zerg-server") ? " and a zerg-server socket" : "")" }
        if config.has("http-socket") || config.has("socket") {
            return "standalone zerg: \(config.has("http-socket") ? "http-socket" : "socket") without zerg-server (a classic vassal)"
        }
        return "no kind"
    }
}

/// The lifecycle of one config's process, as the emperor sees it.
///
///     invalid ──(config fixed)──▶ starting ──(ready)──▶ ready ──(touch/HUP)──▶ reloading ──(ready)──▶ ready
///        ▲                           │  ▲                  │                       │
///        │                      (crash)  └──(timer)── throttled ◀──(crash)─────────┘
///     (config broken)                                      │
///                               (removed / TERM) ──▶ stopping ──(exit)──▶ gone
enum InstanceState: String {
    /// The config does not load; not started until it changes.
    case invalid
    /// Spawned; waiting for its ready report.
    case starting
    /// Reported ready (and maybe accepting).
    case ready
    /// Asked to reload gracefully; waiting for ready again.
    case reloading
    /// Asked to stop; SIGKILL when the deadline passes.
    case stopping
    /// Crashed; a timer respawns it after the backoff delay.
    case throttled
}

/// One config under the emperor's care.
final class Instance {
    let name: String
    let pattern: String
    var kind: InstanceKind?
    /// Why the config is run as `kind`, when that is not obvious (a classic uWSGI vassal).
    var kindNote: String?
    var state: InstanceState = .starting
    var stamp: ConfigStamp?

    var pid: pid_t?
    /// From its config: the build it belongs to and its stats socket (for the status page).
    var build = ""
    var statsAddress: ListenAddress?
    var control: FileDescriptor?
    var controlToken: EventToken?
    /// Copies of a vassal's listening sockets (its `listeners` report): passed
    /// to the vassal started after a crash; closed when it stops for good.
    var heldListeners: [(address: String, fd: FileDescriptor)] = []
    /// Left running by an emperor that died, and taken over: not this emperor's
    /// child, so its end is watched through a pidfd instead of SIGCHLD.
    var adopted = false
    var pidfd: FileDescriptor?
    var pidfdToken: EventToken?

    var backoff: Backoff
    /// Invalidates timers set for an earlier run.
    var generation = 0

    // uWSGI's emperor stats fields (epoch seconds).
    var born: Int64 = 0
    var lastModified: Int64 = 0
    var firstRun: Int64 = 0
    var lastRun: Int64 = 0
    var lastReady: Int64 = 0
    var lastAccepting: Int64 = 0
    var lastLoyal: Int64 = 0
    var lastHeartbeat: Int64 = 0
    var stoppingSince: Int64 = 0
    var ready = false
    var accepting = false
    var loyal = false
    var respawns = 0
    var startedAtNs: UInt64 = 0
    var nextSpawnAtNs: UInt64?
    var lastExit: ExitStatus?
    /// The config was removed (or the emperor is stopping): do not respawn on exit.
    var retiring = false
    /// Stop, then start again with the new config (its kind changed).
    var restartAfterExit = false
    var lastProblem: String?
    /// It said its app does not load (`appFailing`), until it is ready.
    var appFailing = false

    init(name: String, pattern: String, backoff: Backoff) {
        self.name = name
        self.pattern = pattern
        self.backoff = backoff
    }

    var isRunning: Bool { pid != nil }
}
