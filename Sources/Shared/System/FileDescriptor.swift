#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// A raw file descriptor with typed, EINTR-retrying operations. Ownership is
/// explicit: whoever holds it calls `close()` exactly once.
public struct FileDescriptor: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let standardInput = FileDescriptor(rawValue: 0)
    public static let standardOutput = FileDescriptor(rawValue: 1)
    public static let standardError = FileDescriptor(rawValue: 2)

    public var description: String { "fd \(rawValue)" }

    /// open(2) with O_CLOEXEC always added.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> FileDescriptor {
        let fd = try Syscall.retrying("open", path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(rawValue: fd)
    }

    /// close(2). EINTR is not retried: on Linux the fd is released either way.
    public func close() {
        _ = Glibc.close(rawValue)
    }

    /// read(2) into `buffer`; returns the byte count (0 = end of file).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try Syscall.retrying("read", description) { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Reads up to `max` bytes; nil when the fd would block.
    public func readAvailable(max: Int = 4096) throws -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: max)
        do {
            let n = try bytes.withUnsafeMutableBytes { buf in try read(into: buf) }
            bytes.removeSubrange(n...)
            return bytes
        } catch let error as SystemError where error.errno == EAGAIN {
            return nil
        }
    }

    /// Reads until end of file (blocking fds); more than `limit` bytes is EFBIG.
    public func readToEnd(limit: Int = 64 << 20) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if n == 0 { return out }
            out += chunk[0..<n]
            if out.count > limit { throw SystemError("read", description, errno: EFBIG) }
        }
    }

    /// write(2) until every byte is written (for blocking fds and small writes).
    public func writeAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = try bytes.withUnsafeBytes { buf in
                try Syscall.retrying("write", description) {
                    Glibc.write(rawValue, buf.baseAddress! + offset, buf.count - offset)
                }
            }
            offset += n
        }
    }

    public func writeAll(_ text: String) throws {
        try writeAll(Array(text.utf8))
    }

    /// write(2) on a non-blocking fd until done or EAGAIN: returns the new
    /// offset into `bytes` (== count when all is written), nil on error.
    public func writeAvailable(_ bytes: [UInt8], from start: Int) -> Int? {
        var offset = start
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(rawValue, $0.baseAddress! + offset, bytes.count - offset) }
            if n > 0 { offset += n; continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { return offset }
            return nil
        }
        return offset
    }

    /// fcntl(F_SETFL, O_NONBLOCK).
    public func setNonBlocking() throws {
        let flags = try Syscall.retrying("fcntl", description) { fcntl(rawValue, F_GETFL) }
        try Syscall.retrying("fcntl", description) { fcntl(rawValue, F_SETFL, flags | O_NONBLOCK) }
    }

    /// accept4(2) with SOCK_CLOEXEC|SOCK_NONBLOCK; nil when nothing is pending.
    public func accept() throws -> FileDescriptor? {
        do {
            return FileDescriptor(rawValue: try Syscall.checked("accept4", description) { cs_accept(rawValue) })
        } catch let error as SystemError where error.errno == EAGAIN {
            return nil
        }
    }

    /// A connected AF_UNIX SOCK_STREAM pair, both ends CLOEXEC.
    public static func socketPair() throws -> (FileDescriptor, FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        try Syscall.checked("socketpair") { cs_socketpair(&fds) }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }
}
