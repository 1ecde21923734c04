/// The messages of the handoff protocol between a vassal and zerg workers
/// (docs/handoff-protocol.md is the wire-format reference). Every packet starts
/// with the magic bytes `HZ`, the protocol version and the message type;
/// integers are little-endian.
public enum HandoffMessage: Equatable, Sendable {
    // worker → vassal
    /// First message on a new link: who is attaching.
    case hello(pid: Int32, worker: Int32, build: String)
    /// The app is loaded: the worker can take a connection.
    case ready
    /// The connection handed over last is idle: it travels back (one fd) with
    /// the bytes the worker read but did not use. The worker is free again.
    case back(requests: UInt32, buffered: [UInt8])
    /// `back`, with what the worker wrote to and read from the connection
    /// (bytes): the vassal keeps each connection's totals without a system
    /// call, to tell at a worker's death whether its request was touched.
    /// Sent to a vassal whose `welcome` said `countedBackVersion` or later.
    case returned(requests: UInt32, written: UInt64, read: UInt64, buffered: [UInt8])
    /// The worker closed the connection it was given. The worker is free again.
    case done
    /// The worker is leaving: send it nothing new (answered with `bye`).
    case draining
    /// The app cannot load (`reason`: its error); the worker exits. Until a
    /// worker is ready again, the vassal answers requests 503 at once.
    case failing(reason: String)
    /// Right after a `welcome` of `dueVersion` or later: this worker
    /// understands messages up to `version` (`connectionDue`).
    case understands(version: UInt8)
    /// A seated worker (see `seat`) finished a request and is free, and the
    /// vassal's queue page said requests wait: dispatch. (With nobody waiting
    /// it says nothing: the seat shows it free.)
    case available
    /// A seated worker closed the connection the vassal handed it as the
    /// `id`-th connection on this link (counting from 1). From
    /// `quietVersion` on, only when its seat's closed ring is full.
    case heldClosed(id: UInt32)
    /// A seated worker gives back connection `id` (one fd), idle or with a
    /// request head begun, as `returned` does for the connection served last.
    case heldReturned(id: UInt32, requests: UInt32, written: UInt64, read: UInt64, buffered: [UInt8])
    // vassal → worker
    /// The attach is accepted, speaking `version`. Carries one fd: a shared
    /// memory page whose first 64-bit word is the vassal's queue depth (how
    /// many complete requests wait for a worker), so a worker lingers on a
    /// keep-alive connection only while nobody else is waiting.
    case welcome(version: UInt8)
    /// The attach is refused (the link closes after this).
    case refuse(reason: String)
    /// A client connection (one fd) whose next request head is complete in
    /// `buffered` (with any body bytes that came with it).
    case connection(remoteHost: String, remotePort: UInt16, buffered: [UInt8])
    /// `connection`, given ahead of time to a busy worker, with the time
    /// (CLOCK_MONOTONIC of this host, ns) by which the worker must start it:
    /// past it the request has waited longer than `queue-timeout`, and the
    /// worker answers 503 without running the app. Sent only to a worker that
    /// said `understands` with `dueVersion` or later.
    case connectionDue(dueNs: UInt64, remoteHost: String, remotePort: UInt16, buffered: [UInt8])
    /// A connection from a `socket` listener: its client speaks the uwsgi
    /// protocol and `buffered` holds a whole uwsgi packet. One request: the
    /// worker closes it after (`done`), never hands it back. `dueNs` as in
    /// `connectionDue` (0: none). Sent only to a worker that said
    /// `understands` with `uwsgiVersion` or later.
    case uwsgiConnection(dueNs: UInt64, remoteHost: String, remotePort: UInt16, buffered: [UInt8])
    /// Answer to `draining`: no further message follows on this link.
    case bye
    /// To a worker that `understands` `heldVersion`: its seat (one fd, a
    /// memfd of `HandoffSeat.size`-byte seats; `index` is its own). Seated, the
    /// worker keeps the keep-alive connections it was handed in its own epoll
    /// between requests, and shows in its seat which one it serves.
    case seat(index: UInt16)

    public static let version: UInt8 = 1
    /// The `welcome` version from which a vassal understands `returned`.
    public static let countedBackVersion: UInt8 = 2
    /// The version from which workers say `understands` and vassals send `connectionDue`.
    public static let dueVersion: UInt8 = 3
    /// The version from which vassals send `uwsgiConnection`.
    public static let uwsgiVersion: UInt8 = 4
    /// The version from which vassals send `seat` and workers hold connections.
    public static let heldVersion: UInt8 = 5
    /// The version from which a seated worker sends no message per request:
    /// it notes the connections it closes in its seat's closed ring instead of
    /// sending `heldClosed` (`HandoffSeat.noteClosed`), and says `available`
    /// only while the vassal may be asleep (`HandoffBoard.asleep`).
    public static let quietVersion: UInt8 = 6
    /// What this side's vassal says in `welcome`, and its workers in `understands`.
    public static let welcomeVersion: UInt8 = quietVersion
    static let magic: [UInt8] = [0x48, 0x5A]  // "HZ"

