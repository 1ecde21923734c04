#if canImport(Glibc)
import Glibc
#endif

/// A mutex in memory shared between processes (`PTHREAD_PROCESS_SHARED`),
/// robust: when its holder dies (SIGKILL, harakiri), the next taker gets it
/// with `ownerDied` instead of waiting for ever, and decides whether what it
/// guards can be trusted. Lives inside a `SharedMemory` region, at an address
/// each process maps on its own (a process-shared mutex does not depend on it).
public struct ProcessLock: @unchecked Sendable {
    /// Bytes a lock takes in a region (a `pthread_mutex_t`, padded to a cache line).
    public static let stride = 64
    let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init(at address: UnsafeMutableRawPointer) {
        precondition(MemoryLayout<pthread_mutex_t>.size <= Self.stride)
        mutex = address.assumingMemoryBound(to: pthread_mutex_t.self)
    }

    /// Once, by the process creating the region, before any other maps it.
    public func initialize() throws(SystemError) {
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        defer { pthread_mutexattr_destroy(&attributes) }
        pthread_mutexattr_setpshared(&attributes, Int32(PTHREAD_PROCESS_SHARED))
        pthread_mutexattr_setrobust(&attributes, Int32(PTHREAD_MUTEX_ROBUST))
        let result = pthread_mutex_init(mutex, &attributes)
        if result != 0 { throw SystemError("pthread_mutex_init", "process lock", errno: result) }
    }

    public enum Taken: Equatable {
        case acquired
        /// The previous holder died holding it: now held, made consistent again.
        case ownerDied
        /// `tryLock` only: held by someone else.
        case busy
    }

    /// Blocks until held.
    public func lock() throws(SystemError) -> Taken {
        try taken(pthread_mutex_lock(mutex), "pthread_mutex_lock")
    }

    /// Takes it if free, without waiting.
    public func tryLock() throws(SystemError) -> Taken {
        try taken(pthread_mutex_trylock(mutex), "pthread_mutex_trylock")
    }

    /// false: the calling thread does not hold it (robust mutexes check the owner).
    @discardableResult
    public func unlock() -> Bool { pthread_mutex_unlock(mutex) == 0 }

    /// Held by anyone right now (a snapshot).
    public var isLocked: Bool {
        switch try? tryLock() {
        case .acquired?, .ownerDied?:
            unlock()
            return false
        case .busy?:
            return true
        case nil:
            return true  // EDEADLK: this thread holds it
        }
    }

    private func taken(_ result: Int32, _ call: String) throws(SystemError) -> Taken {
        switch result {
        case 0: return .acquired
        case EBUSY: return .busy
        case EOWNERDEAD:
            pthread_mutex_consistent(mutex)
            return .ownerDied
        default: throw SystemError(call, "process lock", errno: result)
        }
    }
}
