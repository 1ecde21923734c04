import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import Shared

/// A unix datagram socket bound at `path`, standing in for a daemon the
/// programs talk to (syslog's /dev/log, systemd's NOTIFY_SOCKET): every
/// datagram received, in order.
final class DatagramListener {
    let fd: Int32
    let path: String
    private(set) var messages: [String] = []

    init(_ path: String) throws {
        self.path = path
        fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0, SocketAddress.unix(path: path).withSockAddr({ Glibc.bind(fd, $0, $1) }) == 0 else { throw TestFailure("cannot bind \(path)") }
    }

    deinit { Glibc.close(fd) }

    func received() -> [String] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            messages.append(String(decoding: buffer[0..<n], as: UTF8.self))
        }
        return messages
    }

    /// The first datagram from `start` on with a line starting with `field` (sd_notify's `KEY=VALUE` lines).
    func index(of field: String, after start: Int = 0) -> Int? {
        let all = received()
        return all.indices.first { $0 >= start && all[$0].split(separator: "\n").contains { $0.hasPrefix(field) } }
    }
}
