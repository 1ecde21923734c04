/// The framing of the master↔worker control channel (docs/zerg.md):
///
///     "HC"  version  kind  length(u32 LE)  payload
///
/// A stream socket carries the frames back to back; `ControlDecoder` cuts
/// them out of whatever reads return (half a frame, several at once).
public protocol ControlMessage: Equatable, Sendable {
    /// The message type byte (orders and reports number theirs apart).
    var kind: UInt8 { get }
    /// The payload after the frame header.
    func payload() -> [UInt8]
    /// Rebuilds the message; throws `ControlError` for an unknown kind or a bad payload.
    static func decode(kind: UInt8, payload: ControlReader) throws(ControlError) -> Self
}

/// A frame that breaks the protocol: the channel that sent it is closed.
public struct ControlError: Error, Equatable, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum ControlFrame {
    public static let magic: [UInt8] = [0x48, 0x43]  // "HC"
    public static let version: UInt8 = 1
    public static let headerSize = 8
    /// The largest payload either side sends or accepts.
    public static let maxPayload = 1 << 20

    public static func encode<M: ControlMessage>(_ message: M) -> [UInt8] {
        let payload = message.payload()
        var out = magic + [version, message.kind]
        out.appendLE(UInt32(payload.count))
        return out + payload
    }
}

/// Cuts frames out of a byte stream.
public struct ControlDecoder<Message: ControlMessage> {
    private var buffer: [UInt8] = []

    public init() {}

    /// Bytes waiting for the rest of their frame.
    public var pendingBytes: Int { buffer.count }

    public mutating func append(_ bytes: [UInt8]) { buffer += bytes }

    /// The next whole message, nil until one is complete.
    public mutating func next() throws(ControlError) -> Message? {
        let h = ControlFrame.headerSize
        if buffer.count >= 2 && (buffer[0] != ControlFrame.magic[0] || buffer[1] != ControlFrame.magic[1]) {
            throw ControlError("not a control frame (bad magic)")
        }
        guard buffer.count >= h else { return nil }
        guard buffer[2] == ControlFrame.version else {
            throw ControlError("control protocol version \(buffer[2]) (this side speaks \(ControlFrame.version))")
        }
        let length = Int(buffer[4]) | Int(buffer[5]) << 8 | Int(buffer[6]) << 16 | Int(buffer[7]) << 24
        guard length <= ControlFrame.maxPayload else { throw ControlError("frame of \(length) bytes (limit \(ControlFrame.maxPayload))") }
        guard buffer.count >= h + length else { return nil }
        let kind = buffer[3]
        let payload = Array(buffer[h..<(h + length)])
        buffer.removeFirst(h + length)
        return try Message.decode(kind: kind, payload: ControlReader(payload))
    }
}

/// Reads a payload's fields; a field past the end, or bytes left over, are errors.
public struct ControlReader {
    let bytes: [UInt8]
    public private(set) var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var isAtEnd: Bool { offset == bytes.count }

    public mutating func u8() throws(ControlError) -> UInt8 {
        guard offset < bytes.count else { throw ControlError("payload ends early") }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func u32() throws(ControlError) -> UInt32 {
        guard bytes.count - offset >= 4 else { throw ControlError("payload ends early") }
        defer { offset += 4 }
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }

    /// A u32 length, then that many bytes of UTF-8.
    public mutating func text() throws(ControlError) -> String {
        let n = Int(try u32())
        guard bytes.count - offset >= n else { throw ControlError("payload ends early") }
        defer { offset += n }
        return String(decoding: bytes[offset..<(offset + n)], as: UTF8.self)
    }

    /// Throws when bytes remain (a message is exactly its fields).
    public func end(_ kind: String) throws(ControlError) {
        if !isAtEnd { throw ControlError("\(kind) has \(bytes.count - offset) trailing bytes") }
    }
}

extension Array where Element == UInt8 {
    mutating func appendText(_ text: String) {
        let utf8 = Array(text.utf8)
        appendLE(UInt32(utf8.count))
        self += utf8
    }
}
