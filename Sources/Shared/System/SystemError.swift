#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call, on what (path, fd or address), and errno.
public struct SystemError: Error, CustomStringConvertible, Equatable {
    public let call: String
    public let subject: String
    public let errno: Int32
    /// What the layer found out beyond errno (who holds a socket path, say).
    public let note: String

    public init(_ call: String, _ subject: String = "", errno: Int32, note: String = "") {
        self.call = call
        self.subject = subject
        self.errno = errno
        self.note = note
    }

    /// The C library's text for the errno, e.g. "No such file or directory",
    /// and the note if any.
    public var reason: String {
        let text = String(cString: strerror(errno))
        return note.isEmpty ? text : "\(text) (\(note))"
    }

    public var description: String {
        subject.isEmpty ? "\(call): \(reason)" : "\(call)(\(subject)): \(reason)"
    }
}
