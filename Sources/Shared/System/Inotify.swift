#if canImport(Glibc)
import Glibc
#endif

/// An inotify instance (inotify_init1(IN_NONBLOCK|IN_CLOEXEC)) and its watches.
public struct Inotify {
    public let fd: FileDescriptor

    /// What the emperor cares about in a watched directory: entries appearing,
    /// going, being renamed, written or touched, and the directory itself going.
    public static let directoryEvents: UInt32 = UInt32(
        IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_CLOSE_WRITE
            | IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

    public init() throws(SystemError) {
        fd = FileDescriptor(rawValue: try Syscall.call("inotify_init1") {
            inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        })
    }

    /// inotify_add_watch; returns the watch descriptor.
    public func watch(_ path: String, mask: UInt32 = Inotify.directoryEvents) throws(SystemError) -> Int32 {
        try Syscall.call("inotify_add_watch", path) { inotify_add_watch(fd.rawValue, path, mask) }
    }

    /// inotify_rm_watch; a watch the kernel already dropped is not an error.
    public func unwatch(_ wd: Int32) {
        _ = try? Syscall.call("inotify_rm_watch", "\(wd)") { inotify_rm_watch(fd.rawValue, wd) }
    }

    /// Drains pending events; returns how many were read (their content does
    /// not matter to callers that rescan on any change). IN_Q_OVERFLOW is one event too.
    public func drain() -> Int {
        var count = 0
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            guard let n = (try? buffer.withUnsafeMutableBytes { (b) throws(SystemError) in try fd.read(into: b) })?.value,
                  n > 0 else { return count }
            var offset = 0
            while offset + 16 <= n {
                let nameLength = buffer.withUnsafeBytes { $0.load(fromByteOffset: offset + 12, as: UInt32.self) }
                offset += 16 + Int(nameLength)
                count += 1
            }
        }
    }
}
