/// One end of a master↔worker control channel (a stream socketpair):
/// `Outgoing` messages are written whole, `Incoming` ones decoded as they arrive.
public struct ControlChannel<Outgoing: ControlMessage, Incoming: ControlMessage> {
    public let fd: FileDescriptor
    private var decoder = ControlDecoder<Incoming>()
    /// Decoded by `next` and not handed out yet.
    private var queued: [Incoming] = []

    public init(fd: FileDescriptor) { self.fd = fd }

    /// Sends one message (waiting for room if the fd is non-blocking). A
    /// failure means the other end is gone.
    public func send(_ message: Outgoing) throws(SystemError) {
        try fd.writeAll(ControlFrame.encode(message))
    }

    /// What arrived.
    public enum Received {
        case messages([Incoming])
        /// The other end closed the channel (or broke the protocol: the error).
        case closed(ControlError?)
    }

    /// Reads what is available (without waiting) and returns the whole messages in it.
    public mutating func receive() -> Received {
        switch try? fd.readAvailable(max: 4096) {
        case .wouldBlock?:
            break
        case .completed(let bytes)? where !bytes.isEmpty:
            decoder.append(bytes)
        default:
            return .closed(nil)
        }
        var messages = queued
        queued = []
        do {
            while let m = try decoder.next() { messages.append(m) }
        } catch {
            return .closed(error)
        }
        return .messages(messages)
    }

    /// Messages `next` decoded beyond the one it returned (they arrived in the
    /// same read), handed out once: epoll will not report them again.
    public mutating func takeQueued() -> [Incoming] {
        defer { queued = [] }
        return queued
    }

    /// Waits up to `timeoutMs` for the next message; nil when none came or
    /// the channel closed.
    public mutating func next(timeoutMs: Int32) -> Incoming? {
        let deadline = Host.monotonicNanoseconds() + UInt64(max(0, timeoutMs)) * 1_000_000
        while queued.isEmpty {
            let now = Host.monotonicNanoseconds()
            guard now < deadline, (try? fd.wait(timeoutMs: Int32(clamping: (deadline - now) / 1_000_000 + 1))) == true else { return nil }
            guard case .messages(let messages) = receive() else { return nil }
            queued = messages
        }
        return queued.removeFirst()
    }
}

/// The worker's end: orders in, reports out.
public typealias WorkerControl = ControlChannel<WorkerReport, MasterOrder>
/// The master's end of one worker's channel: reports in, orders out.
public typealias MasterControl = ControlChannel<MasterOrder, WorkerReport>
