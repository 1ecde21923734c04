#if canImport(Glibc)
import Glibc
#endif

/// systemd's notification protocol (sd_notify(3)), spoken without libsystemd:
/// newline-separated `KEY=VALUE` fields in one datagram to the unix socket
/// `NOTIFY_SOCKET` names (a path, or `@name` in the abstract namespace).
/// `READY=1` when the service serves, `RELOADING=1` with `MONOTONIC_USEC` at a
/// reload, `STOPPING=1`, `STATUS=` text, `WATCHDOG=1` every half of
/// `WATCHDOG_USEC` (when `WATCHDOG_PID` is unset or this process), `MAINPID=`.
/// The process keeps the variables (an in-place re-exec notifies again);
/// every child is started without them (`variables`).
public final class SystemdNotify {
    public static let socketVariable = "NOTIFY_SOCKET"
    /// What a child of a notifying process must not inherit.
    public static let variables = [socketVariable, "WATCHDOG_USEC", "WATCHDOG_PID"]

    let fd: FileDescriptor
    /// How often to send `WATCHDOG=1` (half the watchdog timeout); nil: no watchdog.
    public let watchdogIntervalMs: Int?
    private var lastStatus: String?

    init(fd: FileDescriptor, watchdogIntervalMs: Int?) {
        self.fd = fd
        self.watchdogIntervalMs = watchdogIntervalMs
    }

    /// The notifier `environment` asks for; nil when `NOTIFY_SOCKET` is unset
    /// (not started by systemd) or cannot be reached (said once in the log).
    public static func fromEnvironment(_ environment: [String: String] = Host.environment()) -> SystemdNotify? {
        guard let path = environment[socketVariable], path.hasPrefix("/") || path.hasPrefix("@") else { return nil }
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.connect(to: .unix(path: path), type: SOCK_DGRAM, name: path)
            try fd.setNonBlocking()
        } catch {
            Log.info("NOTIFY_SOCKET=\(path): \(error); systemd is not told of readiness")
            return nil
        }
        var watchdog: Int?
        if let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0,
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true {
            watchdog = Int(max(1, usec / 2000))
        }
        return SystemdNotify(fd: fd, watchdogIntervalMs: watchdog)
    }

    /// One datagram of fields. A full socket gets 100 ms to take it (systemd
    /// reads its queue constantly); past that it is dropped rather than stall the loop.
    public func send(_ fields: [String]) {
        let datagram = Array(fields.joined(separator: "\n").utf8)
        if (try? fd.writeAvailable(datagram, from: 0)) == datagram.count { return }
        if (try? fd.wait(writable: true, timeoutMs: 100)) == true { _ = try? fd.writeAvailable(datagram, from: 0) }
    }

    /// Every variable a child of a service must not inherit from it (sd_notify's and socket activation's).
    public static var childHidden: [String] { variables + SocketActivation.variables }

    public func ready(status: String? = nil) {
        send(["READY=1"] + (status.map { ["STATUS=\($0)"] } ?? []))
        if let status { lastStatus = status }
    }

    /// A reload begins: `READY=1` follows when it is done.
    public func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        send(["RELOADING=1", "MONOTONIC_USEC=\(Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000)"])
    }

    public func stopping() { send(["STOPPING=1"]) }

    /// `STATUS=`, sent only when it changed.
    public func status(_ text: String) {
        guard text != lastStatus else { return }
        lastStatus = text
        send(["STATUS=\(text)"])
    }

    public func watchdog() { send(["WATCHDOG=1"]) }

    /// After an in-place re-exec (an upgrade): the service's main pid (unchanged, but said).
    public func mainPID() { send(["MAINPID=\(getpid())"]) }
}
