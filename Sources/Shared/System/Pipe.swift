#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// A pipe(2) pair, both ends CLOEXEC.
public enum Pipe {
    public static func make() throws(SystemError) -> (read: FileDescriptor, write: FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        try Syscall.call("pipe2") { cs_pipe(&fds) }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }
}
