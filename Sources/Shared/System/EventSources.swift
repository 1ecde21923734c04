/// A registration in an `EventSources`: what `remove` needs back.
public struct EventToken: Hashable, Sendable {
    public let rawValue: UInt64
}

/// The event sources of one loop and its epoll: every registration gets the
/// next token, and an event's token maps back to what it is about. No token is
/// written by hand or reused, so two kinds of source can never collide, and an
/// event for a source removed earlier in the same turn finds nothing.
///
///     let sources = try EventSources<WorkerEvent>()
///     try sources.add(control, .control)
///     for event in try sources.wait(timeoutMs: 1000) {
///         switch sources[event] { case .control?: ...; case nil: continue }
///     }
public final class EventSources<Source> {
    public let epoll: Epoll
    private var sources: [UInt64: Source] = [:]
    private var nextToken: UInt64 = 1

    public init() throws(SystemError) {
        epoll = try Epoll()
    }

    /// Registers `fd` for `interest`; events for it come back as `source`.
    @discardableResult
    public func add(_ fd: FileDescriptor, _ source: Source, interest: Epoll.Interest = .readable) throws(SystemError) -> EventToken {
        let token = nextToken
        try epoll.add(fd, token: token, interest: interest)
        nextToken += 1
        sources[token] = source
        return EventToken(rawValue: token)
    }

    /// Takes `fd` out of epoll and forgets its source. Call it before closing
    /// the fd: a copy of the file held elsewhere (a connection handed to
    /// another process) would otherwise keep the registration alive.
    public func remove(_ fd: FileDescriptor, _ token: EventToken) {
        epoll.remove(fd)
        sources[token.rawValue] = nil
    }

    /// Waits for events (0: look without sleeping; -1: forever).
    @inlinable
    public func wait(timeoutMs: Int32) throws(SystemError) -> [Epoll.Event] {
        try epoll.wait(timeoutMilliseconds: timeoutMs)
    }

    /// What an event is about; nil when its source was removed meanwhile.
    public subscript(event: Epoll.Event) -> Source? { sources[event.token] }

    /// How many sources are registered.
    public var count: Int { sources.count }
}
