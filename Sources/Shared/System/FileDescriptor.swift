#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// A raw file descriptor with typed operations, each through `Syscall`.
/// Ownership is explicit: whoever holds it calls `close()` exactly once.
public struct FileDescriptor: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let standardInput = FileDescriptor(rawValue: 0)
    public static let standardOutput = FileDescriptor(rawValue: 1)
    public static let standardError = FileDescriptor(rawValue: 2)

    public var description: String { "fd \(rawValue)" }

    /// open(2) with O_CLOEXEC always added.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws(SystemError) -> FileDescriptor {
        FileDescriptor(rawValue: try Syscall.call("open", path) { Glibc.open(path, flags | O_CLOEXEC, mode) })
    }

    /// An fd this process was started with, named by a number from its
    /// environment: checked to be open (a wrong number is the user's error,
    /// not a bug) and made CLOEXEC, so it is not passed on to children.
    public static func inherited(_ raw: Int32, what: String) throws(SystemError) -> FileDescriptor {
        // fcntl(F_GETFD) is the one call made here outside `Syscall`: EBADF is
        // the expected answer for a wrong number, not a programming error.
        guard raw >= 0, fcntl(raw, F_GETFD) >= 0 else { throw SystemError("fcntl", "\(what) fd \(raw)", errno: EBADF) }
        let fd = FileDescriptor(rawValue: raw)
        try fd.setCloseOnExec(true)
        return fd
    }

    /// close(2), once: on Linux the fd is released even when it reports EINTR
    /// (retrying could close an fd another thread just got). EBADF (closing
    /// twice) is a bug, and stops the process as `Syscall` does.
    public func close() {
        if Glibc.close(rawValue) < 0 && errno == EBADF {
            _ = Syscall.failure("close", description, EBADF)
        }
    }

    /// Whether this fd can be read as a file (open for reading, not O_PATH):
    /// for fds handed over by the app, which the program does not own.
    public var isReadableFile: Bool {
        // fcntl(F_GETFL) directly: EBADF is a possible answer for an app's fd, not a bug.
        let flags = fcntl(rawValue, F_GETFL)
        let oPath: Int32 = 0o10000000
        return flags >= 0 && flags & O_ACCMODE != O_WRONLY && flags & oPath == 0
    }

    /// fcntl(F_SETFD): whether exec closes this fd (every fd here is CLOEXEC
    /// except the ones deliberately handed across an exec).
    public func setCloseOnExec(_ on: Bool) throws(SystemError) {
        try Syscall.call("fcntl(F_SETFD)", description) { fcntl(rawValue, F_SETFD, on ? FD_CLOEXEC : 0) }
    }

    /// fcntl(F_SETFL, O_NONBLOCK).
    public func setNonBlocking() throws(SystemError) {
        let flags = try Syscall.call("fcntl(F_GETFL)", description) { fcntl(rawValue, F_GETFL) }
        try Syscall.call("fcntl(F_SETFL)", description) { fcntl(rawValue, F_SETFL, flags | O_NONBLOCK) }
    }

    /// dup2(2) onto `target` (which is closed first if open).
    public func duplicate(onto target: FileDescriptor) throws(SystemError) {
        try Syscall.call("dup2", "\(description) onto \(target.rawValue)") { dup2(rawValue, target.rawValue) }
    }

    /// Opens `path` for appending (created 0640) onto this descriptor's number:
    /// a log reopened after a rotation, where a thread writing meanwhile never
    /// meets a closed descriptor.
    public func reopenAppending(_ path: String) throws(SystemError) {
        let fresh = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_APPEND, mode: 0o640)
        defer { fresh.close() }
        try fresh.duplicate(onto: self)
    }

    /// lseek(2) to `offset` from the start; returns the new offset.
    @discardableResult
    public func seek(to offset: Int64) throws(SystemError) -> Int64 {
        Int64(try Syscall.call("lseek", description) { lseek(rawValue, off_t(offset), SEEK_SET) })
    }

    /// fstat(2).
    public func status() throws(SystemError) -> FileStatus { try FileSystem.status(of: self) }

    /// The current file offset.
    public func offset() throws(SystemError) -> Int64 {
        Int64(try Syscall.call("lseek", description) { lseek(rawValue, 0, SEEK_CUR) })
    }

    // MARK: reading

    /// read(2) into `buffer`: the byte count (0 = end of file).
    @inlinable
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try Syscall.nonBlocking("read", description) { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Up to `max` bytes (empty at end of file).
    public func readAvailable(max: Int = 4096) throws(SystemError) -> IOResult<[UInt8]> {
        var bytes = [UInt8](repeating: 0, count: max)
        let result = try Syscall.nonBlocking("read", description) {
            bytes.withUnsafeMutableBytes { Glibc.read(rawValue, $0.baseAddress, $0.count) }
        }
        guard case .completed(let n) = result else { return .wouldBlock }
        bytes.removeSubrange(n...)
        return .completed(bytes)
    }

    /// Reads until end of file (waiting when the fd is non-blocking); more than `limit` bytes is EFBIG.
    public func readToEnd(limit: Int = 64 << 20) throws(SystemError) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let result = try Syscall.nonBlocking("read", description) {
                chunk.withUnsafeMutableBytes { Glibc.read(rawValue, $0.baseAddress, $0.count) }
            }
            switch result {
            case .wouldBlock:
                _ = try wait(timeoutMs: -1)
            case .completed(0):
                return out
            case .completed(let n):
                out += chunk[0..<n]
                if out.count > limit { throw SystemError("read", description, errno: EFBIG) }
            }
        }
    }

    // MARK: writing

    /// write(2): the bytes written.
    @inlinable
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try Syscall.nonBlocking("write", description) { Glibc.write(rawValue, bytes.baseAddress, bytes.count) }
    }

    /// writev(2) of two buffers (a head and a body, without copying either).
    @inlinable
    public func write(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try Syscall.nonBlocking("writev", description) {
            withUnsafeTemporaryAllocation(of: iovec.self, capacity: 2) { iov in
                iov[0] = iovec(iov_base: UnsafeMutableRawPointer(mutating: first.baseAddress), iov_len: first.count)
                iov[1] = iovec(iov_base: UnsafeMutableRawPointer(mutating: second.baseAddress), iov_len: second.count)
                return writev(rawValue, iov.baseAddress, 2)
            }
        }
    }

    /// Writes every byte, waiting for room when the fd is non-blocking
    /// (for small writes: control messages, log lines).
    public func writeAll(_ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let result = try Syscall.nonBlocking("write", description) {
                bytes.withUnsafeBytes { Glibc.write(rawValue, $0.baseAddress! + offset, $0.count - offset) }
            }
            switch result {
            case .completed(let n): offset += n
            case .wouldBlock: _ = try wait(writable: true, timeoutMs: -1)
            }
        }
    }

    public func writeAll(_ text: String) throws(SystemError) {
        try writeAll(Array(text.utf8))
    }

    /// Writes from `start` until done or the fd would block: the new offset
    /// into `bytes` (== count when all is written).
    public func writeAvailable(_ bytes: [UInt8], from start: Int) throws(SystemError) -> Int {
        var offset = start
        while offset < bytes.count {
            let result = try Syscall.nonBlocking("write", description) {
                bytes.withUnsafeBytes { Glibc.write(rawValue, $0.baseAddress! + offset, $0.count - offset) }
            }
            guard case .completed(let n) = result else { return offset }
            offset += n
        }
        return offset
    }

    // MARK: waiting

    /// poll(2) on several fds for readability (nil entries are skipped):
    /// which are readable (or hung up) when it returns; none on timeout.
    public static func waitReadable(_ fds: [FileDescriptor?], timeoutMs: Int32) throws(SystemError) -> [Bool] {
        var set = fds.map { pollfd(fd: $0?.rawValue ?? -1, events: Int16(POLLIN), revents: 0) }
        try Syscall.call("poll", "\(fds.count) fds") { poll(&set, nfds_t(set.count), timeoutMs) }
        return set.map { $0.revents != 0 }
    }

    /// poll(2) until readable (or writable): false on timeout. A negative timeout waits forever.
    public func wait(writable: Bool = false, timeoutMs: Int32) throws(SystemError) -> Bool {
        var p = pollfd(fd: rawValue, events: Int16(writable ? POLLOUT : POLLIN), revents: 0)
        return try Syscall.call("poll", description) { poll(&p, 1, timeoutMs) } > 0
    }
}
