#if canImport(Glibc)
import Glibc
#endif

/// An event of a `StatsServer`, as its loop's `EventSources` hands it back.
public enum StatsEvent {
    /// A client is connecting.
    case listener
    /// A client's request arrived, or its socket has room for the rest of the answer.
    case client(StatsServerClient)
}

/// One client of a stats server: what it is sent, and how far.
public final class StatsServerClient {
    let fd: FileDescriptor
    var token: EventToken?
    var bytes: [UInt8] = []
    var offset = 0
    /// stats-http: still waiting for the request.
    var awaitingRequest: Bool
    let sinceNs = Host.monotonicNanoseconds()
    init(fd: FileDescriptor, awaitingRequest: Bool) {
        self.fd = fd
        self.awaitingRequest = awaitingRequest
    }
}

/// What an HTTP client of a stats server gets.
public struct StatsAnswer {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    public init(status: Int = 200, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }
    public static func json(_ doc: JSON) -> StatsAnswer { StatsAnswer(contentType: "application/json", body: Array(doc.serialized().utf8)) }
}

/// uWSGI's `stats` socket for an event loop: on connect, one JSON document,
/// then close (`stats-http`: read the request first, answer HTTP/1.0). Writes
/// never block the loop: what does not fit in the socket buffer waits for
/// EPOLLOUT. Its events come back through the loop's `EventSources` as
/// `wrap(StatsEvent)`.
public final class StatsServer<Source> {
    public let listener: FileDescriptor
    let sources: EventSources<Source>
    let wrap: (StatsEvent) -> Source
    let http: Bool
    private var clients: [ObjectIdentifier: StatsServerClient] = [:]
    private var listenerToken: EventToken?

    public convenience init(address: ListenAddress, http: Bool, sources: EventSources<Source>, as wrap: @escaping (StatsEvent) -> Source) throws {
        try self.init(listener: try address.listen(backlog: 64), http: http, sources: sources, as: wrap)
    }

    /// Serves on a socket already bound and listening (handed over by the image this process replaced).
    public init(listener: FileDescriptor, http: Bool, sources: EventSources<Source>, as wrap: @escaping (StatsEvent) -> Source) throws {
        self.listener = listener
        self.sources = sources
        self.http = http
        self.wrap = wrap
        do {
            listenerToken = try sources.add(listener, wrap(.listener))
        } catch {
            listener.close()
            throw error
        }
    }

    public typealias Answer = StatsAnswer

    /// Handles one of its events; `document` is built only when a client is answered.
    public func handle(_ event: StatsEvent, document: () -> JSON) {
        handle(event) { _, _ in .json(document()) }
    }

    /// The same, answering by request path and query (`stats-http`, the emperor's
    /// status page); the path is "" for plain (non-HTTP) clients.
    public func handle(_ event: StatsEvent, route: (_ path: String, _ query: [String: String]) -> Answer) {
        switch event {
        case .listener:
            while case .completed(let accepted)? = try? listener.accept() {
                let client = StatsServerClient(fd: accepted.fd, awaitingRequest: http)
                if http {
                    register(client, interest: .readable)
                } else {
                    answer(client, route("", [:]))
                }
            }
        case .client(let client):
            guard clients[ObjectIdentifier(client)] != nil else { return }
            guard client.awaitingRequest else { return write(client) }
            // Any bytes will do (uWSGI reads up to 4 KiB of whatever was sent).
            let got: [UInt8]
            switch try? client.fd.readAvailable(max: 4096) {
            case .wouldBlock?: return  // not yet
            case .completed(let bytes)? where !bytes.isEmpty: got = bytes
            default: return finish(client)
            }
            unregister(client)
            client.awaitingRequest = false
            // "GET /path?query HTTP/1.1".
            let line = got.split(separator: 0x0D, maxSplits: 1).first ?? []
            let words = line.split(separator: 0x20)
            let target = words.count > 1 ? String(decoding: words[1], as: UTF8.self) : "/"
            let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            answer(client, route(String(parts[0]), parts.count > 1 ? Self.query(String(parts[1])) : [:]))
        }
    }

