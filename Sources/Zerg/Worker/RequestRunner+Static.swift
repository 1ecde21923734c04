#if canImport(Glibc)
import Glibc
#endif
import Shared
import ZergCore

/// Static files (`static-map`, `static-map2`, `check-static`): a GET or HEAD
/// whose path names a file is answered here with sendfile, without entering
/// Python (and without the GIL): Last-Modified and If-Modified-Since (304),
/// one Range (206/416, `honour-range`), Expires (`static-expires*`). Logged
/// and counted like any request (stats: the zerg's `static_requests`).
extension RequestRunner {
    /// Serves `head` when it names a static file; returns whether the
    /// connection stays open, or nil when it is not a static file (the app's).
    func serveStatic(_ conn: Connection, _ head: HTTPRequestHead) -> Bool? {
        let method = head.bytes[head.method]
        guard method.elementsEqual("GET".utf8) || method.elementsEqual("HEAD".utf8) else { return nil }
        let path = head.bytes.withUnsafeBufferPointer {
            String(decoding: EnvironBuilder.percentDecoded(UnsafeBufferPointer(rebasing: $0[head.path])), as: UTF8.self)
        }
        guard let found = settings.staticFiles.find(path: path.isEmpty ? "/" : path),
              let file = try? FileDescriptor.open(found.path, O_RDONLY) else { return nil }
        defer { file.close() }
        let startNs = Host.monotonicNanoseconds()
        let startTime = requestLog == nil ? Timestamp(seconds: 0, nanoseconds: 0) : Timestamp.now()
        let size = found.status.size
        let modified = found.status.modified.seconds
        let type = settings.mimeTypes.type(of: found.path)
        var headers = [("Content-Type", type), ("Last-Modified", HTTPDate.text(of: time_t(modified)))]
        if settings.honourRange { headers.append(("Accept-Ranges", "bytes")) }
        if let seconds = settings.staticExpiry.seconds(type: type, uri: path, file: found.path) {
            headers += [("Expires", HTTPDate.text(of: time(nil) + seconds)), ("Cache-Control", "max-age=\(seconds)")]
        }
        var status = 200
        var bytes: Range<Int64> = 0..<size
        if let since = head.value("If-Modified-Since").flatMap(HTTPDate.parse), Int64(since) >= modified {
            status = 304
            bytes = 0..<0
        } else if settings.honourRange {
            switch ByteRange(header: head.value("Range"), size: size) {
            case .range(let r):
                status = 206
                bytes = r
                headers.append(("Content-Range", "bytes \(r.lowerBound)-\(r.upperBound - 1)/\(size)"))
            case .unsatisfiable:
                status = 416
                bytes = 0..<0
                headers.append(("Content-Range", "bytes */\(size)"))
            case .whole:
                break
            }
        }
        let keepAlive = head.keepAlive
        let out = HTTPResponseHead.serialize(status: "\(status) \(HTTPStatus.phrase(status))", headers: headers,
                                             minorVersion: head.minorVersion, framing: status == 304 ? .none : .length(bytes.count),
                                             keepAlive: keepAlive, appSetLength: false)
        let response = Response(conn: conn, head: head, timeoutMs: settings.socketTimeoutMs, clock: clock)
        response.statusCode = status
        response.headBytes = out.count
        if conn.write(out, timeoutMs: settings.socketTimeoutMs), !head.isHead, !bytes.isEmpty {
            var offset = bytes.lowerBound
            response.bodyBytes = conn.sendFile(file, offset: &offset, count: bytes.count, timeoutMs: settings.socketTimeoutMs)
        }
        row?.board.add(.staticRequests, 1)
        let state = RequestState(conn: conn, head: head, uwsgi: nil, body: RequestBody(.none, deadlines: settings.requestDeadlines, startNs: startNs),
                                 response: response)
        logRequest(state, startNs: startNs, startTime: startTime)
        return keepAlive && !conn.broken && response.bodyBytes == (head.isHead ? 0 : bytes.count)
    }
}
