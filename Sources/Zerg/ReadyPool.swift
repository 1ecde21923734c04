#if canImport(Glibc)
import Glibc
#endif
import Shared

/// Standalone keep-alive connections whose next request has arrived, shared by
/// every worker of a zerg: one AF_UNIX SOCK_SEQPACKET pair, both ends in every
/// worker. A worker with more ready connections than the one it is about to
/// serve sends the others here (the fd, by SCM_RIGHTS); any worker that comes
/// free takes the oldest. Without it a keep-alive client waits for the worker
/// that accepted it, even while others are idle or that one is descheduled:
/// with 4 workers on 2 cores, p99 latency grew by a fifth over one shared queue.
struct ReadyPool {
    let sender: FileDescriptor
    let receiver: FileDescriptor

    static let environmentVariable = "HADJANGO_READY_POOL"

    static func create() throws -> ReadyPool {
        let (a, b) = try FileDescriptor.seqpacketPair()
        return ReadyPool(sender: a, receiver: b)
    }

    /// The ends a worker inherited, named in its environment.
    static func fromEnvironment(_ environment: [String: String]) -> ReadyPool? {
        let fds = (environment[environmentVariable] ?? "").split(separator: ",").compactMap { Int32($0) }
        guard fds.count == 2 else { return nil }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return ReadyPool(sender: FileDescriptor(rawValue: fds[0]), receiver: FileDescriptor(rawValue: fds[1]))
    }

    /// Queues `conn`'s fd with its peer's address; false when the queue is full
    /// (the caller serves it itself). The caller still closes its own copy.
    func offer(_ conn: Connection) -> Bool {
        let text = Array("\(conn.remote.host) \(conn.remote.port)".utf8)
        return (try? sender.sendPacket(text, fds: [conn.fd], nonBlocking: true)) == true
    }

    /// The oldest queued connection, if any.
    func take() -> Connection? {
        var bytes = [UInt8](repeating: 0, count: 128)
        let received = bytes.withUnsafeMutableBytes { try? receiver.receivePacket(into: $0, nonBlocking: true) }
        guard let (count, fds) = received ?? nil else { return nil }
        guard fds.count == 1 else {
            for fd in fds { fd.close() }
            return nil
        }
        let fields = String(decoding: bytes[0..<count], as: UTF8.self).split(separator: " ")
        let host = fields.first.map(String.init) ?? ""
        let port = fields.count > 1 ? Int(fields[1]) ?? 0 : 0
        return Connection(fd: fds[0], remote: (host, port))
    }
}
