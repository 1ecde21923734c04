#if canImport(Glibc)
import Glibc
#endif

/// A POSIX thread running a closure, joined once. Used by a worker with
/// `threads`, whose request threads each run their own event loop; nothing else
/// here starts threads. pthread calls return their error number instead of
/// setting errno, so they are checked here rather than through `Syscall`.
public final class SystemThread {
    private var handle: pthread_t
    private var joined = false

    /// The closure travels to the new thread in a box (a C start routine takes one pointer).
    private final class Start {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    private init(handle: pthread_t) { self.handle = handle }

    /// Starts `body` on a new thread with a stack of `stackBytes` (0: the
    /// system's default); `name` says which thread in an error.
    public static func start(name: String, stackBytes: Int = 0, _ body: @escaping () -> Void) throws(SystemError) -> SystemThread {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        if stackBytes > 0 {
            let rc = pthread_attr_setstacksize(&attributes, max(stackBytes, Int(PTHREAD_STACK_MIN)))
            if rc != 0 { throw SystemError("pthread_attr_setstacksize", "\(stackBytes) bytes", errno: rc) }
        }
        let start = Unmanaged.passRetained(Start(body)).toOpaque()
        var handle = pthread_t()
        let rc = pthread_create(&handle, &attributes, { argument in
            Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue().body()
            return nil
        }, start)
        if rc != 0 {
            Unmanaged<Start>.fromOpaque(start).release()
            throw SystemError("pthread_create", name, errno: rc)
        }
        return SystemThread(handle: handle)
    }

    /// Waits for the thread's closure to return.
    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(handle, nil)
    }
}