    public enum Kind: UInt8, Sendable {
        case hello = 0x01, ready = 0x02, back = 0x03, done = 0x04, draining = 0x05, failing = 0x06, returned = 0x07, understands = 0x08
        case available = 0x09, heldClosed = 0x0A, heldReturned = 0x0B
        case welcome = 0x81, refuse = 0x82, connection = 0x83, bye = 0x84, connectionDue = 0x85, uwsgiConnection = 0x86, seat = 0x87
    }

    public var kind: Kind {
        switch self {
        case .hello: return .hello
        case .ready: return .ready
        case .back: return .back
        case .returned: return .returned
        case .done: return .done
        case .draining: return .draining
        case .failing: return .failing
        case .understands: return .understands
        case .available: return .available
        case .heldClosed: return .heldClosed
        case .heldReturned: return .heldReturned
        case .seat: return .seat
        case .welcome: return .welcome
        case .refuse: return .refuse
        case .connection: return .connection
        case .connectionDue: return .connectionDue
        case .uwsgiConnection: return .uwsgiConnection
        case .bye: return .bye
        }
    }

    /// How many fds travel with a message of this kind (exactly).
    public static func fdCount(_ kind: Kind) -> Int {
        switch kind {
        case .back, .returned, .heldReturned, .connection, .connectionDue, .uwsgiConnection, .welcome, .seat: return 1
        case .hello, .ready, .done, .draining, .failing, .understands, .available, .heldClosed, .refuse, .bye: return 0
        }
    }

    /// The largest packet either side sends or accepts.
    public static let maxPacket = 256 * 1024

    public func encoded() -> [UInt8] {
        // One allocation per message: a connection's is sent for every request.
        var out: [UInt8] = []
        out.reserveCapacity(32 + payloadBytes)
        out += Self.magic
        out.append(Self.version)
        out.append(kind.rawValue)
        switch self {
        case .hello(let pid, let worker, let build):
            out.appendLE(UInt32(bitPattern: pid))
            out.appendLE(UInt32(bitPattern: worker))
            let name = Array(build.utf8.prefix(255))
            out.append(UInt8(name.count))
            out += name
        case .ready, .done, .draining, .bye, .available:
            break
        case .heldClosed(let id):
            out.appendLE(id)
        case .seat(let index):
            out.appendLE16(index)
        case .back(let requests, let buffered):
            out.appendLE(requests)
            out += buffered
        case .returned(let requests, let written, let read, let buffered):
            out.appendLE(requests)
            out.appendLE64(written)
            out.appendLE64(read)
            out += buffered
        case .heldReturned(let id, let requests, let written, let read, let buffered):
            out.appendLE(id)
            out.appendLE(requests)
            out.appendLE64(written)
            out.appendLE64(read)
            out += buffered
        case .welcome(let version), .understands(let version):
            out.append(version)
        case .refuse(let reason), .failing(let reason):
            out += Array(reason.utf8.prefix(1024))
        case .connection(let host, let port, let buffered):
            let name = Array(host.utf8.prefix(255))
            out.append(UInt8(name.count))
            out += name
            out.appendLE16(port)
            out += buffered
        case .connectionDue(let due, let host, let port, let buffered), .uwsgiConnection(let due, let host, let port, let buffered):
            out.appendLE64(due)
            let name = Array(host.utf8.prefix(255))
            out.append(UInt8(name.count))
            out += name
            out.appendLE16(port)
            out += buffered
        }
        return out
    }

    /// The variable-length part's size (what `encoded` reserves beyond the fixed fields).
    private var payloadBytes: Int {
        switch self {
        case .hello(_, _, let build): return build.utf8.count
        case .refuse(let text), .failing(let text): return text.utf8.count
        case .back(_, let buffered), .returned(_, _, _, let buffered), .heldReturned(_, _, _, _, let buffered):
            return buffered.count
        case .connection(let host, _, let buffered), .connectionDue(_, let host, _, let buffered), .uwsgiConnection(_, let host, _, let buffered):
            return host.utf8.count + buffered.count
        default: return 0
        }
    }

