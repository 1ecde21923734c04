import Shared

/// Zerg mode: the worker's link to a vassal's zerg-server socket
/// (docs/handoff-protocol.md). The worker says hello, gets the vassal's
/// queue page, is handed connections one at a time, and gives each back
/// idle (`back`) or closed (`done`).
final class VassalLink {
    let path: String
    /// The link while attached.
    private(set) var handoff: HandoffLink?
    /// What the vassal said in `welcome` (from `countedBackVersion` it takes `returned`).
    private(set) var vassalVersion: UInt8 = 0
    /// Where received packets land.
    private let buffer = HandoffLink.makeBuffer()

    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    init(path: String) { self.path = path }

    /// The highest handoff version this worker says it `understands`:
    /// `welcomeVersion`, or lower when the environment says so (a stand-in for a
    /// worker of an older build, to test a mix of builds as during an upgrade).
    static let understoodVersion: UInt8 = {
        let asked = Host.environment()[versionVariable].flatMap { UInt8($0) } ?? HandoffMessage.welcomeVersion
        return min(max(asked, HandoffMessage.dueVersion), HandoffMessage.welcomeVersion)
    }()
    static let versionVariable = "HADJANGO_HANDOFF_VERSION"

    /// What this worker says it `understands` to this vassal: the lower of the two.
    var spokenVersion: UInt8 { min(vassalVersion, Self.understoodVersion) }

    /// Both sides speak `quietVersion`: closes go in the seat's closed ring,
    /// and `available` only to a vassal that may be asleep.
    var isQuiet: Bool { spokenVersion >= HandoffMessage.quietVersion }

    var isAttached: Bool { handoff != nil }
    var fd: FileDescriptor? { handoff?.fd }

    /// Connects and says hello. Returns the vassal's shared page when
    /// attached; nil when the vassal is not there (yet). Throws `Refused`.
    func attach(hello: HandoffMessage) throws -> SharedMemory? {
        guard let fd = try? FileDescriptor.connectPackets(path: path) else { return nil }
        let candidate = HandoffLink(fd: fd)
        // A refused attach is answered before the hello is read (and the link
        // closed), so the hello may fail to send: the answer is read anyway.
        _ = try? candidate.send(hello)
        guard (try? fd.wait(timeoutMs: 5000)) == true else {
            fd.close()
            return nil
        }
        switch try? candidate.receive(into: buffer) {
        case .message(.welcome(let version), let boardFd?):
            vassalVersion = version
            guard let board = try? SharedMemory(mapping: boardFd, count: HandoffBoard.words) else {
                boardFd.close()
                fd.close()
                return nil
            }
            handoff = candidate
            return board
        case .message(.refuse(let reason), let stray):
            stray?.close()
            fd.close()
            throw Refused(description: "the vassal at \(path) refused this worker: \(reason)")
        case .message(_, let stray):
            stray?.close()
            fd.close()
            return nil
        default:
            fd.close()
            return nil
        }
    }

    /// Sends to the vassal; false when the link is gone (the caller drops it).
    func tell(_ message: HandoffMessage, fd connection: FileDescriptor? = nil) -> Bool {
        guard let handoff else { return false }
        return (try? handoff.send(message, fd: connection))?.value != nil
    }

    /// One message from the vassal, if one is waiting.
    func receive() throws -> HandoffLink.Received {
        guard let handoff else { return .closed }
        return try handoff.receive(into: buffer, nonBlocking: true)
    }

    /// The link is over: closes it.
    func close() {
        handoff?.fd.close()
        handoff = nil
    }
}
