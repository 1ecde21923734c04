/// One end of a master↔worker control channel (a stream socketpair):
/// `Outgoing` messages are written whole, `Incoming` ones decoded as they arrive.
public struct ControlChannel<Outgoing: ControlMessage, Incoming: ControlMessage> {
    public let fd: FileDescriptor
    private var decoder = ControlDecoder<Incoming>()

    public init(fd: FileDescriptor) { self.fd = fd }

    /// Sends one message (waiting for room if the fd is non-blocking). A
    /// failure means the other end is gone.
    public func send(_ message: Outgoing) throws(SystemError) {
        try fd.writeAll(ControlFrame.encode(message))
    }

    /// What arrived.
    public enum Received {
        case messages([Incoming])
        /// The other end closed the channel (or broke the protocol: `error`).
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
        var messages: [Incoming] = []
        do {
            while let m = try decoder.next() { messages.append(m) }
        } catch {
            return .closed(error)
        }
        return .messages(messages)
    }
}

/// The worker's end: orders in, reports out.
public typealias WorkerControl = ControlChannel<WorkerReport, MasterOrder>
/// The master's end of one worker's channel: reports in, orders out.
public typealias MasterControl = ControlChannel<MasterOrder, WorkerReport>
