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
/// - `attach-daemon2 = cmd=CMD[,pidfile=PATH][,stopsignal=N][,freq=SECONDS]`: the keyed form.
public struct AttachedDaemon: Sendable {
    public let command: String
    /// Smart: the daemon's pid is read from here (it is not the supervisor's child).
    public let pidfile: String?
    public let stopSignal: Int32
    /// Seconds between restarts at the least (`freq`, attach-daemon2).
    public let minimumDelayMs: Int
    public internal(set) var pid: pid_t?
    var startedNs: UInt64 = 0
    public internal(set) var respawns = 0
    var backoff = Backoff(stepMs: 1000, capMs: 30_000, stableSeconds: 10)

    init(command: String, pidfile: String?, stopSignal: Int32, minimumDelayMs: Int) {
        self.command = command
        self.pidfile = pidfile
        self.stopSignal = stopSignal
        self.minimumDelayMs = minimumDelayMs
    }

    /// The daemons a configuration names; a malformed line is a problem with its file:line.
    public static func all(in config: Configuration, problems: inout [ConfigDiagnostic]) -> [AttachedDaemon] {
        var daemons: [AttachedDaemon] = []
        for entry in config.occurrences("attach-daemon") {
            daemons.append(AttachedDaemon(command: entry.value, pidfile: nil, stopSignal: SIGTERM, minimumDelayMs: 0))
        }
        for entry in config.occurrences("smart-attach-daemon") {
            guard let (pidfile, command) = entry.value.splitOnce(" "), !command.isEmpty else {
                problems.append(ConfigDiagnostic(entry.origin, "`smart-attach-daemon = \(entry.value)`: expected `PIDFILE COMMAND`"))
                continue
            }
            daemons.append(AttachedDaemon(command: command, pidfile: pidfile, stopSignal: SIGTERM, minimumDelayMs: 0))
        }
        for entry in config.occurrences("attach-daemon2") {
            var keys: [String: String] = [:]
            for item in entry.value.split(separator: ",") {
                if let (k, v) = String(item).splitOnce("=") { keys[k.trimmed()] = v }
            }
            guard let command = keys["cmd"], !command.isEmpty else {
                problems.append(ConfigDiagnostic(entry.origin, "`attach-daemon2 = \(entry.value)`: expected `cmd=COMMAND[,pidfile=PATH][,stopsignal=N][,freq=SECONDS]`"))
                continue
            }
            let unknown = Set(keys.keys).subtracting(["cmd", "pidfile", "stopsignal", "freq"])
            if !unknown.isEmpty {
                problems.append(ConfigDiagnostic(entry.origin, "`attach-daemon2`: keys not offered here: \(unknown.sorted().joined(separator: ", "))"))
            }
            daemons.append(AttachedDaemon(command: command, pidfile: keys["pidfile"], stopSignal: keys["stopsignal"].flatMap { Int32($0) } ?? SIGTERM,
                                          minimumDelayMs: max(0, (keys["freq"].flatMap { Int($0) } ?? 0) * 1000)))
        }
        return daemons
    }

    /// A smart daemon's pid, from its pidfile, when that process lives.
    public var livePidFromFile: pid_t? {
        guard let pidfile, let text = try? FileSystem.readText(pidfile),
              let pid = pid_t(text.trimmed()), pid > 0, kill(pid, 0) == 0 else { return nil }
        return pid
    }
}
