/// Decodes a chunked request body incrementally (RFC 9112 §7.1), strictly:
/// chunk sizes are bare hex digits (no `0x`, sign or `_`), every line ends in
/// CRLF (a bare LF is refused: a proxy that reads it differently would frame
/// another request), lines and trailers are bounded. Never traps on input.
public struct ChunkedDecoder: Sendable {
    enum State: Sendable {
        case sizeLine
        case data(remaining: Int)
        case dataEnd
        case trailer
        case done
    }

    private var state = State.sizeLine
    private var line: [UInt8] = []
    private var trailerBytes = 0

    public static let maxLine = 4096
    public static let maxTrailer = 8192

    public init() {}

    public var isDone: Bool {
        if case .done = state { return true }
        return false
    }

    /// Consumes bytes from `input`, appending decoded data to `output`; returns how
    /// many input bytes were used (fewer than all only once the body is done).
    public mutating func decode(_ input: UnsafeBufferPointer<UInt8>, into output: inout [UInt8]) throws -> Int {
        var i = 0
        while i < input.count {
            switch state {
            case .done:
                return i
            case .sizeLine, .trailer:
                let c = input[i]
                i += 1
                if c == HTTPBytes.lf {
                    guard line.last == HTTPBytes.cr else { throw HTTPError.bad("a bare LF in the chunked body (CRLF required)") }
                    line.removeLast()
                    try finishLine()
                    line.removeAll(keepingCapacity: true)
                } else {
                    if line.last == HTTPBytes.cr { throw HTTPError.bad("a CR not followed by LF in the chunked body") }
                    line.append(c)
                    if line.count > Self.maxLine { throw HTTPError.bad("chunk line longer than \(Self.maxLine) bytes") }
                }
            case .data(let remaining):
                let n = min(remaining, input.count - i)
                output.append(contentsOf: UnsafeBufferPointer(rebasing: input[i..<(i + n)]))
                i += n
                state = remaining - n == 0 ? .dataEnd : .data(remaining: remaining - n)
            case .dataEnd:
                let c = input[i]
                i += 1
                if c == HTTPBytes.cr && line.isEmpty {
                    line.append(c)
                } else if c == HTTPBytes.lf && line.count == 1 {
                    line.removeAll(keepingCapacity: true)
                    state = .sizeLine
                } else if c == HTTPBytes.lf {
                    throw HTTPError.bad("a bare LF in the chunked body (CRLF required)")
                } else {
                    throw HTTPError.bad("chunk data longer than its size")
                }
            }
        }
        return i
    }

    public mutating func decode(_ input: [UInt8], into output: inout [UInt8]) throws -> Int {
        try input.withUnsafeBufferPointer { try decode($0, into: &output) }
    }

    private mutating func finishLine() throws {
        if case .trailer = state {
            if line.isEmpty {
                state = .done
                return
            }
            trailerBytes += line.count
            if trailerBytes > Self.maxTrailer { throw HTTPError(431, "chunked trailer longer than \(Self.maxTrailer) bytes") }
            // name ":" value, with the same rules as header fields.
            guard let colon = line.firstIndex(of: HTTPBytes.colon), colon > 0,
                  line[..<colon].allSatisfy(HTTPBytes.isToken), line[(colon + 1)...].allSatisfy(HTTPBytes.isValueByte)
            else { throw HTTPError.bad("malformed trailer field") }
            return
        }
        let size = try Self.parseSize(line)
        state = size == 0 ? .trailer : .data(remaining: size)
    }

    /// chunk-size [ BWS ";" chunk-ext ]
    static func parseSize(_ line: [UInt8]) throws -> Int {
        var i = 0
        var n = 0
        while i < line.count, let digit = hexValue(line[i]) {
            if n > (Int.max >> 4) { throw HTTPError.bad("chunk size overflows") }
            n = n << 4 | digit
            i += 1
        }
        guard i > 0 else { throw HTTPError.bad("invalid chunk size") }
        var j = i
        while j < line.count, line[j] == HTTPBytes.space || line[j] == HTTPBytes.tab { j += 1 }
        if j < line.count {
            guard line[j] == UInt8(ascii: ";") else { throw HTTPError.bad("invalid chunk size") }
            guard line[(j + 1)...].allSatisfy(HTTPBytes.isValueByte) else { throw HTTPError.bad("invalid chunk extension") }
        } else if j > i {
            throw HTTPError.bad("invalid chunk size")  // trailing whitespace without an extension
        }
        return n
    }

    @inline(__always) public static func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case 48...57: return Int(c - 48)
        case 97...102: return Int(c - 87)
        case 65...70: return Int(c - 55)
        default: return nil
        }
    }
}
