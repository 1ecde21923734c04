import Foundation
import Testing
@testable import Shared

/// Raw-socket HTTP/1.1 conformance: each case asserts what the client
/// receives and, where the app runs, what the app saw (/v/echo answers with
/// the environ it got, inside wsgiref's validator).
@Suite struct HTTPConformanceTests {
    static let host = "Host: test.local\r\n"

    func server(_ args: [String] = []) throws -> ZergHarness { try ZergHarness(args) }

    // MARK: refused before the app runs (400/414/431/501/505, connection closed)

    @Test(arguments: [
        ("CL with TE", "POST /v/echo HTTP/1.1\r\n\(host)Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
        ("differing duplicate CL", "POST /v/echo HTTP/1.1\r\n\(host)Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
        ("CL with a sign", "POST /v/echo HTTP/1.1\r\n\(host)Content-Length: +5\r\n\r\nhello", 400),
        ("CL in hex", "POST /v/echo HTTP/1.1\r\n\(host)Content-Length: 0x5\r\n\r\nhello", 400),
        ("CL overflow", "POST /v/echo HTTP/1.1\r\n\(host)Content-Length: 184467440737095516160\r\n\r\n", 400),
        ("TE not ending in chunked", "POST /v/echo HTTP/1.1\r\n\(host)Transfer-Encoding: chunked, identity\r\n\r\n", 400),
        ("unknown transfer coding", "POST /v/echo HTTP/1.1\r\n\(host)Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("chunk size 0x5", "POST /v/echo HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400),
        ("chunk size +5", "POST /v/echo HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", 400),
        ("chunk size 5_0", "POST /v/echo HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n5_0\r\nhello\r\n0\r\n\r\n", 400),
        ("chunk size overflow", "POST /v/echo HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n", 400),
        ("bare LF after a chunk size", "POST /v/echo HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400),
        ("different Content-Lengths", "POST /v/echo HTTP/1.1\r\n\(host)Content-Length: 5, 6\r\n\r\nhello!", 400),
        ("chunk data overrun", "POST /v/echo HTTP/1.1\r\n\(host)Transfer-Encoding: chunked\r\n\r\n5\r\nhello world\r\n0\r\n\r\n", 400),
        ("obs-fold", "GET /v/echo HTTP/1.1\r\n\(host)X-Long: a\r\n  continued\r\n\r\n", 400),
        ("space before colon", "GET /v/echo HTTP/1.1\r\nHost : test.local\r\n\r\n", 400),
        ("NUL in a value", "GET /v/echo HTTP/1.1\r\n\(host)X-A: a\u{0}b\r\n\r\n", 400),
        ("bare CR in a value", "GET /v/echo HTTP/1.1\r\n\(host)X-A: a\rb\r\n\r\n", 400),
        ("no Host on 1.1", "GET /v/echo HTTP/1.1\r\n\r\n", 400),
        ("two Hosts", "GET /v/echo HTTP/1.1\r\n\(host)Host: other\r\n\r\n", 400),
        ("HTTP/2.0 request line", "GET /v/echo HTTP/2.0\r\n\(host)\r\n", 505),
        ("garbage", "HELLO\r\n\r\n", 400),
    ])
    func refusedBeforeTheApp(_ name: String, _ request: String, _ expected: Int) throws {
        let z = try server()
        defer { z.cleanup() }
        let x = try z.exchange(request)
        #expect(x.status == expected, "\(name): \(x.text)")
        #expect(x.closedByServer, "\(name): the connection must close")
        #expect(!z.log().contains("\"REQUEST_METHOD\""))
        #expect(z.events().isEmpty)
    }

    @Test func headAndTargetLimitsFollowBufferSize() throws {
        let z = try server(["--buffer-size", "1024"])
        defer { z.cleanup() }
        let longTarget = try z.exchange("GET /v/echo?" + String(repeating: "a", count: 2000) + " HTTP/1.1\r\n\(Self.host)\r\n")
        #expect(longTarget.status == 414)
        let bigHead = try z.exchange("GET /v/echo HTTP/1.1\r\n\(Self.host)" + String(repeating: "X-Filler: 0123456789012345678901234567890123456789\r\n", count: 40) + "\r\n")
        #expect(bigHead.status == 431)
        let fits = try z.exchange("GET /v/echo HTTP/1.1\r\n\(Self.host)X-Filler: \(String(repeating: "b", count: 500))\r\n\r\n")
        #expect(fits.status == 200)
    }

    @Test func missingFinalChunkTimesOutWith400() throws {
        let z = try server(["--socket-timeout", "1"])
        defer { z.cleanup() }
        let x = try z.exchange("POST /v/echo HTTP/1.1\r\n\(Self.host)Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", timeout: 5)
        #expect(x.status == 400)
        #expect(x.first?.bodyText.contains("no final chunk") == true)
        #expect(x.closedByServer)
    }

    // MARK: what the app sees

    @Test func environIsComplete() throws {
        let z = try server()
        defer { z.cleanup() }
        let x = try z.exchange("GET /v/echo/a%20b%2Fc?x=1&y=%20 HTTP/1.1\r\nHost: example.org:8080\r\nX-Multi: one\r\nX-Multi: two\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n")
        let env = try #require(x.first?.json(), "\(x.text)")
        #expect(env["REQUEST_METHOD"] as? String == "GET")
        #expect(env["PATH_INFO"] as? String == "/v/echo/a b/c")  // percent-decoded, %2F included
        #expect(env["QUERY_STRING"] as? String == "x=1&y=%20")
        #expect(env["REQUEST_URI"] as? String == "/v/echo/a%20b%2Fc?x=1&y=%20")
        #expect(env["SCRIPT_NAME"] as? String == "")
        #expect(env["SERVER_NAME"] as? String == "example.org")
        #expect(env["SERVER_PORT"] as? String == "8080")
        #expect(env["SERVER_PROTOCOL"] as? String == "HTTP/1.1")
        #expect(env["REMOTE_ADDR"] as? String == "127.0.0.1")
        #expect(Int(env["REMOTE_PORT"] as? String ?? "") ?? 0 > 0)
        #expect(env["HTTP_X_MULTI"] as? String == "one, two")
        #expect(env["HTTP_COOKIE"] as? String == "a=1; b=2")
        #expect(env["wsgi.url_scheme"] as? String == "http")
        #expect(env["wsgi.multiprocess"] as? Bool == true)
        #expect(env["wsgi.multithread"] as? Bool == false)
        #expect(env["wsgi.input_terminated"] as? Bool == true)
        #expect(env["wsgi.version"] as? [Int] == [1, 0])
        #expect(env["CONTENT_LENGTH"] == nil)
    }

    @Test func underscoreHeadersAreDroppedUnlessAllowed() throws {
        let request = "GET /v/echo HTTP/1.1\r\n\(Self.host)X-Forwarded-For: 10.0.0.1\r\nX_Forwarded_For: 6.6.6.6\r\nX_Only: u\r\n\r\n"
        let z = try server()
        defer { z.cleanup() }
        let env = try #require(try z.exchange(request).first?.json())
        #expect(env["HTTP_X_FORWARDED_FOR"] as? String == "10.0.0.1")  // the spoofed twin did not join it
        #expect(env["HTTP_X_ONLY"] == nil)
        let allowing = try server(["--http-allow-underscore-headers"])
        defer { allowing.cleanup() }
        let all = try #require(try allowing.exchange(request).first?.json())
        #expect(all["HTTP_X_FORWARDED_FOR"] as? String == "10.0.0.1, 6.6.6.6")
        #expect(all["HTTP_X_ONLY"] as? String == "u")
    }

    @Test func aListOfIdenticalContentLengthsReachesTheAppAsOneNumber() throws {
        let z = try server()
        defer { z.cleanup() }
        let x = try z.exchange("POST /v/echo HTTP/1.1\r\n\(Self.host)Content-Length: 5, 5\r\n\r\nhello")
        let env = try #require(x.first?.json(), "\(x.text)")
        #expect(env["CONTENT_LENGTH"] as? String == "5")
        #expect(env["body"] as? String == "hello")
    }

    @Test func pathInfoIsLatin1OfTheDecodedBytes() throws {
        let z = try server()
        defer { z.cleanup() }
        let x = try z.exchange("GET /caf%C3%A9 HTTP/1.1\r\n\(Self.host)\r\n")  // not /v/: the bare echo
        let env = try #require(x.first?.json())
        // UTF-8 bytes C3 A9 seen as two latin-1 characters, as PEP 3333 requires.
        #expect(env["PATH_INFO"] as? String == "/caf\u{C3}\u{A9}")
    }

    @Test func contentLengthBodyIsReadExactly() throws {
        let z = try server()
        defer { z.cleanup() }
        // Two requests in one write: the first body must not eat the second request.
        let x = try z.exchange("POST /v/echo HTTP/1.1\r\n\(Self.host)Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhelloGET /v/echo HTTP/1.1\r\n\(Self.host)\r\n", responses: 2)
        #expect(x.responses.count == 2)
        let first = try #require(x.responses.first?.json())
        #expect(first["body"] as? String == "hello")
        #expect(first["CONTENT_LENGTH"] as? String == "5")
        #expect(first["CONTENT_TYPE"] as? String == "text/plain")
        #expect(x.responses.last?.json()?["REQUEST_METHOD"] as? String == "GET")
    }

    @Test func chunkedBodyIsDecodedForTheApp() throws {
        let z = try server()
        defer { z.cleanup() }
        let x = try z.exchange("POST /v/echo HTTP/1.1\r\n\(Self.host)Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
        let env = try #require(x.first?.json(), "\(x.text)")
        #expect(env["body"] as? String == "hello world")
        #expect(env["CONTENT_LENGTH"] as? String == "11")
        #expect(env["HTTP_TRANSFER_ENCODING"] == nil)
    }

    @Test func inputStreamReadsLinesAndSizes() throws {
        let z = try server()
        defer { z.cleanup() }
        let body = "line one\nline two\nthree\n"
        let x = try z.exchange("POST /v/lines HTTP/1.1\r\n\(Self.host)Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(x.first?.body ?? [])) as? [Any])
        #expect(parsed[0] as? String == "line one\n")
        #expect(parsed[1] as? String == "lin")
        #expect(parsed[2] as? [String] == ["e two\n", "three\n"])
        let sized = try z.exchange("POST /v/chunks HTTP/1.1\r\n\(Self.host)Content-Length: 10\r\n\r\n0123456789")
        #expect(sized.first?.bodyText == "4,4,2")
    }

    @Test func bodyArrivingInPiecesIsStreamed() throws {
        let z = try server()
        defer { z.cleanup() }
        let fd = try FileDescriptor.connect(host: "127.0.0.1", port: z.port)
        defer { fd.close() }
        try fd.writeAll("POST /v/echo HTTP/1.1\r\n\(Self.host)Content-Length: 10\r\n\r\n01234")
        usleep(100_000)  // the second half arrives later, as from a slow client
        try fd.writeAll("56789")
        let x = try ZergHarness.read(fd, responses: 1, timeout: 5)
        #expect(x.first?.json()?["body"] as? String == "0123456789")
    }

    // MARK: connection management

    @Test func keepAliveIsTheDefaultOnHTTP11() throws {
        let z = try server()
        defer { z.cleanup() }
        let x = try z.exchange("GET /v/echo HTTP/1.1\r\n\(Self.host)\r\n")
        #expect(x.status == 200)
        #expect(!x.closedByServer)
        #expect(x.first?.header("connection") == nil)
    }

    @Test func http10ClosesUnlessKeepAliveIsAsked() throws {
        let z = try server()
        defer { z.cleanup() }
        let plain = try z.exchange("GET /v/echo HTTP/1.0\r\n\r\n")
        #expect(plain.status == 200)
        #expect(plain.closedByServer)
        #expect(plain.raw.starts(with: "HTTP/1.0 200".utf8))
        let kept = try z.exchange("GET /v/echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(kept.first?.header("connection")?.lowercased() == "keep-alive")
        #expect(!kept.closedByServer)
    }

    @Test func connectionCloseIsHonoured() throws {
        let z = try server()
        defer { z.cleanup() }
        let x = try z.exchange("GET /v/echo HTTP/1.1\r\n\(Self.host)Connection: close\r\n\r\n")
        #expect(x.status == 200)
        #expect(x.first?.header("connection") == "close")
        #expect(x.closedByServer)
        let byApp = try z.exchange("GET /v/conn-close HTTP/1.1\r\n\(Self.host)\r\n")
        #expect(byApp.first?.header("connection") == "close")
        #expect(byApp.closedByServer)
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let z = try server()
        defer { z.cleanup() }
        let requests = (1...5).map { "GET /v/echo?n=\($0) HTTP/1.1\r\n\(Self.host)\r\n" }.joined()
        let x = try z.exchange(requests, responses: 5)
        #expect(x.responses.map { $0.json()?["QUERY_STRING"] as? String } == (1...5).map { "n=\($0)" })
    }

    @Test func expectContinueIsAnsweredWhenTheAppReads() throws {
        let z = try server()
        defer { z.cleanup() }
        let fd = try FileDescriptor.connect(host: "127.0.0.1", port: z.port)
        defer { fd.close() }
        try fd.writeAll("POST /v/echo HTTP/1.1\r\n\(Self.host)Content-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        let interim = try ZergHarness.read(fd, responses: 1, timeout: 5)
        #expect(interim.status == 100)
        try fd.writeAll("hello")
        let final = try ZergHarness.read(fd, responses: 1, timeout: 5)
        #expect(final.first?.json()?["body"] as? String == "hello")
    }

    @Test func absoluteFormTargetsWork() throws {
        let z = try server()
        defer { z.cleanup() }
        let x = try z.exchange("GET http://proxy.example:9000/v/echo?q=1 HTTP/1.1\r\nHost: ignored\r\n\r\n")
        let env = try #require(x.first?.json())
        #expect(env["SERVER_NAME"] as? String == "proxy.example")
        #expect(env["SERVER_PORT"] as? String == "9000")
        #expect(env["QUERY_STRING"] as? String == "q=1")
    }

    // MARK: response framing

    @Test func headHasNoBodyButTheHeadersOfGet() throws {
        let z = try server()
        defer { z.cleanup() }
        let x = try z.exchange("HEAD /v/echo HTTP/1.1\r\n\(Self.host)\r\nGET /v/echo HTTP/1.1\r\n\(Self.host)\r\n", responses: 2, headRequests: [0])
        #expect(x.responses.count == 2)
        #expect(x.responses[0].body.isEmpty)
        #expect(x.responses[0].header("content-length") != nil)
        #expect(x.responses[1].json()?["REQUEST_METHOD"] as? String == "GET")
    }

    @Test(arguments: ["204", "304"])
    func noBodyStatuses(_ code: String) throws {
        let z = try server()
        defer { z.cleanup() }
        let x = try z.exchange("GET /v/status/\(code) HTTP/1.1\r\n\(Self.host)\r\nGET /v/echo HTTP/1.1\r\n\(Self.host)\r\n", responses: 2)
        #expect(x.responses.first?.status == Int(code))
        #expect(x.responses.first?.header("content-length") == nil)
        #expect(x.responses.first?.header("transfer-encoding") == nil)
        #expect(x.responses.count == 2 && x.responses[1].status == 200, "the next response must follow directly: \(x.text)")
    }

    @Test func everyResponseHasADateHeader() throws {
        let z = try server()
        defer { z.cleanup() }
        let x = try z.exchange("GET /v/status/404 HTTP/1.1\r\n\(Self.host)\r\n")
        #expect(x.status == 404)
        #expect(x.first?.header("date")?.hasSuffix(" GMT") == true)
    }

    @Test func listBodiesGetAContentLength() throws {
        let z = try server()
        defer { z.cleanup() }
        // (Bare apps: wsgiref's validator wraps every result in an iterator.)
        let x = try z.exchange("GET /raw/list HTTP/1.1\r\n\(Self.host)\r\n")
        #expect(x.first?.header("content-length") == "7")
        #expect(x.first?.bodyText == "tracked")
        let empty = try z.exchange("GET /raw/empty HTTP/1.1\r\n\(Self.host)\r\n")
        #expect(empty.first?.header("content-length") == "0")
        #expect(!empty.closedByServer)
    }

    @Test func generatorsAreChunkedOn11AndCloseDelimitedOn10() throws {
        let z = try server()
        defer { z.cleanup() }
        let x = try z.exchange("GET /v/stream HTTP/1.1\r\n\(Self.host)\r\n")
        #expect(x.first?.header("transfer-encoding") == "chunked")
        #expect(x.first?.bodyText == "part0;part1;part2;")
        #expect(!x.closedByServer)
        let old = try z.exchange("GET /v/stream HTTP/1.0\r\n\r\n")
        #expect(old.first?.header("transfer-encoding") == nil)
        #expect(old.first?.bodyText == "part0;part1;part2;")
        #expect(old.closedByServer)
    }

    @Test func writeCallableStreamsBeforeTheIterable() throws {
        let z = try server()
        defer { z.cleanup() }
        let x = try z.exchange("GET /v/write HTTP/1.1\r\n\(Self.host)\r\n")
        #expect(x.first?.bodyText == "written;returned")
        #expect(x.first?.header("transfer-encoding") == "chunked")
    }

    @Test func fileWrapperUsesSendfile() throws {
        let z = try server()
        defer { z.cleanup() }
        let path = z.dir + "/blob.bin"
        let blob = (0..<300_000).map { UInt8($0 % 251) }
        FileManager.default.createFile(atPath: path, contents: Data(blob))
        let x = try z.exchange("GET /raw/file?\(path) HTTP/1.1\r\n\(Self.host)X-Skip: 1000\r\n\r\n")
        #expect(x.first?.header("content-length") == "299000")
        #expect(x.first?.body == Array(blob[1000...]))
    }

    // MARK: the app misbehaving

    @Test(arguments: [
        ("/raw/raise", "ValueError: boom before the response"),
        ("/raw/bad-status", "invalid status \"20 OK\""),
        ("/raw/informational", "status \"100 Continue\" is informational (1xx), not a final response"),
        ("/raw/bad-header", "X-Bad: value holds a control character"),
        ("/raw/str-body", "TypeError: the app's response iterable yielded a non-bytes item"),
        ("/raw/no-start", "AssertionError: the app returned without calling start_response()"),
        ("/raw/twice", "start_response() called twice without exc_info"),
    ])
    func appErrorsBeforeTheResponseAre500(_ path: String, _ what: String) throws {
        let z = try server()
        defer { z.cleanup() }
        let x = try z.exchange("GET \(path) HTTP/1.1\r\n\(Self.host)\r\n")
        #expect(x.status == 500, "\(what): \(x.text)")
        #expect(!x.text.contains("Injected"))
        #expect(z.waitUntil(2) { z.log().contains("exception in the app (GET \(path))") }, "\(z.log())")
        #expect(z.log().contains(what), "\(z.log())")
    }

    @Test func exceptionAfterTheResponseStartedClosesTheConnection() throws {
        let z = try server()
        defer { z.cleanup() }
        let x = try z.exchange("GET /raw/raise-late HTTP/1.1\r\n\(Self.host)\r\n", timeout: 3)
        #expect(x.closedByServer)
        #expect(x.text.hasPrefix("HTTP/1.1 200"))
        #expect(!x.text.contains("0\r\n\r\n"))  // no clean end: the client must see it failed
        #expect(z.waitUntil(2) { z.events().contains("closed late") })
        #expect(z.log().contains("RuntimeError: boom in the middle"))
    }

    @Test func excInfoReplacesAnUnsentResponse() throws {
        let z = try server()
        defer { z.cleanup() }
        let x = try z.exchange("GET /raw/exc-info HTTP/1.1\r\n\(Self.host)\r\n")
        #expect(x.status == 503)
        #expect(x.first?.bodyText == "replaced by exc_info")
    }

    @Test func contentLengthMismatchesKeepFramingHonest() throws {
        let z = try server()
        defer { z.cleanup() }
        let short = try z.exchange("GET /raw/short HTTP/1.1\r\n\(Self.host)\r\n", timeout: 3)
        #expect(short.closedByServer)  // 5 of 10 bytes: closing is the only honest end
        let long = try z.exchange("GET /raw/long HTTP/1.1\r\n\(Self.host)\r\nGET /v/echo HTTP/1.1\r\n\(Self.host)\r\n", responses: 2)
        #expect(long.responses.first?.bodyText == "123")
        #expect(long.responses.count == 2, "extra bytes must not leak into the next response: \(long.text)")
    }

    @Test func closeIsCalledWhenTheClientDisconnects() throws {
        let z = try server()
        defer { z.cleanup() }
        let fd = try FileDescriptor.connect(host: "127.0.0.1", port: z.port)
        try fd.writeAll("GET /v/slow?gone HTTP/1.1\r\n\(Self.host)\r\n")
        #expect(try fd.wait(timeoutMs: 3000))
        fd.close()  // mid-response
        #expect(z.waitUntil(10) { z.events().contains("closed gone") }, "\(z.log())")
        // The worker is still fine.
        #expect(try z.exchange("GET /v/echo HTTP/1.1\r\n\(Self.host)\r\n").status == 200)
    }

    @Test func wsgiErrorsGoToTheLog() throws {
        let z = try server()
        defer { z.cleanup() }
        #expect(try z.exchange("GET /v/errors HTTP/1.1\r\n\(Self.host)\r\n").status == 200)
        #expect(z.waitUntil(2) { z.log().contains("a message for the log") })
    }
}
