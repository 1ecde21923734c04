/// The fields of /proc/PID/stat that supervision needs.
public struct ProcStat: Sendable {
    /// R, S, D, Z, T, ...
    public let state: Character
    public let parent: Int32
    public let processGroup: Int32
    /// utime + stime, in clock ticks.
    public let cpuTicks: Int

    /// nil when the process does not exist (any more).
    public static func read(_ pid: Int32) -> ProcStat? {
        guard let text = try? FileSystem.readText("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        // After the parenthesised command (which may contain spaces): state ppid pgrp ... utime(12th) stime(13th)
        let f = text[text.index(after: close)...].split(separator: " ")
        guard f.count > 12, let state = f[0].first, let ppid = Int32(f[1]), let pgrp = Int32(f[2]),
              let user = Int(f[11]), let system = Int(f[12]) else { return nil }
        return ProcStat(state: state, parent: ppid, processGroup: pgrp, cpuTicks: user + system)
    }
}
