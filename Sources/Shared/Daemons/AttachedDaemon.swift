#if canImport(Glibc)
import Glibc
#endif

/// uWSGI's attached daemons (a Celery worker, a scheduler beside the site),
/// run by a zerg master or a vassal (`DaemonSupervisor`):
///
/// - `attach-daemon = CMD`: `/bin/sh -c CMD`, a child, started again when it
///   exits (1 s, doubling to 30 s while it keeps dying within 10 s);
/// - `smart-attach-daemon = PIDFILE CMD`: CMD daemonizes itself and writes
///   PIDFILE; it is started only while no live process is named there (checked
///   every second), so it survives its supervisor's restarts;
/// - `smart-attach-daemon2 = PIDFILE CMD`: for a command that stays in the
///   foreground: the supervisor writes PIDFILE and lets the process outlive it;
/// - `attach-control-daemon = CMD`: when it exits, its supervisor stops;
/// - `attach-daemon2 = cmd=CMD[,pidfile=PATH][,daemonize=1][,control=1][,stopsignal=N][,freq=SECONDS][,touch=FILE;FILE][,chdir=DIR]`:
///   the keyed form (`touch`: the daemon is restarted when one of them is touched).
public struct AttachedDaemon: Sendable {
    public let command: String
    /// Smart: the daemon's pid is read from here (it is not the supervisor's child).
    public let pidfile: String?
    /// `smart-attach-daemon2`, `daemonize=1`: the supervisor writes `pidfile`
    /// itself, and the process outlives the supervisor.
    public let writesPidfile: Bool
    /// When it exits, the supervisor stops (`attach-control-daemon`, `control=1`).
    public let control: Bool
    public let stopSignal: Int32
    /// Seconds between restarts at the least (`freq`, attach-daemon2).
    public let minimumDelayMs: Int
    /// Files whose touch restarts it (`touch`, attach-daemon2), with their last modification times.
    let touchFiles: [String]
    var touchTimes: [Timestamp?] = []
    let directory: String?
    public internal(set) var pid: pid_t?
    var startedNs: UInt64 = 0
    public internal(set) var respawns = 0
    var backoff = Backoff(stepMs: 1000, capMs: 30_000, stableSeconds: 10)
    /// A touch asked for a restart: no backoff delay for it.
    var restartNow = false

    init(command: String, pidfile: String? = nil, writesPidfile: Bool = false, control: Bool = false, stopSignal: Int32 = SIGTERM,
         minimumDelayMs: Int = 0, touchFiles: [String] = [], directory: String? = nil) {
        self.command = command
        self.pidfile = pidfile
        self.writesPidfile = writesPidfile
        self.control = control
        self.stopSignal = stopSignal
        self.minimumDelayMs = minimumDelayMs
        self.touchFiles = touchFiles
        self.directory = directory
        touchTimes = touchFiles.map { (try? FileSystem.status($0))?.modified }
    }

    static let keys = ["cmd", "command", "exec", "pidfile", "daemonize", "daemon", "control", "stopsignal", "stop_signal",
                       "freq", "touch", "chdir"]

    /// The daemons a configuration names; a malformed line is a problem with its file:line.
    public static func all(in config: Configuration, problems: inout [ConfigDiagnostic]) -> [AttachedDaemon] {
        var daemons: [AttachedDaemon] = []
        for entry in config.occurrences("attach-daemon") {
            daemons.append(AttachedDaemon(command: entry.value))
        }
        for entry in config.occurrences("attach-control-daemon") {
            daemons.append(AttachedDaemon(command: entry.value, control: true))
        }
        for (option, writes) in [("smart-attach-daemon", false), ("smart-attach-daemon2", true)] {
            for entry in config.occurrences(option) {
                guard let (pidfile, command) = entry.value.splitOnce(" "), !command.isEmpty else {
                    problems.append(ConfigDiagnostic(entry.origin, "`\(option) = \(entry.value)`: expected `PIDFILE COMMAND`"))
                    continue
                }
                daemons.append(AttachedDaemon(command: command, pidfile: pidfile, writesPidfile: writes))
            }
        }
        for entry in config.occurrences("attach-daemon2") {
            let keys = Dictionary(entry.value.keyValues(), uniquingKeysWith: { $1 })
            let flag = { (names: [String]) in names.contains { keys[$0].flatMap(OptionSpec.parseBool) == true } }
            guard let command = keys["cmd"] ?? keys["command"] ?? keys["exec"], !command.isEmpty else {
                problems.append(ConfigDiagnostic(entry.origin, "`attach-daemon2 = \(entry.value)`: expected `cmd=COMMAND[,pidfile=PATH][,daemonize=1][,control=1][,stopsignal=N][,freq=SECONDS][,touch=FILE][,chdir=DIR]`"))
                continue
            }
            let unknown = Set(keys.keys).subtracting(Self.keys)
            if !unknown.isEmpty {
                problems.append(ConfigDiagnostic(entry.origin, "`attach-daemon2`: keys not offered here: \(unknown.sorted().joined(separator: ", "))"))
                continue
            }
            let daemonize = flag(["daemonize", "daemon"])
            if daemonize && keys["pidfile"] == nil {
                problems.append(ConfigDiagnostic(entry.origin, "`attach-daemon2`: `daemonize` needs a `pidfile` (where the daemon's pid is kept)"))
                continue
            }
            daemons.append(AttachedDaemon(command: command, pidfile: keys["pidfile"], writesPidfile: daemonize, control: flag(["control"]),
                                          stopSignal: (keys["stopsignal"] ?? keys["stop_signal"]).flatMap { Int32($0) } ?? SIGTERM,
                                          minimumDelayMs: max(0, (keys["freq"].flatMap { Int($0) } ?? 0) * 1000),
                                          touchFiles: keys["touch"].map { $0.split(separator: ";").map(String.init) } ?? [],
                                          directory: keys["chdir"]))
        }
        return daemons
    }

    /// A touch file changed since last looked at (and remembers the new time).
    mutating func touched() -> Bool {
        var changed = false
        for (i, file) in touchFiles.enumerated() {
            let now = (try? FileSystem.status(file))?.modified
            if now != touchTimes[i], now != nil { changed = true }
            touchTimes[i] = now
        }
        return changed
    }

    /// A smart daemon's pid, from its pidfile, when that process lives.
    public var livePidFromFile: pid_t? {
        guard let pidfile, let text = try? FileSystem.readText(pidfile),
              let pid = pid_t(text.trimmed()), pid > 0, kill(pid, 0) == 0 else { return nil }
        return pid
    }
}
