import Foundation
@testable import Shared

/// A minimal blocking HTTP/1.1 client for the handoff tests: one connection,
/// requests one at a time, responses framed by Content-Length.
final class HTTPClient {
    let fd: FileDescriptor
    let localPort: Int
    var buffer: [UInt8] = []

    init(port: Int) throws {
        // Writing to a connection the server closed must fail, not kill the test runner.
        SignalChannel.ignoreBrokenPipe()
        fd = try FileDescriptor.connect(host: "127.0.0.1", port: port)
        localPort = fd.socketAddress(local: true).port
    }

    deinit { fd.close() }

    struct Response {
        let status: Int
        let headers: [String: String]
        let body: String
    }

    enum Failure: Error, CustomStringConvertible {
        case closedBeforeResponse
        case closedMidResponse
        case timeout
        case malformed(String)
        case io(String)
        var description: String {
            switch self {
            case .closedBeforeResponse: return "closed before any response byte"
            case .closedMidResponse: return "closed in the middle of a response"
            case .timeout: return "timed out"
            case .malformed(let s): return "malformed response: \(s)"
            case .io(let s): return s
            }
        }
    }

    func send(_ text: String) throws {
        do { try fd.writeAll(Array(text.utf8)) } catch { throw Failure.io("write: \(error)") }
    }

    func get(_ path: String, close: Bool = false, timeout: Double = 10) throws -> Response {
        try send("GET \(path) HTTP/1.1\r\nHost: test\r\n\(close ? "Connection: close\r\n" : "")\r\n")
        return try readResponse(timeout: timeout)
    }

    func readResponse(timeout: Double = 10) throws -> Response {
        let deadline = Date().addingTimeInterval(timeout)
        var started = !buffer.isEmpty
        while true {
            if let r = try parse() { return r }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw Failure.timeout }
            guard (try? fd.wait(timeoutMs: Int32(left * 1000) + 1)) == true else { throw Failure.timeout }
            var chunk = [UInt8](repeating: 0, count: 16384)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd.rawValue, $0.baseAddress, $0.count) }
            if n <= 0 { throw started ? Failure.closedMidResponse : Failure.closedBeforeResponse }
            started = true
            buffer += chunk[0..<n]
        }
    }

    func parse() throws -> Response? {
        guard let end = find(Array("\r\n\r\n".utf8)) else { return nil }
        let head = String(decoding: buffer[0..<end], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw Failure.malformed(head) }
        var headers: [String: String] = [:]
        for l in lines {
            guard let c = l.firstIndex(of: ":") else { continue }
            headers[l[..<c].lowercased()] = l[l.index(after: c)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        guard buffer.count >= end + 4 + length else { return nil }
        let body = String(decoding: buffer[(end + 4)..<(end + 4 + length)], as: UTF8.self)
        buffer.removeFirst(end + 4 + length)
        return Response(status: status, headers: headers, body: body)
    }

    func find(_ needle: [UInt8]) -> Int? {
        guard buffer.count >= needle.count else { return nil }
        for i in 0...(buffer.count - needle.count) where buffer[i] == needle[0] && Array(buffer[i..<i + needle.count]) == needle {
            return i
        }
        return nil
    }

    /// One request on a fresh connection with `Connection: close`.
    static func once(port: Int, _ path: String, timeout: Double = 10) throws -> Response {
        try HTTPClient(port: port).get(path, close: true, timeout: timeout)
    }
}
