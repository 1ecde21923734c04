#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// Facts about the running process and machine (the magic variables use them).
public enum Host {
    public static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static var cpuCount: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// Times this thread gave up the CPU to wait (getrusage(RUSAGE_THREAD).ru_nvcsw).
    public static func voluntaryContextSwitches() -> Int { (try? Syscall.call("getrusage(RUSAGE_THREAD)") { cs_voluntary_switches() }) ?? 0 }
    public static var uid: UInt32 { getuid() }
    public static var gid: UInt32 { getgid() }
    public static var pid: Int32 { getpid() }

    /// The user name for the uid, else the uid as text (as uWSGI's %U).
    public static func userName(_ uid: UInt32) -> String {
        guard let pw = getpwuid(uid), let name = pw.pointee.pw_name else { return String(uid) }
        return String(cString: name)
    }

    /// The group name for the gid, else the gid as text (as uWSGI's %G).
    public static func groupName(_ gid: UInt32) -> String {
        guard let gr = getgrgid(gid), let name = gr.pointee.gr_name else { return String(gid) }
        return String(cString: name)
    }

    /// The environment as a dictionary.
    public static func environment() -> [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let (k, v) = s.splitOnce("=") { env[k] = v }
            p += 1
        }
        return env
    }

    /// setenv(3) (unsetenv when `value` is nil), for what this process and its children see.
    public static func setEnvironment(_ name: String, _ value: String?) {
        if let value { setenv(name, value, 1) } else { unsetenv(name) }
    }

    public static func unsetEnvironment(_ name: String) { unsetenv(name) }

    /// Monotonic nanoseconds (clock_gettime(CLOCK_MONOTONIC)), for timers and durations.
    public static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
