import Testing
@testable import Shared

/// uWSGI's binary protocol, as nginx's uwsgi_pass sends it: parsed strictly,
/// never trapping on what a peer sends.
@Suite struct UWSGIRequestTests {
    /// A packet: the header (modifier1, vars size, modifier2), then the vars.
    static func packet(_ vars: [(String, String)], modifier1: UInt8 = 0) -> [UInt8] {
        var body: [UInt8] = []
        for (k, v) in vars {
            for part in [Array(k.utf8), Array(v.utf8)] {
                body += [UInt8(part.count & 0xff), UInt8(part.count >> 8)] + part
            }
        }
        return [modifier1, UInt8(body.count & 0xff), UInt8(body.count >> 8), 0] + body
    }

    static let nginxVars = [("QUERY_STRING", "a=1"), ("REQUEST_METHOD", "POST"), ("CONTENT_TYPE", "text/plain"), ("CONTENT_LENGTH", "5"),
                            ("REQUEST_URI", "/p?a=1"), ("PATH_INFO", "/p"), ("SERVER_PROTOCOL", "HTTP/1.1"), ("REMOTE_ADDR", "10.0.0.7"),
                            ("HTTP_HOST", "site"), ("HTTP_USER_AGENT", "curl"), ("HTTP_CONTENT_LENGTH", "5")]

    @Test func aWholePacketGivesItsVarsAndAnHTTPHead() throws {
        let bytes = Self.packet(Self.nginxVars) + Array("hello".utf8)
        guard case .complete(let request, let consumed) = UWSGIRequest.parse(bytes, limit: 4096) else {
            Issue.record("not parsed")
            return
        }
        #expect(consumed == bytes.count - 5, "the body follows the packet")
        #expect(request.modifier1 == 0 && request.vars.count == Self.nginxVars.count)
        #expect(request.value("REMOTE_ADDR") == "10.0.0.7" && request.value("NOPE") == nil)
        #expect(request.head.methodText == "POST" && request.head.targetText == "/p?a=1" && request.head.framing == .length(5))
        #expect(request.head.hostText == "site" && request.head.value("User-Agent") == "curl" && !request.head.keepAlive)
    }

    @Test func everyPrefixIsIncompleteAndOversizeIsRefused() {
        let bytes = Self.packet(Self.nginxVars)
        for n in 0..<bytes.count {
            guard case .incomplete = UWSGIRequest.parse(Array(bytes[0..<n]), limit: 4096) else {
                Issue.record("prefix of \(n) bytes")
                return
            }
        }
        guard case .failed(let error) = UWSGIRequest.parse(bytes, limit: 64) else {
            Issue.record("a packet over buffer-size is refused")
            return
        }
        #expect(error.status == 431 && error.reason.contains("buffer-size"))
    }

    @Test func malformedPacketsAreRefused() {
        var runaway = Self.packet([("A", "b")])
        runaway[7] = 200  // the value's length runs past the packet
        let injected = Self.packet([("REQUEST_METHOD", "GET"), ("HTTP_X", "a\r\nTransfer-Encoding: chunked")])
        let badLength = Self.packet([("CONTENT_LENGTH", "5x")])
        for bytes in [runaway, injected, badLength] {
            guard case .failed(let error) = UWSGIRequest.parse(bytes, limit: 4096) else {
                Issue.record("accepted: \(bytes)")
                continue
            }
            #expect(error.status == 400)
        }
        // Random bytes never trap.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0..<80, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = UWSGIRequest.parse(bytes, limit: 4096)
        }
    }
}
