#if canImport(Glibc)
import Glibc
#endif

/// uWSGI's `stats` socket for an event loop: on connect, one JSON document,
/// then close (`stats-http`: read the request first, answer HTTP/1.0). Writes
/// never block the loop: what does not fit in the socket buffer waits for
/// EPOLLOUT. Tokens at and above `tokenBase` belong to it.
public final class StatsServer {
    public let listener: FileDescriptor
    let epoll: Epoll
    let http: Bool
    public let listenerToken: UInt64
    let tokenBase: UInt64
    private var nextToken: UInt64
    private var clients: [UInt64: Client] = [:]

    final class Client {
        let fd: FileDescriptor
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

    public init(address: ListenAddress, http: Bool, epoll: Epoll, listenerToken: UInt64, tokenBase: UInt64 = 1 << 40) throws {
        listener = try address.listen(backlog: 64)
        self.epoll = epoll
        self.http = http
        self.listenerToken = listenerToken
        self.tokenBase = tokenBase
        nextToken = tokenBase
        try epoll.add(listener, token: listenerToken)
    }

    public func owns(_ token: UInt64) -> Bool { token == listenerToken || (token >= tokenBase && token - tokenBase < 1 << 39) }

    /// What an HTTP client gets.
    public struct Answer {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]
        public init(status: Int = 200, contentType: String, body: [UInt8]) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
        public static func json(_ doc: JSON) -> Answer { Answer(contentType: "application/json", body: Array(doc.serialized().utf8)) }
    }

    /// Handles an event for one of its tokens; `document` is built only when a client is answered.
    public func handle(token: UInt64, document: () -> JSON) {
        handle(token: token) { _ in .json(document()) }
    }

    /// The same, answering by request path (`stats-http`, the emperor's status page);
    /// the path is "" for plain (non-HTTP) clients.
    public func handle(token: UInt64, route: (String) -> Answer) {
        if token == listenerToken {
            while let fd = try? listener.accept() {
                let client = Client(fd: fd, awaitingRequest: http)
                if http {
                    register(client, writable: false)
                } else {
                    answer(client, route(""))
                }
            }
            return
        }
        guard let client = clients[token] else { return }
        if client.awaitingRequest {
            // Any bytes will do (uWSGI reads up to 4 KiB of whatever was sent).
            let got: [UInt8]
            do {
                guard let bytes = try client.fd.readAvailable(max: 4096) else { return }  // not yet
                if bytes.isEmpty { return finish(token) }
                got = bytes
            } catch {
                return finish(token)
            }
            epoll.remove(client.fd)
            clients[token] = nil
            client.awaitingRequest = false
            // "GET /path?query HTTP/1.1": the path, without the query.
            let line = got.split(separator: 0x0D, maxSplits: 1).first ?? []
            let words = line.split(separator: 0x20)
            let target = words.count > 1 ? String(decoding: words[1], as: UTF8.self) : "/"
            return answer(client, route(String(target.prefix { $0 != "?" })))
        }
        write(token, client)
    }

    private func answer(_ client: Client, _ a: Answer) {
        if http {
            let head = "HTTP/1.0 \(a.status) \(HTTPStatus.phrase(a.status))\r\nConnection: close\r\nAccess-Control-Allow-Origin: *\r\n"
                + "Content-Type: \(a.contentType)\r\nContent-Length: \(a.body.count)\r\nCache-Control: no-store\r\n\r\n"
            client.bytes = Array(head.utf8) + a.body
        } else {
            client.bytes = a.body
        }
        if let offset = client.fd.writeAvailable(client.bytes, from: 0), offset < client.bytes.count {
            client.offset = offset
            register(client, writable: true)
        } else {
            client.fd.close()
        }
    }

    private func register(_ client: Client, writable: Bool) {
        nextToken += 1
        do {
            try epoll.add(client.fd, token: nextToken, writable: writable)
            clients[nextToken] = client
        } catch {
            client.fd.close()
        }
    }

    private func write(_ token: UInt64, _ client: Client) {
        if let offset = client.fd.writeAvailable(client.bytes, from: client.offset), offset < client.bytes.count {
            client.offset = offset
            return
        }
        finish(token)
    }

    private func finish(_ token: UInt64) {
        guard let client = clients.removeValue(forKey: token) else { return }
        epoll.remove(client.fd)
        client.fd.close()
    }

    /// Drops clients that have not read (or sent) anything for `seconds`.
    public func sweep(olderThanSeconds seconds: Int = 4) {
        let limit = UInt64(seconds) * 1_000_000_000
        let now = Host.monotonicNanoseconds()
        for (token, client) in clients where now - client.sinceNs > limit { finish(token) }
    }
}

/// Reads a stats document from another process's stats socket (the emperor's
/// status page merges them). Bounded: nil after `timeoutMs` without progress.
public enum StatsClient {
    public static func fetch(_ address: ListenAddress, timeoutMs: Int32 = 250) -> JSON? {
        let fd: FileDescriptor
        do {
            switch address {
            case .unix(let path): fd = try FileDescriptor.connect(unixPath: path)
            case .tcp(let host, let port): fd = try FileDescriptor.connect(host: host.isEmpty ? "127.0.0.1" : host, port: port)
            }
        } catch {
            return nil
        }
        defer { fd.close() }
        var data: [UInt8] = []
        while data.count < 16 << 20 {
            guard (try? fd.wait(timeoutMs: timeoutMs)) == true, let chunk = try? fd.readAvailable(max: 65536) else { return nil }
            if chunk.isEmpty { break }
            data += chunk
        }
        return JSON.parse(String(decoding: data, as: UTF8.self))
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