    /// `a=1&b=x%20y` as a dictionary (the last of a repeated name wins).
    static func query(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            out[percentDecoded(String(kv[0]))] = kv.count > 1 ? percentDecoded(String(kv[1])) : ""
        }
        return out
    }

    /// A query's name or value: `+` is a space, then %XX sequences are decoded.
    static func percentDecoded(_ s: String) -> String {
        let bytes = Array(s.replacingAll("+", with: " ").utf8)
        return String(decoding: bytes.withUnsafeBufferPointer { HTTPBytes.percentDecoded($0) }, as: UTF8.self)
    }

    private func answer(_ client: StatsServerClient, _ a: Answer) {
        if http {
            let head = "HTTP/1.0 \(a.status) \(HTTPStatus.phrase(a.status))\r\nConnection: close\r\nAccess-Control-Allow-Origin: *\r\n"
                + "Content-Type: \(a.contentType)\r\nContent-Length: \(a.body.count)\r\nCache-Control: no-store\r\n\r\n"
            client.bytes = Array(head.utf8) + a.body
        } else {
            client.bytes = a.body
        }
        if let offset = try? client.fd.writeAvailable(client.bytes, from: 0), offset < client.bytes.count {
            client.offset = offset
            register(client, interest: .writable)
        } else {
            client.fd.close()
        }
    }

    private func register(_ client: StatsServerClient, interest: Epoll.Interest) {
        do {
            client.token = try sources.add(client.fd, wrap(.client(client)), interest: interest)
            clients[ObjectIdentifier(client)] = client
        } catch {
            client.fd.close()
        }
    }

    private func unregister(_ client: StatsServerClient) {
        if let token = client.token { sources.remove(client.fd, token) }
        client.token = nil
        clients[ObjectIdentifier(client)] = nil
    }

    private func write(_ client: StatsServerClient) {
        if let offset = try? client.fd.writeAvailable(client.bytes, from: client.offset), offset < client.bytes.count {
            client.offset = offset
            return
        }
        finish(client)
    }

    private func finish(_ client: StatsServerClient) {
        unregister(client)
        client.fd.close()
    }

    /// Stops serving: the listener and every client close.
    public func close() {
        for client in Array(clients.values) { finish(client) }
        if let token = listenerToken { sources.remove(listener, token) }
        listenerToken = nil
        listener.close()
    }

    /// Drops clients that have not read (or sent) anything for `seconds`.
    public func sweep(olderThanSeconds seconds: Int = 4) {
        let limit = UInt64(seconds) * 1_000_000_000
        let now = Host.monotonicNanoseconds()
        for client in Array(clients.values) where now - client.sinceNs > limit { finish(client) }
    }
}

/// Reads a stats document from another process's stats socket (the emperor's
/// status page merges them). Bounded: nil after `timeoutMs` without progress.
public enum StatsClient {
    /// The largest stats document read (a zerg of thousands of workers is far below).
    public static let maxDocumentBytes = 16 << 20

    public static func fetch(_ address: ListenAddress, timeoutMs: Int32 = 250) -> JSON? {
        guard let fd = try? address.connect() else { return nil }
        defer { fd.close() }
        var data: [UInt8] = []
        while data.count < maxDocumentBytes {
            guard (try? fd.wait(timeoutMs: timeoutMs)) == true, let chunk = (try? fd.readAvailable(max: 65536))?.value else { return nil }
            if chunk.isEmpty { break }
            data += chunk
        }
        return JSON.parse(String(decoding: data, as: UTF8.self))
    }
}

extension UWSGIStats {
    /// Our keys on every process's document: which binary it runs, and
    /// whether that file was replaced or removed since (an upgrade it has not picked up yet).
    public static func binaryKeys(_ binary: OwnBinary) -> [(String, JSON)] {
        [("build_id", .string(binary.buildID)), ("binary", .string(binary.path)), ("binary_replaced", .bool(binary.fileChange != .none))]
    }
}

/// The top of every uWSGI stats document (zerg and vassal alike), in uWSGI's
/// key order; each process appends its own keys after these.
public enum UWSGIStats {
    public static func header(listenQueue: Int, listenQueueErrors: Int, sockets: [JSON], workers: [JSON]) -> [(String, JSON)] {
        [
            ("version", .string(Version.string)),
            ("listen_queue", .number(listenQueue)),
            ("listen_queue_errors", .number(listenQueueErrors)),
            ("signal_queue", .number(0)),
            ("load", .number(listenQueue)),
            ("pid", .number(getpid())),
            ("uid", .number(getuid())),
            ("gid", .number(getgid())),
            ("cwd", .string(FileSystem.currentDirectory())),
            ("locks", .array([])),
            ("sockets", .array(sockets)),
            ("workers", .array(workers)),
        ]
    }
}
