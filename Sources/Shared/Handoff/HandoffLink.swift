#if canImport(Glibc)
import Glibc
#endif

/// One end of a vassal↔worker link: sends and receives whole messages with
/// their fds, and turns protocol violations into errors (closing stray fds).
public struct HandoffLink {
    public let fd: FileDescriptor
    public init(fd: FileDescriptor) { self.fd = fd }

    /// A receive buffer for `receive`: the owner of the links allocates one
    /// (it handles one packet at a time) and passes it to every receive.
    public static func makeBuffer() -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer.allocate(byteCount: HandoffMessage.maxPacket, alignment: 16)
    }

    public enum Received {
        case message(HandoffMessage, FileDescriptor?)
        /// A whole message whose connection fd this process could not receive
        /// (out of descriptors). The link is fine; the receiver decides what
        /// the message means without it (the vassal still has its own copy).
        case messageLostItsFd(HandoffMessage)
        /// Nothing waiting (non-blocking receive).
        case none
        /// The peer closed the link.
        case closed
    }

    /// Sends one message (`.wouldBlock`: the link is full; only when `nonBlocking`).
    public func send(_ message: HandoffMessage, fd connection: FileDescriptor? = nil, nonBlocking: Bool = false) throws(SystemError) -> IOResult<Void> {
        try fd.sendPacket(message.encoded(), fd: connection, nonBlocking: nonBlocking)
    }

    /// Receives one message. A malformed one throws `HandoffError` after its fds are closed.
    public func receive(into buffer: UnsafeMutableRawBufferPointer, nonBlocking: Bool = false) throws -> Received {
        guard case .completed(let (count, fds, lost)) = try fd.receivePacket(into: buffer, nonBlocking: nonBlocking) else { return .none }
        if count == 0 && fds.isEmpty && !lost { return .closed }
        if lost && fds.isEmpty {
            // Every message carries at most one fd: this one had one.
            return .messageLostItsFd(try HandoffMessage.decode(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), fdCount: 1))
        }
        do {
            let message = try HandoffMessage.decode(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), fdCount: fds.count)
            return .message(message, fds.first)
        } catch {
            for stray in fds { stray.close() }
            throw error
        }
    }
}
