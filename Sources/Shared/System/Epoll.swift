#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// An epoll instance (epoll_create1(EPOLL_CLOEXEC)); each registration carries a 64-bit token.
public struct Epoll {
    public let fd: FileDescriptor

    public struct Event {
        public let token: UInt64
        public let events: UInt32
        public var isReadable: Bool { events & UInt32(CS_EPOLLIN) != 0 }
        public var isWritable: Bool { events & UInt32(CS_EPOLLOUT) != 0 }
        public var isHangup: Bool { events & UInt32(CS_EPOLLHUP | CS_EPOLLERR) != 0 }
    }

    public init() throws {
        fd = FileDescriptor(rawValue: try Syscall.checked("epoll_create1") { cs_epoll_create() })
    }

    /// epoll_ctl(EPOLL_CTL_ADD) for readability, or writability when `writable`.
    public func add(_ target: FileDescriptor, token: UInt64, writable: Bool = false) throws {
        let events = UInt32(writable ? CS_EPOLLOUT : CS_EPOLLIN)
        try Syscall.checked("epoll_ctl", target.description) {
            cs_epoll_ctl(fd.rawValue, Int32(CS_EPOLL_CTL_ADD), target.rawValue, events, token)
        }
    }

    /// epoll_ctl(EPOLL_CTL_DEL); errors (already closed) are ignored.
    public func remove(_ target: FileDescriptor) {
        _ = cs_epoll_ctl(fd.rawValue, Int32(CS_EPOLL_CTL_DEL), target.rawValue, 0, 0)
    }

    /// epoll_wait; an interrupted wait returns no events rather than throwing.
    public func wait(timeoutMilliseconds: Int32) throws -> [Event] {
        // The kernel's array lives on the stack: an empty wait allocates nothing
        // (workers look without sleeping between requests).
        try withUnsafeTemporaryAllocation(of: cs_epoll_event.self, capacity: 64) { raw in
            let n = cs_epoll_wait(fd.rawValue, raw.baseAddress, 64, timeoutMilliseconds)
            if n == -EINTR || n == 0 { return [] }
            if n < 0 { throw SystemError("epoll_wait", errno: -n) }
            return raw[0..<Int(n)].map { Event(token: $0.data, events: $0.events) }
        }
    }
}
