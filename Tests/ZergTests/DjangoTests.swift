import Foundation
import Testing
@testable import Shared

/// The example Django site (examples/django_site) served by the zerg from a
/// real venv with Django from PyPI, through the seed-style wsgi.py that imports `uwsgi`.
@Suite struct DjangoTests {
    static let root = FileSystem.directoryName(FileSystem.directoryName(FileSystem.directoryName("\(#filePath)")))
    static let site = root + "/examples/django_site"

    /// The cached venv (scripts/python-env.sh builds it once, then reuses it).
    static let venv: String? = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [root + "/scripts/python-env.sh"]
        let out = Pipe()
        p.standardOutput = out
        guard (try? p.run()) != nil else { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }()

    func site() throws -> ZergHarness {
        let venv = try #require(Self.venv, "could not build the Django venv (scripts/python-env.sh)")
        return try ZergHarness(["--home", venv, "--python-path", Self.site, "--processes", "2",
                                "--wsgi-file", Self.site + "/hadjango/uwsgi/wsgi.py",
                                "--log-format", "%(worker_id) %(method) %(uri) %(status) %(size)"], app: nil)
    }

    static let host = "Host: localhost\r\n"

    @Test func templatePage() throws {
        let z = try site()
        defer { z.cleanup() }
        let x = try z.exchange("GET / HTTP/1.1\r\n\(Self.host)\r\n")
        #expect(x.status == 200, "\(z.log())")
        #expect(x.first?.bodyText.contains("<h1>hello from django</h1>") == true)
        #expect(x.first?.bodyText.contains("<tr><td>item 19</td><td>57</td></tr>") == true)
        // The seed's logvar and process title.
        #expect(z.waitUntil(2) { z.log().range(of: #"\n[12] GET / 200 \d+"#, options: .regularExpression) != nil }, "\(z.log())")
        let titles = z.workers().compactMap { try? FileSystem.readText("/proc/\($0)/cmdline").replacingAll("\0", with: "") }
        #expect(titles.contains("uwsgi worker 1 <django_site:demo-tag-1>"), "\(titles)")
    }

    @Test func formPostWithCSRF() throws {
        let z = try site()
        defer { z.cleanup() }
        let page = try z.exchange("GET /form/ HTTP/1.1\r\n\(Self.host)\r\n")
        let html = try #require(page.first?.bodyText)
        let tokenRange = try #require(html.range(of: #"name="csrfmiddlewaretoken" value="[^"]+""#, options: .regularExpression))
        let token = html[tokenRange].components(separatedBy: "value=\"")[1].dropLast()
        let cookie = try #require(page.first?.header("set-cookie")?.components(separatedBy: ";").first)
        let body = "csrfmiddlewaretoken=\(token)&name=zerg"
        let ok = try z.exchange("POST /form/ HTTP/1.1\r\n\(Self.host)Cookie: \(cookie)\r\nReferer: http://localhost/form/\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        #expect(ok.status == 200, "\(ok.text)")
        #expect(ok.first?.bodyText.contains("thanks, zerg") == true)
        let refused = try z.exchange("POST /form/ HTTP/1.1\r\n\(Self.host)Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\nname=evil")
        #expect(refused.status == 403)
        // The same POST as a chunked body: decoded and given a CONTENT_LENGTH, Django reads it.
        let chunked = "\(String(body.utf8.count, radix: 16))\r\n\(body)\r\n0\r\n\r\n"
        let viaChunks = try z.exchange("POST /form/ HTTP/1.1\r\n\(Self.host)Cookie: \(cookie)\r\nReferer: http://localhost/form/\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n\(chunked)")
        #expect(viaChunks.first?.bodyText.contains("thanks, zerg") == true)
    }

    @Test func streamingAndFileResponses() throws {
        let z = try site()
        defer { z.cleanup() }
        let s = try z.exchange("GET /stream/ HTTP/1.1\r\n\(Self.host)\r\n")
        #expect(s.first?.header("transfer-encoding") == "chunked")
        #expect(s.first?.bodyText == (0..<5).map { "chunk \($0)\n" }.joined())
        let file = try Data(contentsOf: URL(fileURLWithPath: Self.site + "/static/download.bin"))
        let d = try z.exchange("GET /download/ HTTP/1.1\r\n\(Self.host)\r\n")
        #expect(d.first?.header("content-length") == String(file.count))
        #expect(d.first?.body == Array(file))
    }
}
