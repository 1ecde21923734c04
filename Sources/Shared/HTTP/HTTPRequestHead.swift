/// How a request's body is delimited.
public enum BodyFraming: Equatable, Sendable {
    case none
    case length(Int)
    case chunked
}

/// A parsed request head. Text is kept as byte ranges into `bytes`, so the
/// hot path can hand them to Python without building Swift strings.
public struct HTTPRequestHead: Sendable {
    public struct Field: Sendable {
        public let name: Range<Int>
        public let value: Range<Int>
    }

    /// The head as received (request line through the empty line).
    public let bytes: [UInt8]
    public var method: Range<Int>
    /// The request-target as sent.
    public var target: Range<Int>
    /// Path and query of the target (origin-form, or taken from absolute-form).
    public var path: Range<Int>
    public var query: Range<Int>
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    public var fields: [Field]
    public var framing: BodyFraming
    public var keepAlive: Bool
    public var expectsContinue: Bool
    /// The Host header's value, or the authority of an absolute-form target.
    public var host: Range<Int>?

    public func text(_ range: Range<Int>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    public var methodText: String { text(method) }
    public var targetText: String { text(target) }
    public var pathText: String { text(path) }
    public var queryText: String { text(query) }
    public var hostText: String? { host.map(text) }
    public var isHead: Bool { bytes[method].elementsEqual("HEAD".utf8) }
    /// Safe to send again to another worker when the first died before
    /// answering (nginx's `proxy_next_upstream` rule): GET, HEAD or OPTIONS
    /// without a body.
    public var isRetryable: Bool {
        switch framing {
        case .chunked: return false
        case .length(let n) where n > 0: return false
        default: break
        }
        let m = bytes[method]
        return m.elementsEqual("GET".utf8) || m.elementsEqual("HEAD".utf8) || m.elementsEqual("OPTIONS".utf8)
    }
    public var protocolText: String { minorVersion == 0 ? "HTTP/1.0" : "HTTP/1.1" }

    /// Values of a header (case-insensitive name), in order.
    public func values(_ name: String) -> [String] {
        fields.filter { HTTPBytes.equalsIgnoringCase(bytes[$0.name], name) }.map { text($0.value) }
    }

    public func value(_ name: String) -> String? { values(name).first }
}
