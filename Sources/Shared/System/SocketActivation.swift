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
            let name = Int(i) < names.count && !names[Int(i)].isEmpty ? names[Int(i)] : "fd \(firstFd + i)"
            // Close-on-exec from here; a number that is not open is said, not used.
            guard let fd = try? FileDescriptor.inherited(firstFd + i, what: "LISTEN_FDS") else {
                Log.info("socket activation: \(name) is not an open descriptor")
                continue
            }
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

    /// What no configured address claimed: named in the log (unless `quietly`), and closed.
    public func closeUnclaimed(quietly: Bool = false) {
        for passed in sockets {
            if !quietly { Log.info("socket activation: \(passed.name) (\(passed.address)) matches no configured address; closed") }
            passed.fd.close()
        }
        sockets = []
    }

    /// The same endpoint: a port and address as configured (`:8000` is any address) or a unix path.
    public static func same(_ a: SocketAddress, _ b: SocketAddress) -> Bool {
        switch (mapped(a), mapped(b)) {
        case (.ipv4(let x), .ipv6(let y)), (.ipv6(let y), .ipv4(let x)):
            // `:8000` (0.0.0.0) and systemd's `ListenStream=8000` (a dual-stack [::]) are one port.
            var any = in6addr_any
            var y6 = y.sin6_addr
            return x.sin_port == y.sin6_port && x.sin_addr.s_addr == INADDR_ANY && memcmp(&y6, &any, MemoryLayout<in6_addr>.size) == 0
        case (.ipv4(let x), .ipv4(let y)): return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr
        case (.ipv6(var x), .ipv6(var y)):
            return x.sin6_port == y.sin6_port && memcmp(&x.sin6_addr, &y.sin6_addr, MemoryLayout<in6_addr>.size) == 0
        case (.unix(let x), .unix(let y)): return x == y
        default: return false
        }
    }

    /// An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) as the IPv4 address it is.
    static func mapped(_ a: SocketAddress) -> SocketAddress {
        guard case .ipv6(let v6) = a else { return a }
        let bytes = withUnsafeBytes(of: v6.sin6_addr) { Array($0) }
        guard bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff else { return a }
        var v4 = sockaddr_in()
        v4.sin_family = sa_family_t(AF_INET)
        v4.sin_port = v6.sin6_port
        withUnsafeMutableBytes(of: &v4.sin_addr) { $0.copyBytes(from: bytes[12..<16]) }
        return .ipv4(v4)
    }

    /// The emperor's listeners for an instance, split: the sockets systemd
    /// passed it (labelled `activated:NAME`) as a pool, and the others (the
    /// sockets the instance's predecessor listened on).
    public static func passedOn(_ listeners: [(address: String, fd: FileDescriptor)])
        -> (activation: SocketActivation, held: [(address: String, fd: FileDescriptor)]) {
        var sockets: [Passed] = []
        var held: [(address: String, fd: FileDescriptor)] = []
        for l in listeners {
            guard l.address.hasPrefix(label) else {
                held.append(l)
                continue
            }
            if let address = l.fd.boundAddress() {
                sockets.append(Passed(fd: l.fd, name: String(l.address.dropFirst(label.count)), address: address))
            } else {
                l.fd.close()
            }
        }
        return (SocketActivation(sockets: sockets), held)
    }

    /// How the emperor labels a passed-on socket in an instance's listeners.
    public static let label = "activated:"
}
