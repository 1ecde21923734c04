#if canImport(Glibc)
import Glibc
#endif

/// A socket address as the kernel takes it (IPv4, IPv6, or a unix path),
/// built and read in one place.
public enum SocketAddress: Equatable, Sendable {
    case ipv4(sockaddr_in)
    case ipv6(sockaddr_in6)
    case unix(path: String)

    /// `host` is an IPv4 or IPv6 literal, "" / "0.0.0.0" (any) or "localhost"; nil otherwise.
    public init?(host: String, port: Int) {
        var v4 = sockaddr_in()
        v4.sin_family = sa_family_t(AF_INET)
        v4.sin_port = in_port_t(UInt16(truncatingIfNeeded: port)).bigEndian
        switch host {
        case "", "0.0.0.0", "*":
            v4.sin_addr.s_addr = INADDR_ANY
        case "localhost":
            v4.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        default:
            if inet_pton(AF_INET, host, &v4.sin_addr) != 1 {
                var v6 = sockaddr_in6()
                v6.sin6_family = sa_family_t(AF_INET6)
                v6.sin6_port = v4.sin_port
                let literal = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
                guard inet_pton(AF_INET6, literal, &v6.sin6_addr) == 1 else { return nil }
                self = .ipv6(v6)
                return
            }
        }
        self = .ipv4(v4)
    }

    public var family: Int32 {
        switch self {
        case .ipv4: return AF_INET
        case .ipv6: return AF_INET6
        case .unix: return AF_UNIX
        }
    }

    /// ENAMETOOLONG for a unix path that does not fit in sun_path.
    public func check(_ call: String) throws(SystemError) {
        guard case .unix(let path) = self else { return }
        if path.utf8.count >= MemoryLayout.size(ofValue: sockaddr_un().sun_path) {
            throw SystemError(call, path, errno: ENAMETOOLONG)
        }
    }

    /// The address as (pointer, length) for bind/connect (a unix path is
    /// truncated to fit: `check` first).
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch self {
        case .ipv4(var a):
            return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        case .ipv6(var a):
            return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        case .unix(let path):
            var a = sockaddr_un()
            a.sun_family = sa_family_t(AF_UNIX)
            var bytes = Array(path.utf8.prefix(MemoryLayout.size(ofValue: a.sun_path) - 1))
            // `@name`: Linux's abstract namespace (a NUL first, the length exact), as NOTIFY_SOCKET may name.
            let abstract = path.hasPrefix("@")
            if abstract { bytes[0] = 0 }
            withUnsafeMutableBytes(of: &a.sun_path) { $0.copyBytes(from: bytes) }
            let length = abstract ? MemoryLayout<sa_family_t>.size + bytes.count : MemoryLayout<sockaddr_un>.size
            return withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(length)) } }
        }
    }

    /// The host text and port of an address the kernel filled in ("" and 0 for
    /// anything but IPv4/IPv6).
    public static func describe(_ storage: UnsafeRawPointer) -> (host: String, port: Int) {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { text -> (String, Int) in
            text[0] = 0
            switch Int32(storage.load(as: sockaddr.self).sa_family) {
            case AF_INET:
                let a = storage.load(as: sockaddr_in.self)
                return (dottedQuad(UInt32(bigEndian: a.sin_addr.s_addr)), Int(UInt16(bigEndian: a.sin_port)))
            case AF_INET6:
                var a = storage.load(as: sockaddr_in6.self)
                inet_ntop(AF_INET6, &a.sin6_addr, text.baseAddress, 64)
                return (String(cString: text.baseAddress!), Int(UInt16(bigEndian: a.sin6_port)))
            default:
                return ("", 0)
            }
        }
    }

    /// An IPv4 address as text, without printf: glibc's inet_ntop formats with
    /// sprintf, 2 % of the vassal's time (each accepted connection) in perf.
    /// Up to 15 bytes: a small string, no allocation.
    static func dottedQuad(_ address: UInt32) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { out in
            var n = 0
            for shift in stride(from: UInt32(24), through: 0, by: -8) {
                let octet = Int(address >> shift & 0xFF)
                if octet >= 100 { out[n] = UInt8(48 + octet / 100); n += 1 }
                if octet >= 10 { out[n] = UInt8(48 + octet / 10 % 10); n += 1 }
                out[n] = UInt8(48 + octet % 10)
                n += 1
                if shift > 0 { out[n] = 46; n += 1 }  // "."
            }
            return String(decoding: UnsafeBufferPointer(rebasing: out[0..<n]), as: UTF8.self)
        }
    }

    public static func == (a: SocketAddress, b: SocketAddress) -> Bool {
        switch (a, b) {
        case (.unix(let x), .unix(let y)): return x == y
        case (.ipv4(var x), .ipv4(var y)): return memcmp(&x, &y, MemoryLayout<sockaddr_in>.size) == 0
        case (.ipv6(var x), .ipv6(var y)): return memcmp(&x, &y, MemoryLayout<sockaddr_in6>.size) == 0
        default: return false
        }
    }
}

extension SocketAddress: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unix(let path): return path
        case .ipv4(var a):
            let d = withUnsafeBytes(of: &a) { SocketAddress.describe($0.baseAddress!) }
            return "\(d.host):\(d.port)"
        case .ipv6(var a):
            let d = withUnsafeBytes(of: &a) { SocketAddress.describe($0.baseAddress!) }
            return "[\(d.host)]:\(d.port)"
        }
    }
}