    /// Parses one packet; throws `HandoffError` for anything malformed: wrong
    /// magic or version, unknown type, short payload, or the wrong number of fds.
    public static func decode(_ bytes: UnsafeRawBufferPointer, fdCount: Int) throws -> HandoffMessage {
        guard bytes.count >= 4, bytes[0] == magic[0], bytes[1] == magic[1] else {
            throw HandoffError("not a handoff packet (\(bytes.count) bytes, bad magic)")
        }
        guard bytes[2] == version else { throw HandoffError("protocol version \(bytes[2]) (this side speaks \(version))") }
        guard let kind = Kind(rawValue: bytes[3]) else { throw HandoffError("unknown message type 0x\(String(bytes[3], radix: 16))") }
        guard fdCount == Self.fdCount(kind) else {
            throw HandoffError("\(kind) carried \(fdCount) fds (expected \(Self.fdCount(kind)))")
        }
        var r = Reader(bytes: bytes, at: 4)
        let message: HandoffMessage
        switch kind {
        case .hello:
            let pid = Int32(bitPattern: try r.u32())
            let worker = Int32(bitPattern: try r.u32())
            let n = Int(try r.u8())
            message = .hello(pid: pid, worker: worker, build: String(decoding: try r.bytes(n), as: UTF8.self))
        case .ready: message = .ready
        case .done: message = .done
        case .draining: message = .draining
        case .bye: message = .bye
        case .available: message = .available
        case .heldClosed: message = .heldClosed(id: try r.u32())
        case .seat: message = .seat(index: try r.u16())
        case .heldReturned:
            let id = try r.u32()
            let requests = try r.u32()
            let written = try r.u64()
            let read = try r.u64()
            message = .heldReturned(id: id, requests: requests, written: written, read: read, buffered: r.rest())
        case .back:
            message = .back(requests: try r.u32(), buffered: r.rest())
        case .returned:
            let requests = try r.u32()
            let written = try r.u64()
            let read = try r.u64()
            message = .returned(requests: requests, written: written, read: read, buffered: r.rest())
        case .welcome:
            message = .welcome(version: try r.u8())
        case .understands:
            message = .understands(version: try r.u8())
        case .refuse:
            message = .refuse(reason: String(decoding: r.rest(), as: UTF8.self))
        case .failing:
            message = .failing(reason: String(decoding: r.rest(), as: UTF8.self))
        case .connection:
            let n = Int(try r.u8())
            let host = String(decoding: try r.bytes(n), as: UTF8.self)
            let port = try r.u16()
            message = .connection(remoteHost: host, remotePort: port, buffered: r.rest())
        case .connectionDue, .uwsgiConnection:
            let due = try r.u64()
            let n = Int(try r.u8())
            let host = String(decoding: try r.bytes(n), as: UTF8.self)
            let port = try r.u16()
            message = kind == .uwsgiConnection
                ? .uwsgiConnection(dueNs: due, remoteHost: host, remotePort: port, buffered: r.rest())
                : .connectionDue(dueNs: due, remoteHost: host, remotePort: port, buffered: r.rest())
        }
        if r.remaining > 0 { throw HandoffError("\(kind) has \(r.remaining) trailing bytes") }
        return message
    }

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var at: Int
        var remaining: Int { bytes.count - at }

        mutating func bytes(_ n: Int) throws -> [UInt8] {
            guard remaining >= n else { throw HandoffError("message ends early") }
            defer { at += n }
            return Array(bytes[at..<at + n])
        }
        /// A little-endian integer of `n` bytes, read in place (no array per field).
        private mutating func integer(_ n: Int) throws -> UInt64 {
            guard remaining >= n else { throw HandoffError("message ends early") }
            defer { at += n }
            return (0..<n).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
        }
        mutating func u8() throws -> UInt8 { UInt8(try integer(1)) }
        mutating func u16() throws -> UInt16 { UInt16(try integer(2)) }
        mutating func u32() throws -> UInt32 { UInt32(try integer(4)) }
        mutating func u64() throws -> UInt64 { try integer(8) }
        mutating func rest() -> [UInt8] {
            defer { at = bytes.count }
            return Array(bytes[at...])
        }
    }
}

/// A packet that breaks the protocol: the link that sent it is closed.
public struct HandoffError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Array where Element == UInt8 {
    mutating func appendLE(_ v: UInt32) {
        append(UInt8(v & 0xFF)); append(UInt8(v >> 8 & 0xFF)); append(UInt8(v >> 16 & 0xFF)); append(UInt8(v >> 24))
    }
    mutating func appendLE64(_ v: UInt64) {
        appendLE(UInt32(truncatingIfNeeded: v)); appendLE(UInt32(truncatingIfNeeded: v >> 32))
    }
    mutating func appendLE16(_ v: UInt16) {
        append(UInt8(v & 0xFF)); append(UInt8(v >> 8))
    }
}
