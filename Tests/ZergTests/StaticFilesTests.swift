import Foundation
import Testing
@testable import Shared
@testable import ZergCore

/// Static files as uWSGI serves them (`static-map`, `static-index`,
/// `honour-range`, `static-expires-type`, `static-skip-ext`): from the worker,
/// with sendfile, never the app; what is not a file there goes to the app.
@Suite(.serialized) struct StaticFilesTests {
    static let css = "body { color: #333; }\n/* 0123456789 */\n"

    @Test func filesAreServedWithTheirTypeDatesRangesAndIndex() throws {
        let z = try ZergHarness(["--processes", "2", "--static-map", "/static=static", "--static-index", "index.html", "--honour-range",
                                 "--static-expires-type", "text/css=3600", "--static-skip-ext", ".py", "--stats", "zerg.stats"]) { dir in
            try FileManager.default.createDirectory(atPath: dir + "/static/sub", withIntermediateDirectories: true)
            try Self.css.write(toFile: dir + "/static/a.css", atomically: true, encoding: .utf8)
            try "<h1>index</h1>\n".write(toFile: dir + "/static/sub/index.html", atomically: true, encoding: .utf8)
            try "print('source')\n".write(toFile: dir + "/static/x.py", atomically: true, encoding: .utf8)
            try "top secret\n".write(toFile: dir + "/secret.txt", atomically: true, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: dir + "/static/link", withDestinationPath: "../secret.txt")
        }
        defer { z.cleanup() }
        func get(_ path: String, _ headers: String = "", method: String = "GET") throws -> RawResponse {
            let x = try z.exchange("\(method) \(path) HTTP/1.1\r\nHost: x\r\n\(headers)Connection: close\r\n\r\n",
                                   headRequests: method == "HEAD" ? [0] : [])
            return try #require(x.first)
        }
        let a = try get("/static/a.css")
        #expect(a.status == 200 && a.bodyText == Self.css)
        #expect(a.header("Content-Type") == "text/css" && a.header("Cache-Control") == "max-age=3600" && a.header("Expires") != nil)
        let modified = try #require(a.header("Last-Modified"))

        let head = try get("/static/a.css", method: "HEAD")
        #expect(head.status == 200 && head.body.isEmpty && head.header("Content-Length") == String(Self.css.utf8.count))
        #expect(try get("/static/a.css", "If-Modified-Since: \(modified)\r\n").status == 304)

        let range = try get("/static/a.css", "Range: bytes=2-5\r\n")
        #expect(range.status == 206 && range.bodyText == "dy {" && range.header("Content-Range") == "bytes 2-5/\(Self.css.utf8.count)")
        let suffix = try get("/static/a.css", "Range: bytes=-3\r\n")
        #expect(suffix.status == 206 && suffix.bodyText == "*/\n")
        #expect(try get("/static/a.css", "Range: bytes=9999-\r\n").status == 416)

        #expect(try get("/static/sub/").bodyText == "<h1>index</h1>\n", "static-index")
        // Not files of the map: the app answers (the test app echoes its environ as JSON).
        for path in ["/static/missing.css", "/static/x.py", "/static/link", "/static/../secret.txt", "/static/%2e%2e/secret.txt"] {
            let r = try get(path)
            #expect(r.status != 200 || r.json() != nil, "\(path) went to the app")
            #expect(!r.bodyText.contains("top secret"), "\(path) must not serve a file outside the root")
        }
        #expect(try get("/staticx/a.css").json() != nil, "the prefix ends at a segment")

        // Counted in stats, and logged like any request.
        let stats = try FileDescriptor.connect(unixPath: z.dir + "/zerg.stats")
        defer { stats.close() }
        let document = try JSONSerialization.jsonObject(with: Data(try stats.readToEnd())) as? [String: Any]
        #expect(document?["static_requests"] as? Int == 7, "200, HEAD, 304, two 206, 416, the index")
        #expect(z.log().contains("GET /static/a.css => generated \(Self.css.utf8.count) bytes"))
    }

    /// `static-gzip-ext`: a client that accepts gzip gets FILE.gz (when there is one), with the original's type.
    @Test func precompressedFilesForClientsThatTakeGzip() throws {
        let packed: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0x01, 0x02, 0x03]  // the test only needs bytes distinct from the original's
        let z = try ZergHarness(["--processes", "1", "--static-map", "/static=static", "--static-gzip-ext", "css"]) { dir in
            try FileManager.default.createDirectory(atPath: dir + "/static", withIntermediateDirectories: true)
            try Self.css.write(toFile: dir + "/static/a.css", atomically: true, encoding: .utf8)
            try Data(packed).write(to: URL(fileURLWithPath: dir + "/static/a.css.gz"))
            try "no gz beside me\n".write(toFile: dir + "/static/b.css", atomically: true, encoding: .utf8)
            try "plain\n".write(toFile: dir + "/static/c.txt", atomically: true, encoding: .utf8)
            try Data(packed).write(to: URL(fileURLWithPath: dir + "/static/c.txt.gz"))
        }
        defer { z.cleanup() }
        func get(_ path: String, _ headers: String = "") throws -> RawResponse {
            try #require(try z.exchange("GET \(path) HTTP/1.1\r\nHost: x\r\n\(headers)Connection: close\r\n\r\n").first)
        }
        let gz = try get("/static/a.css", "Accept-Encoding: br, gzip;q=0.8\r\n")
        #expect(gz.status == 200 && gz.body == packed && gz.header("Content-Encoding") == "gzip")
        #expect(gz.header("Content-Type") == "text/css" && gz.header("Vary") == "Accept-Encoding")
        let plain = try get("/static/a.css")
        #expect(plain.bodyText == Self.css && plain.header("Content-Encoding") == nil && plain.header("Vary") == "Accept-Encoding")
        #expect(try get("/static/a.css", "Accept-Encoding: gzip;q=0\r\n").bodyText == Self.css, "q=0 refuses gzip")
        #expect(try get("/static/b.css", "Accept-Encoding: gzip\r\n").bodyText == "no gz beside me\n")
        #expect(try get("/static/c.txt", "Accept-Encoding: gzip\r\n").bodyText == "plain\n", "not a gzip extension")
    }

    @Test func rangesAndTypesParse() {
        #expect(ByteRange(header: "bytes=0-0", size: 10) == .range(0..<1))
        #expect(ByteRange(header: "bytes=5-", size: 10) == .range(5..<10))
        #expect(ByteRange(header: "bytes=5-100", size: 10) == .range(5..<10))
        #expect(ByteRange(header: "bytes=-4", size: 10) == .range(6..<10))
        #expect(ByteRange(header: "bytes=10-", size: 10) == .unsatisfiable)
        #expect(ByteRange(header: "bytes=0-1,3-4", size: 10) == .whole)
        #expect(ByteRange(header: "bytes=4-2", size: 10) == .whole)
        #expect(ByteRange(header: "items=1-2", size: 10) == .whole)
        #expect(ByteRange(header: nil, size: 10) == .whole)
        let types = MIMETypes(files: ["/etc/mime.types"])
        #expect(types.type(of: "/a/b.CSS") == "text/css" && types.type(of: "/a/noext") == "application/octet-stream")
        #expect(HTTPDate.parse(HTTPDate.text(of: 1_700_000_000)) == 1_700_000_000 && HTTPDate.parse("yesterday") == nil)
    }
}
