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

    public func owns(_ token: UInt64) -> Bool { token == listenerToken || token >= tokenBase }

    /// Handles an event for one of its tokens; `document` is built only when a client is answered.
    public func handle(token: UInt64, document: () -> JSON) {
        if token == listenerToken {
            while let fd = try? listener.accept() {
                let client = Client(fd: fd, awaitingRequest: http)
                if http {
                    register(client, writable: false)
                } else {
                    answer(client, document())
                }
            }
            return
        }
        guard let client = clients[token] else { return }
        if client.awaitingRequest {
            // Any bytes will do (uWSGI reads up to 4 KiB of whatever was sent).
            do {
                guard let got = try client.fd.readAvailable(max: 4096) else { return }  // not yet
                if got.isEmpty { return finish(token) }
            } catch {
                return finish(token)
            }
            epoll.remove(client.fd)
            clients[token] = nil
            client.awaitingRequest = false
            return answer(client, document())
        }
        write(token, client)
    }

    private func answer(_ client: Client, _ doc: JSON) {
        let body = doc.serialized()
        client.bytes = Array((http ? "HTTP/1.0 200 OK\r\nConnection: close\r\nAccess-Control-Allow-Origin: *\r\nContent-Type: application/json\r\n\r\n" + body : body).utf8)
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
