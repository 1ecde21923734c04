#if canImport(Glibc)
import Glibc
#endif
import Shared

/// The few HTTP requests hactl makes (status page, warm-up, checking nginx):
/// one `Connection: close` GET on a fresh connection, read to the end.
struct HTTPProbe {
    struct Response {
        let status: Int
        let headers: [String: String]
        let body: String
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func get(host: String = "127.0.0.1", port: Int, path: String, hostHeader: String? = nil, timeoutMs: Int32 = 10_000) throws -> Response {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.connect(host: host, port: port)
        } catch {
            throw Failure(description: "\(host):\(port): \(error.reason)")
        }
        defer { fd.close() }
        try fd.writeAll("GET \(path) HTTP/1.1\r\nHost: \(hostHeader ?? "\(host):\(port)")\r\nConnection: close\r\nUser-Agent: hactl\r\n\r\n")
        var data: [UInt8] = []
        while true {
            guard try fd.wait(timeoutMs: timeoutMs) else { throw Failure(description: "\(host):\(port)\(path): no answer in \(timeoutMs) ms") }
            guard let chunk = try fd.readAvailable(max: 65536).value else { continue }
            if chunk.isEmpty { break }
            data += chunk
        }
        guard let split = find(data, Array("\r\n\r\n".utf8)) else { throw Failure(description: "\(host):\(port)\(path): not an HTTP response") }
        var lines = String(decoding: data[..<split], as: UTF8.self).split(separator: "\r\n").map(String.init)
        let statusLine = lines.isEmpty ? "" : lines.removeFirst()
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw Failure(description: "\(host):\(port)\(path): bad status line `\(statusLine)`") }
        var headers: [String: String] = [:]
        for l in lines {
            if let (k, v) = l.splitOnce(":") { headers[k.lowercased()] = v.trimmed() }
        }
        var body = Array(data[(split + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = dechunk(body) }
        return Response(status: status, headers: headers, body: String(decoding: body, as: UTF8.self))
    }

    static func find(_ hay: [UInt8], _ needle: [UInt8], from: Int = 0) -> Int? {
        guard hay.count >= needle.count, from <= hay.count - needle.count else { return nil }
        for i in from...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<i + needle.count]) == needle { return i }
        return nil
    }

    static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var at = 0
        while let nl = find(bytes, [13, 10], from: at),
              let size = Int(String(decoding: bytes[at..<nl], as: UTF8.self).split(separator: ";").first ?? "", radix: 16), size > 0 {
            let start = nl + 2
            let end = min(bytes.count, start + size)
            out += bytes[start..<end]
            at = end + 2
            if at >= bytes.count { break }
        }
        return out
    }
}
