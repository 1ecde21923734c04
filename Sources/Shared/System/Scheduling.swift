#if canImport(Glibc)
import Glibc
#endif

/// CPU scheduling policy of the calling process.
public enum Scheduling {
    /// sched_setscheduler(SCHED_BATCH): a CPU-bound process that does not
    /// preempt others when it wakes up. No privilege needed; failures are ignored.
    public static func becomeBatch() {
        var param = sched_param(sched_priority: 0)
        _ = try? Syscall.call("sched_setscheduler(SCHED_BATCH)") { sched_setscheduler(0, 3 /* SCHED_BATCH */, &param) }
    }
}
