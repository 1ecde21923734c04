import Testing
@testable import Shared

@Suite struct HTTPParserTests {
    func parse(_ text: String, limit: Int = 4096) -> HTTPHeadParser.Outcome {
        HTTPHeadParser.parse(Array(text.utf8), limit: limit)
    }

    func head(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> HTTPRequestHead? {
        if case .complete(let h, _) = parse(text) { return h }
        Issue.record("expected a complete head for \(text.debugDescription), got \(parse(text))", sourceLocation: sourceLocation)
        return nil
    }

    func status(_ text: String) -> Int? {
        if case .failed(let e) = parse(text) { return e.status }
        return nil
    }

    @Test func simpleGet() throws {
        let h = try #require(head("GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nX-A:  v  \r\n\r\n"))
        #expect(h.methodText == "GET")
        #expect(h.pathText == "/a/b")
        #expect(h.queryText == "x=1&y=%20")
        #expect(h.minorVersion == 1)
        #expect(h.keepAlive)
        #expect(h.framing == .none)
        #expect(h.hostText == "example.com")
        #expect(h.value("x-a") == "v")
    }

    @Test func incompleteAndLeadingEmptyLines() throws {
        guard case .incomplete = parse("GET / HTTP/1.1\r\nHost: x\r\n") else { Issue.record("expected incomplete"); return }
        guard case .complete(_, let consumed) = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nGET") else {
            Issue.record("expected complete"); return
        }
        #expect(consumed == 4 + 27)
    }

    @Test func bareLFIsAcceptedBareCRIsNot() {
        #expect(head("GET / HTTP/1.1\nHost: x\n\n") != nil)
        #expect(status("GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n") == 400)
    }

    @Test func connectionSemantics() throws {
        #expect(try #require(head("GET / HTTP/1.0\r\n\r\n")).keepAlive == false)
        #expect(try #require(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")).keepAlive)
        #expect(try #require(head("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).keepAlive == false)
        #expect(try #require(head("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n")).keepAlive == false)
        #expect(try #require(head("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")).expectsContinue)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n") == 417)
    }

    @Test func bodyFraming() throws {
        #expect(try #require(head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n")).framing == .length(12))
        #expect(try #require(head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n")).framing == .length(5))
        #expect(try #require(head("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n")).framing == .chunked)
        #expect(try #require(head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")).framing == .none)
    }

    @Test(arguments: [
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x3\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n  folded\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\u{0}b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\u{1}b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("GET / HTTX/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET relative HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("CONNECT host:443 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (": novalue\r\n\r\n", 400),
    ])
    func refused(_ text: String, _ expected: Int) {
        #expect(status(text) == expected, "\(text.debugDescription)")
    }

    @Test func limits() {
        let longTarget = "GET /" + String(repeating: "a", count: 200) + " HTTP/1.1\r\nHost: x\r\n\r\n"
        #expect(status(longTarget.replacingAll("\r\n\r\n", with: "\r\n")) == nil)  // incomplete, under the limit
        guard case .failed(let e1) = parse(longTarget, limit: 100) else { Issue.record("414 expected"); return }
        #expect(e1.status == 414)
        let manyHeaders = "GET / HTTP/1.1\r\nHost: x\r\n" + String(repeating: "X-Filler: 0123456789\r\n", count: 20) + "\r\n"
        guard case .failed(let e2) = parse(manyHeaders, limit: 100) else { Issue.record("431 expected"); return }
        #expect(e2.status == 431)
        // Without the end of the head yet, but already too long.
        guard case .failed(let e3) = parse(String(repeating: "X", count: 300), limit: 100) else { Issue.record("414 expected"); return }
        #expect(e3.status == 414)
    }

    @Test func targetForms() throws {
        let abs = try #require(head("GET http://Example.org:8080/p/q?z=1 HTTP/1.1\r\nHost: other\r\n\r\n"))
        #expect(abs.hostText == "Example.org:8080")
        #expect(abs.pathText == "/p/q")
        #expect(abs.queryText == "z=1")
        let bare = try #require(head("GET http://example.org HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(bare.pathText == "")
        let star = try #require(head("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(star.pathText == "*")
        let frag = try #require(head("GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n"))
        #expect(frag.pathText == "/a")
    }

    // MARK: chunked bodies

    func decode(_ text: String) throws -> (String, Bool) {
        var d = ChunkedDecoder()
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        // Feed one byte at a time: the decoder must not care how reads split.
        for b in bytes where !d.isDone { _ = try d.decode([b], into: &out) }
        return (String(decoding: out, as: UTF8.self), d.isDone)
    }

    @Test func chunkedDecoding() throws {
        #expect(try decode("5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n") == ("hello world", true))
        #expect(try decode("A\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n") == ("0123456789", true))
        #expect(try decode("5\r\nhel") == ("hel", false))
    }

    @Test(arguments: ["0x5\r\nhello\r\n0\r\n\r\n", "+5\r\nhello\r\n0\r\n\r\n", "5_0\r\n", "-1\r\n", "\r\n",
                      "fffffffffffffffffff\r\n", "5\r\nhelloX\r\n", "5 \r\nhello\r\n", "5\r\nhello\r\n0\r\nbad trailer\r\n\r\n",
                      "5\rhello",
                      // Bare LF anywhere in the framing (a proxy that reads it otherwise frames another request).
                      "5\nhello\r\n0\r\n\r\n", "5\r\nhello\n0\r\n\r\n", "5\r\nhello\r\n0\n\r\n",
                      "5\r\nhello\r\n0\r\nX: y\n\r\n", "5\r\nhello\r\n0\r\n\n"])
    func chunkedRefused(_ text: String) {
        #expect(throws: HTTPError.self) { try decode(text) }
    }

    @Test func responseHeads() {
        #expect(HTTPResponseHead.statusCode(of: "200 OK") == 200)
        #expect(HTTPResponseHead.statusCode(of: "404") == 404)
        #expect(HTTPResponseHead.statusCode(of: "20 OK") == nil)
        #expect(HTTPResponseHead.statusCode(of: "200 OK\r\nX: y") == nil)
        #expect(HTTPResponseHead.statusCode(of: "abc") == nil)
        let head = String(decoding: HTTPResponseHead.serialize(
            status: "200 OK", headers: [("X-A", "b")], minorVersion: 1, framing: .chunked, keepAlive: false, appSetLength: false), as: UTF8.self)
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\nX-A: b\r\nDate: "))
        #expect(head.hasSuffix(" GMT\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"))
        #expect(HTTPDate().now().count == 29)
        #expect(HTTPDate.text(of: 784111777) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }
}
