#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// An epoll instance (epoll_create1(EPOLL_CLOEXEC)); each registration carries
/// a 64-bit token. Loops hand tokens out through `EventSources`, not by hand.
public struct Epoll {
    public let fd: FileDescriptor

    /// What a registration waits for.
    public enum Interest: Sendable {
        case readable
        case writable
        /// Readable, for a socket shared with other processes (a listener):
        /// EPOLLEXCLUSIVE wakes one waiter per event instead of all of them.
        case readableExclusive
        /// Readable, edge-triggered: one event per arrival, not one per wait
        /// while bytes or connections are pending. The owner remembers that
        /// something is pending until a call says it would block (the
        /// vassal's listeners: it accepts only as many as workers can take).
        case readableEdge

        var events: UInt32 {
            switch self {
            case .readable: return UInt32(CS_EPOLLIN)
            case .writable: return UInt32(CS_EPOLLOUT)
            case .readableExclusive: return UInt32(CS_EPOLLIN | CS_EPOLLEXCLUSIVE)
            case .readableEdge: return UInt32(CS_EPOLLIN) | UInt32(CS_EPOLLET)
            }
        }
    }

    public struct Event {
        public let token: UInt64
        public let events: UInt32
        public var isReadable: Bool { events & UInt32(CS_EPOLLIN) != 0 }
        public var isWritable: Bool { events & UInt32(CS_EPOLLOUT) != 0 }
        public var isHangup: Bool { events & UInt32(CS_EPOLLHUP | CS_EPOLLERR) != 0 }
    }

    public init() throws(SystemError) {
        fd = FileDescriptor(rawValue: try Syscall.call("epoll_create1") { cs_epoll_create() })
    }

    /// epoll_ctl(EPOLL_CTL_ADD).
    public func add(_ target: FileDescriptor, token: UInt64, interest: Interest = .readable) throws(SystemError) {
        try Syscall.call("epoll_ctl(ADD)", target.description) {
            cs_epoll_ctl(fd.rawValue, Int32(CS_EPOLL_CTL_ADD), target.rawValue, interest.events, token)
        }
    }

    /// epoll_ctl(EPOLL_CTL_DEL). A target that is not registered (ENOENT) is fine.
    public func remove(_ target: FileDescriptor) {
        _ = try? Syscall.call("epoll_ctl(DEL)", target.description) {
            cs_epoll_ctl(fd.rawValue, Int32(CS_EPOLL_CTL_DEL), target.rawValue, 0, 0)
        }
    }

    /// epoll_wait (a signal during the wait is retried by `Syscall`).
    public func wait(timeoutMilliseconds: Int32) throws(SystemError) -> [Event] {
        // The kernel's array lives on the stack: an empty wait allocates nothing
        // (workers look without sleeping between requests).
        try withUnsafeTemporaryAllocation(of: cs_epoll_event.self, capacity: 64) { (raw) throws(SystemError) in
            let n = try Syscall.call("epoll_wait") { cs_epoll_wait(fd.rawValue, raw.baseAddress, 64, timeoutMilliseconds) }
            if n == 0 { return [] }
            return raw[0..<Int(n)].map { Event(token: $0.data, events: $0.events) }
        }
    }
}
