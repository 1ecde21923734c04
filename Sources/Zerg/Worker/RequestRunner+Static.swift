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
            String(decoding: HTTPBytes.percentDecoded(UnsafeBufferPointer(rebasing: $0[head.path])), as: UTF8.self)
        }
        guard let found = settings.staticFiles.find(path: path.isEmpty ? "/" : path) else { return nil }
        // `static-gzip*`: FILE.gz beside it, for a client that takes gzip.
        var gzipped = settings.staticGzip.isEmpty || !settings.staticGzip.applies(to: found.path)
            || !StaticGzip.accepted(by: head.value("Accept-Encoding")) ? nil
            : (try? FileSystem.status(found.path + ".gz")).flatMap { $0.isRegularFile ? $0 : nil }
        let packed = gzipped == nil ? nil : try? FileDescriptor.open(found.path + ".gz", O_RDONLY)
        if packed == nil { gzipped = nil }  // FILE.gz not readable: the file itself
        guard let file = packed ?? (try? FileDescriptor.open(found.path, O_RDONLY)) else { return nil }
        defer { file.close() }
        let startNs = Host.monotonicNanoseconds()
        let startTime = requestLog == nil ? Timestamp(seconds: 0, nanoseconds: 0) : Timestamp.now()
        let status = gzipped ?? found.status
        let size = status.size
        let modified = status.modified.seconds
        let type = settings.mimeTypes.type(of: found.path)
        var headers = [("Content-Type", type), ("Last-Modified", HTTPDate.text(of: time_t(modified)))]
        if gzipped != nil { headers += [("Content-Encoding", "gzip")] }
        if !settings.staticGzip.isEmpty { headers.append(("Vary", "Accept-Encoding")) }
        if settings.honourRange { headers.append(("Accept-Ranges", "bytes")) }
        if let seconds = settings.staticExpiry.seconds(type: type, uri: path, file: found.path) {
            headers += [("Expires", HTTPDate.text(of: time(nil) + seconds)), ("Cache-Control", "max-age=\(seconds)")]
        }
        var code = 200
        var bytes: Range<Int64> = 0..<size
        if let since = head.value("If-Modified-Since").flatMap(HTTPDate.parse), Int64(since) >= modified {
            code = 304
            bytes = 0..<0
        } else if settings.honourRange {
            switch ByteRange(header: head.value("Range"), size: size) {
            case .range(let r):
                code = 206
                bytes = r
                headers.append(("Content-Range", "bytes \(r.lowerBound)-\(r.upperBound - 1)/\(size)"))
            case .unsatisfiable:
                code = 416
                bytes = 0..<0
                headers.append(("Content-Range", "bytes */\(size)"))
            case .whole:
                break
            }
        }
        let keepAlive = head.keepAlive
        let out = HTTPResponseHead.serialize(status: "\(code) \(HTTPStatus.phrase(code))", headers: headers,
                                             minorVersion: head.minorVersion, framing: code == 304 ? .none : .length(bytes.count),
                                             keepAlive: keepAlive, appSetLength: false)
        let response = Response(conn: conn, head: head, timeoutMs: settings.socketTimeoutMs, clock: clock)
        response.statusCode = code
        response.headBytes = out.count
        if conn.write(out, timeoutMs: settings.socketTimeoutMs), !head.isHead, !bytes.isEmpty {
            var offset = bytes.lowerBound
            response.bodyBytes = conn.sendFile(file, offset: &offset, count: bytes.count, timeoutMs: settings.socketTimeoutMs)
        }
        row?.board.add(.staticRequests, 1)
        let state = RequestState(conn: conn, head: head, uwsgi: nil, body: RequestBody(.none, deadlines: settings.requestDeadlines, startNs: startNs),
                                 response: response)
        noteResponse(state, startNs: startNs, startTime: startTime)
        return keepAlive && !conn.broken && response.bodyBytes == (head.isHead ? 0 : bytes.count)
    }
}
