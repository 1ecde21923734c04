import Foundation
import Testing
@testable import Shared

/// One zerg master (and its workers) started for a test on 127.0.0.1:0 in a
/// temp directory; `cleanup()` kills the process group and removes the directory.
final class ZergHarness {
    let dir: String
    let pid: pid_t
    private(set) var port = 0
    var exitStatus: Shared.ExitStatus?

    var logPath: String { dir + "/zerg.log" }
    var eventsPath: String { dir + "/events.log" }

    /// Beside the test binary (argv[0], resolved once before any test runs).
    static let binary = FileSystem.directoryName(OwnBinary.resolvePath(argv0: CommandLine.arguments[0], environment: Host.environment())) + "/zerg"
    static var supportDirectory: String { FileSystem.directoryName("\(#filePath)") }
    static var appsPath: String { supportDirectory + "/apps.py" }

    /// Starts `zerg --http-socket 127.0.0.1:0 ARGS` (by default with the test apps)
    /// and waits until it serves.
    init(_ args: [String] = [], app: String? = ZergHarness.appsPath, waitForServing: Bool = true,
         binary: String = ZergHarness.binary, setup: (String) throws -> Void = { _ in }) throws {
        var template = Array("/tmp/zerg-test-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        dir = String(cString: p)
        try setup(dir)
        var full = [binary, "--http-socket", "127.0.0.1:0"]
        if let app { full += ["--wsgi-file", app] }
        full += args
        let logFile = try FileDescriptor.open(dir + "/zerg.log", O_WRONLY | O_CREAT | O_APPEND)
        defer { logFile.close() }
        let devNull = try FileDescriptor.open("/dev/null", O_RDONLY)
        defer { devNull.close() }
        var env = ProcessInfo.processInfo.environment
        env["TEST_EVENTS"] = dir + "/events.log"
        var spec = ChildProcess.Spec(executable: full[0], arguments: full, environment: env, workingDirectory: dir,
                                     fdMap: [(devNull, 0), (logFile, 1), (logFile, 2)])
        spec.deathSignal = 0
        pid = try ChildProcess.spawn(spec)
        if waitForServing {
            let ok = waitUntil(20) { self.servingPort() != nil }
            guard ok, let port = servingPort() else {
                throw HarnessError("zerg did not start serving:\n\(log())")
            }
            self.port = port
        }
    }

    struct HarnessError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    func servingPort() -> Int? {
        guard let line = log().split(separator: "\n").first(where: { $0.contains(" serving on 127.0.0.1:") }),
              let colon = line.lastIndex(of: ":") else { return nil }
        return Int(line[line.index(after: colon)...].prefix { $0.isNumber })
    }

    func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    func events() -> [String] {
        ((try? String(contentsOfFile: eventsPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @discardableResult
    func waitUntil(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            if hasExited() { return condition() }
            usleep(5_000)
        }
        return condition()
    }

    func hasExited() -> Bool {
        if exitStatus != nil { return true }
        var raw: Int32 = 0
        if waitpid(pid, &raw, WNOHANG) == pid {
            exitStatus = Shared.ExitStatus(raw: raw)
            return true
        }
        return false
    }

    func signal(_ sig: Int32) { kill(pid, sig) }

    /// Worker pids (children of the master).
    func workers() -> [pid_t] { ChildProcess.children(of: pid) }

    func cleanup() {
        let children = workers()
        if !hasExited() {
            kill(pid, SIGKILL)
            waitUntil(5) { hasExited() }
        }
        for c in children { kill(c, SIGKILL) }
        try? FileManager.default.removeItem(atPath: dir)
    }

    // MARK: client

    /// Sends raw bytes on a new connection and reads `responses` responses
    /// (or until the server closes, or `timeout`).
    func exchange(_ request: String, responses: Int = 1, headRequests: Set<Int> = [], timeout: Double = 5) throws -> Exchange {
        try exchange(Array(request.utf8), responses: responses, headRequests: headRequests, timeout: timeout)
    }

    func exchange(_ request: [UInt8], responses: Int = 1, headRequests: Set<Int> = [], timeout: Double = 5) throws -> Exchange {
        let fd = try FileDescriptor.connect(host: "127.0.0.1", port: port)
        defer { fd.close() }
        try fd.writeAll(request)
        return try Self.read(fd, responses: responses, headRequests: headRequests, timeout: timeout)
    }

    /// Reads until `responses` responses are complete (or the server closes, or
    /// `timeout`). With `waitForClose`, then looks 50 ms longer for a close.
    static func read(_ fd: FileDescriptor, responses: Int, headRequests: Set<Int> = [], timeout: Double,
                     waitForClose: Bool = true) throws -> Exchange {
        var data: [UInt8] = []
        var closed = false
        let deadline = Date().addingTimeInterval(timeout)
        var parsed: [RawResponse] = []
        while Date() < deadline {
            parsed = RawResponse.parseAll(data, headRequests: headRequests, closed: false)
            if parsed.count >= responses { break }
            let left = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard try fd.wait(timeoutMs: left) else { break }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd.rawValue, $0.baseAddress, $0.count) }
            if n <= 0 { closed = true; break }
            data += chunk[0..<n]
        }
        if closed {
            parsed = RawResponse.parseAll(data, headRequests: headRequests, closed: true)
        } else if parsed.count >= responses && waitForClose {
            // See whether the server closes right after (for keep-alive checks).
            if (try? fd.wait(timeoutMs: 50)) == true {
                var b = [UInt8](repeating: 0, count: 1)
                closed = b.withUnsafeMutableBytes { Glibc.read(fd.rawValue, $0.baseAddress, 1) } <= 0
            }
        }
        return Exchange(responses: parsed, raw: data, closedByServer: closed)
    }
}

struct Exchange {
    let responses: [RawResponse]
    let raw: [UInt8]
    let closedByServer: Bool
    var first: RawResponse? { responses.first }
    var status: Int? { first?.status }
    var text: String { String(decoding: raw, as: UTF8.self) }
}

/// A response as a client reads it.
struct RawResponse {
    let status: Int
    let headers: [(String, String)]
    let body: [UInt8]

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    var bodyText: String { String(decoding: body, as: UTF8.self) }
    func json() -> [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }

    /// Every complete response in `data` (1xx interim responses included).
    static func parseAll(_ data: [UInt8], headRequests: Set<Int>, closed: Bool) -> [RawResponse] {
        var out: [RawResponse] = []
        var i = 0
        var finalIndex = 0
        while i < data.count {
            guard let headEnd = find(data, Array("\r\n\r\n".utf8), from: i) else { break }
            let head = String(decoding: data[i..<headEnd], as: UTF8.self)
            var lines = head.components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst().split(separator: " ")
            guard statusLine.count >= 2, let status = Int(statusLine[1]) else { break }
            let headers = lines.compactMap { l -> (String, String)? in
                guard let c = l.firstIndex(of: ":") else { return nil }
                return (String(l[..<c]), l[l.index(after: c)...].trimmingCharacters(in: .whitespaces))
            }
            var j = headEnd + 4
            let r = RawResponse(status: status, headers: headers, body: [])
            var body: [UInt8] = []
            let noBody = (100...199).contains(status) || status == 204 || status == 304 || headRequests.contains(finalIndex)
            if noBody {
            } else if r.header("transfer-encoding")?.lowercased() == "chunked" {
                var complete = false
                while let lineEnd = find(data, Array("\r\n".utf8), from: j) {
                    let sizeText = String(decoding: data[j..<lineEnd], as: UTF8.self)
                    guard let size = Int(sizeText.split(separator: ";")[0], radix: 16) else { return out }
                    let start = lineEnd + 2
                    if size == 0 {
                        guard let end = find(data, Array("\r\n".utf8), from: start) else { return out }
                        j = end + 2
                        complete = true
                        break
                    }
                    guard start + size + 2 <= data.count else { return out }
                    body += data[start..<(start + size)]
                    j = start + size + 2
                }
                if !complete { return out }
            } else if let cl = r.header("content-length"), let n = Int(cl) {
                guard j + n <= data.count else {
                    if closed { out.append(RawResponse(status: status, headers: headers, body: Array(data[j...]))) }
                    return out
                }
                body = Array(data[j..<(j + n)])
                j += n
            } else {
                guard closed else { return out }
                body = Array(data[j...])
                j = data.count
            }
            out.append(RawResponse(status: status, headers: headers, body: body))
            if status >= 200 { finalIndex += 1 }
            i = j
        }
        return out
    }

    static func find(_ data: [UInt8], _ needle: [UInt8], from: Int) -> Int? {
        guard data.count >= needle.count, from <= data.count - needle.count else { return nil }
        var i = from
        while i <= data.count - needle.count {
            if data[i] == needle[0] && Array(data[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }
}
