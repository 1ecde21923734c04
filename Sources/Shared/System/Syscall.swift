#if canImport(Glibc)
import Glibc
#endif

/// What a non-blocking call did: its result, or nothing because it would have
/// blocked (EAGAIN). The one way every non-blocking operation here says so;
/// errors are thrown, never returned.
public enum IOResult<Value> {
    case completed(Value)
    case wouldBlock

    /// The result, nil when the call would have blocked.
    @inlinable public var value: Value? {
        if case .completed(let v) = self { return v }
        return nil
    }
}

extension IOResult: Sendable where Value: Sendable {}

/// The one place every system call goes through. The call is made by `body`
/// (a libc function, or a CSupport wrapper: both return -1 and set errno), and
/// the errno is read here, once:
/// - EINTR: the call is made again (nowhere else retries);
/// - EAGAIN: `nonBlocking` returns `.wouldBlock`; `call` throws it like any error;
/// - EBADF, EFAULT: a bug in this program (a closed or wrong fd, a bad
///   pointer), not something the world did: the process stops with the call named;
/// - anything else: a `SystemError` naming the call and its subject.
public enum Syscall {
    /// A call that must complete (blocking fds, or calls that never block).
    @inlinable
    @discardableResult
    public static func call<T: BinaryInteger>(
        _ name: String, _ subject: @autoclosure () -> String = "", _ body: () -> T
    ) throws(SystemError) -> T {
        while true {
            let rc = body()
            if rc >= 0 { return rc }
            let err = errno
            if err == EINTR { continue }
            throw failure(name, subject(), err)
        }
    }

    /// A call on a non-blocking fd: EAGAIN is `.wouldBlock`, not an error.
    @inlinable
    public static func nonBlocking<T: BinaryInteger>(
        _ name: String, _ subject: @autoclosure () -> String = "", _ body: () -> T
    ) throws(SystemError) -> IOResult<T> {
        while true {
            let rc = body()
            if rc >= 0 { return .completed(rc) }
            let err = errno
            if err == EINTR { continue }
            if err == EAGAIN || err == EWOULDBLOCK { return .wouldBlock }
            throw failure(name, subject(), err)
        }
    }

    /// The error for a failed call, or the stop for a programming error.
    @usableFromInline
    static func failure(_ name: String, _ subject: String, _ err: Int32) -> SystemError {
        let error = SystemError(name, subject, errno: err)
        if err == EBADF || err == EFAULT { preconditionFailure("programming error: \(error)") }
        return error
    }
}
