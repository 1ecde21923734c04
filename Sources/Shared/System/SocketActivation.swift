#if canImport(Glibc)
import Glibc
#endif

/// systemd's socket activation (sd_listen_fds(3)), read without libsystemd:
/// `LISTEN_PID` (this process), `LISTEN_FDS` (how many, from fd 3) and
/// `LISTEN_FDNAMES`. A configured `http`, `http-socket` or `socket` address
/// that one of them is bound to takes it instead of binding (uWSGI's rule),
/// so a port systemd holds never fails with "address in use", and a restart
/// refuses no connection. The variables are cleared (children must not see
/// them) and the fds made close-on-exec; what no address claims is named and
/// closed by `closeUnclaimed`.
public final class SocketActivation {
    public static let variables = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]
    public static let firstFd: Int32 = 3

    public struct Passed {
        public let fd: FileDescriptor
        public let name: String
        public let address: SocketAddress
    }

    public private(set) var sockets: [Passed]

    init(sockets: [Passed]) { self.sockets = sockets }

    /// The sockets systemd passed to this process (none when not activated).
    public static func fromEnvironment(_ environment: [String: String] = Host.environment()) -> SocketActivation {
        defer { for key in variables { Host.unsetEnvironment(key) } }
        guard let pid = environment["LISTEN_PID"].flatMap(Int32.init), pid == getpid(),
              let count = environment["LISTEN_FDS"].flatMap(Int32.init), count > 0 else { return SocketActivation(sockets: []) }
        let names = (environment["LISTEN_FDNAMES"] ?? "").split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var sockets: [Passed] = []
        for i in 0..<count {
            let fd = FileDescriptor(rawValue: firstFd + i)
            let name = Int(i) < names.count && !names[Int(i)].isEmpty ? names[Int(i)] : "fd \(fd.rawValue)"
            try? fd.setCloseOnExec(true)
            guard fd.isListeningStream, let address = fd.boundAddress() else {
                Log.info("socket activation: \(name) is not a listening stream socket; closed")
                fd.close()
                continue
            }
            try? fd.setNonBlocking()
            sockets.append(Passed(fd: fd, name: name, address: address))
        }
        return SocketActivation(sockets: sockets)
    }

    /// The passed socket bound to `address` (taken: `closeUnclaimed` leaves it).
    public func claim(_ address: ListenAddress) -> FileDescriptor? {
        guard let wanted = try? address.socketAddress(),
              let i = sockets.firstIndex(where: { Self.same($0.address, wanted) }) else { return nil }
        let passed = sockets.remove(at: i)
        Log.info("\(address): the socket systemd passed (\(passed.name)), not bound again")
        return passed.fd
    }

    /// What no configured address claimed: named in the log, and closed.
    public func closeUnclaimed() {
        for passed in sockets {
            Log.info("socket activation: \(passed.name) (\(passed.address)) matches no configured address; closed")
            passed.fd.close()
        }
        sockets = []
    }

    /// The same endpoint: a port and address as configured (`:8000` is any address) or a unix path.
    public static func same(_ a: SocketAddress, _ b: SocketAddress) -> Bool {
        switch (a, b) {
        case (.ipv4(let x), .ipv4(let y)): return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr
        case (.ipv6(var x), .ipv6(var y)):
            return x.sin6_port == y.sin6_port && memcmp(&x.sin6_addr, &y.sin6_addr, MemoryLayout<in6_addr>.size) == 0
        case (.unix(let x), .unix(let y)): return x == y
        default: return false
        }
    }
}
