#if canImport(Glibc)
import Glibc
#endif

/// An instance's end of the emperor's control channel (the fd named by
/// `UWSGI_EMPEROR_FD`): one-byte reports out, one-byte commands in.
public struct EmperorChannel {
    public let fd: FileDescriptor

    public init(fd: FileDescriptor) { self.fd = fd }

    /// The channel this process was started with, if any (made CLOEXEC: it is
    /// not for this process's own children).
    public static func fromEnvironment(_ environment: [String: String] = Host.environment()) -> EmperorChannel? {
        guard let text = environment[EmperorProtocol.environmentVariable], let raw = Int32(text) else { return nil }
        do {
            return EmperorChannel(fd: try FileDescriptor.inherited(raw, what: EmperorProtocol.environmentVariable))
        } catch {
            Log.info("\(EmperorProtocol.environmentVariable)=\(text): \(error); running without an emperor")
            return nil
        }
    }

    public func tell(_ report: EmperorProtocol.Report) {
        try? fd.writeAll([report.rawValue])
    }

    /// Hands the emperor copies of this process's listening sockets (at most 8).
    public func tell(listeners: [(address: String, fd: FileDescriptor)]) {
        let held = Array(listeners.prefix(8))
        guard !held.isEmpty else { return }
        let text = Array(held.map(\.address).joined(separator: "\n").utf8.prefix(65535))
        let bytes = [EmperorProtocol.Report.listeners.rawValue, UInt8(text.count & 0xFF), UInt8(text.count >> 8)] + text
        _ = try? fd.sendPacket(bytes, fds: held.map(\.fd))
    }

    /// The listening sockets an emperor handed this process at start (made CLOEXEC).
    public static func inheritedListeners(_ environment: [String: String]) -> [(address: String, fd: FileDescriptor)] {
        guard let text = environment[EmperorProtocol.listenersVariable] else { return [] }
        Host.unsetEnvironment(EmperorProtocol.listenersVariable)
        return text.split(separator: "\u{1F}").compactMap { item in
            guard let (number, address) = String(item).splitOnce("="), let raw = Int32(number),
                  let fd = try? FileDescriptor.inherited(raw, what: EmperorProtocol.listenersVariable) else { return nil }
            return (address, fd)
        }
    }

    public enum Received {
        case commands([EmperorProtocol.Command])
        /// The emperor is gone (end of file): uWSGI's vassals stop then.
        case lost
    }

    /// What the emperor sent (unknown bytes are skipped).
    public func receive() -> Received {
        guard let bytes = (try? fd.readAvailable(max: 16))?.value else { return .commands([]) }
        if bytes.isEmpty { return .lost }
        return .commands(bytes.compactMap(EmperorProtocol.Command.init(rawValue:)))
    }
}
