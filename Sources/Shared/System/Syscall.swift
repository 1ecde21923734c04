#if canImport(Glibc)
import Glibc
#endif

/// The one place every system call goes through: EINTR is retried here, and a
/// failure becomes a `SystemError` that names the call and its subject.
public enum Syscall {
    /// For C calls that return -1 and set errno.
    @discardableResult
    public static func retrying<T: BinaryInteger>(
        _ call: String, _ subject: @autoclosure () -> String = "", _ body: () -> T
    ) throws -> T {
        while true {
            let rc = body()
            if rc >= 0 { return rc }
            let err = Glibc.errno
            if err == EINTR { continue }
            throw SystemError(call, subject(), errno: err)
        }
    }

    /// For CSupport calls that return -errno (they retry EINTR themselves where it applies).
    @discardableResult
    public static func checked<T: SignedInteger & FixedWidthInteger>(
        _ call: String, _ subject: @autoclosure () -> String = "", _ body: () -> T
    ) throws -> T {
        while true {
            let rc = body()
            if rc >= 0 { return rc }
            if rc == T(-EINTR) { continue }
            throw SystemError(call, subject(), errno: Int32(truncatingIfNeeded: -rc))
        }
    }
}
