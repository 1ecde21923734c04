#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call, on what (path, fd or address), and errno.
public struct SystemError: Error, CustomStringConvertible, Equatable {
    public let call: String
    public let subject: String
    public let errno: Int32

    public init(_ call: String, _ subject: String = "", errno: Int32) {
        self.call = call
        self.subject = subject
        self.errno = errno
    }

    /// The C library's text for the errno, e.g. "No such file or directory".
    public var reason: String { String(cString: strerror(errno)) }

    public var description: String {
        subject.isEmpty ? "\(call): \(reason)" : "\(call)(\(subject)): \(reason)"
    }
}
