#if canImport(Glibc)
import Glibc
#endif

/// The fields of /proc/PID/stat that supervision needs.
public struct ProcStat: Sendable {
    /// R, S, D, Z, T, ...
    public let state: Character
    public let parent: Int32
    public let processGroup: Int32
    /// utime + stime, in clock ticks.
    public let cpuTicks: Int
    /// When it started, in clock ticks after boot.
    public let startTicks: Int

    /// nil when the process does not exist (any more).
    public static func read(_ pid: Int32) -> ProcStat? {
        guard let text = try? FileSystem.readText("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        // After the parenthesised command (which may contain spaces): state ppid pgrp ... utime(12th) stime(13th)
        let f = text[text.index(after: close)...].split(separator: " ")
        // ... starttime (22nd field).
        guard f.count > 19, let state = f[0].first, let ppid = Int32(f[1]), let pgrp = Int32(f[2]),
              let user = Int(f[11]), let system = Int(f[12]), let start = Int(f[19]) else { return nil }
        return ProcStat(state: state, parent: ppid, processGroup: pgrp, cpuTicks: user + system, startTicks: start)
    }

    /// How long the process has run: its start time against CLOCK_BOOTTIME
    /// (to the clock tick, 10 ms). For a process this one did not start (an adopted instance).
    /// A process that exists and has not ended (a zombie has: state Z).
    public static func isRunning(_ pid: Int32) -> Bool {
        guard pid > 0, let stat = read(pid) else { return false }
        return stat.state != "Z" && stat.state != "X"
    }

    public var ageNanoseconds: UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        let sinceBoot = UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        let hz = UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))
        let started = UInt64(max(0, startTicks)) * (1_000_000_000 / hz)
        return sinceBoot > started ? sinceBoot - started : 0
    }
}
