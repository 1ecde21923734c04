#if canImport(Glibc)
import Glibc
#endif
import Shared
import VassalCore

/// Brings a vassal up: binds its sockets (or takes them over from the
/// process it replaced by re-exec), sets socket modes and owners, drops
/// privileges, and reports to the emperor.
enum VassalStartup {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func start(settings: VassalSettings, arguments: [String], binary: OwnBinary) throws -> Vassal {
        let descriptors = DescriptorLimit.raiseAndDescribe()  // before max-connections is derived from it
        let environment = Host.environment()
        let emperor = EmperorLink.fromEnvironment(environment)
        let inherited = try environment[VassalState.environmentVariable].map(VassalState.take(fromVariable:))

        // Listeners: inherited ones (from the image this one replaced, else
        // the emperor's copies after a crash) are kept when the config still names them.
        var listeners: [FileDescriptor] = []
        var unused = inherited?.listeners ?? []
        var fromEmperor = EmperorChannel.inheritedListeners(environment)
        if inherited != nil {
            for held in fromEmperor { held.fd.close() }  // a re-exec: the previous image's sockets are the ones
            fromEmperor = []
        }
        // Sockets systemd passed (to this process, or to the emperor, which passes them on):
        // a configured address takes the one bound to it.
        let activation = SocketActivation.fromEnvironment(environment)
        let (emperorsActivation, held) = SocketActivation.passedOn(fromEmperor)
        unused += held.map { (fd: $0.fd, address: $0.address) }
        for address in settings.http {
            if let i = unused.firstIndex(where: { $0.address == address.description }) {
                listeners.append(unused.remove(at: i).fd)
                continue
            }
            if let fd = activation.claim(address) ?? emperorsActivation.claim(address) {
                listeners.append(fd)
                continue
            }
            listeners.append(try bind(address, settings: settings))
        }
        activation.closeUnclaimed()
        emperorsActivation.closeUnclaimed(quietly: true)  // the emperor's copies of other builds' ports
        for old in unused {
            Log.info("no longer listening on \(old.address) (not in the config any more)")
            old.fd.close()
        }

        let zergServer: FileDescriptor
        if let old = inherited?.zergServer, old.path == settings.zergServer {
            zergServer = old.fd
        } else {
            inherited?.zergServer?.fd.close()
            zergServer = try listenZergServer(settings)
        }
        if inherited == nil || geteuid() == 0 {
            do {
                try settings.ownership.dropPrivileges()
            } catch {
                throw Failure(description: "cannot drop privileges: \(error)")
            }
        }

        // Attached workers keep the queue-depth page they mapped: take over the same one.
        let board = try inherited?.board.map { try SharedMemory(mapping: $0, count: HandoffBoard.words) }
        // And their seats.
        let seats = try inherited?.seats.map { try SharedMemory(mapping: $0, count: HandoffSeat.count * HandoffSeat.size / 8) }
        let vassal = try Vassal(settings: settings, arguments: arguments, binary: binary, listeners: listeners, zergServer: zergServer,
                                emperor: emperor, board: board, seats: seats)
        if let inherited {
            vassal.restore(inherited)
            vassal.notifier?.mainPID()  // the same pid, re-exec'd
            Log.info("reloaded: \(vassal.statusLine())")
        } else {
            let addresses = zip(settings.http, listeners).map { address, fd -> String in
                if case .tcp(let host, _) = address, let port = try? fd.localPort() { return "\(host):\(port)" }
                return address.description
            }
            Log.info("listening on \(addresses.joined(separator: ", ")); workers attach at \(settings.zergServer)")
            Log.info("\(descriptors); at most \(vassal.maxConnections) client connections (max-connections)")
        }
        // The emperor keeps copies: a vassal that dies is started again on the same sockets.
        emperor?.tell(listeners: zip(settings.http, listeners).map { ($0.description, $1) })
        if let title = settings.title { ProcessTitle.set(title) }
        vassal.tellEmperor(.ready)
        vassal.tellEmperor(.accepting)
        return vassal
    }

    static func listenZergServer(_ settings: VassalSettings) throws -> FileDescriptor {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.listenPackets(path: settings.zergServer, backlog: settings.listenBacklog)
        } catch {
            throw Failure(description: "cannot create zerg-server socket \(settings.zergServer): \(error.reason)")
        }
        try applyOwnership(path: settings.zergServer, settings: settings)
        return fd
    }

    static func bind(_ address: ListenAddress, settings: VassalSettings) throws -> FileDescriptor {
        let fd: FileDescriptor
        do {
            fd = try address.listen(backlog: settings.listenBacklog, deferAcceptSeconds: settings.deferAcceptSeconds)
        } catch {
            let hint = error.errno == EADDRINUSE && error.note.isEmpty ? " (another server is using it)" : ""
            throw Failure(description: "cannot listen on \(address): \(error.reason)\(hint)")
        }
        if case .unix(let path) = address { try applyOwnership(path: path, settings: settings) }
        return fd
    }

    static func applyOwnership(path: String, settings: VassalSettings) throws {
        do {
            try settings.ownership.apply(toSocket: path)
        } catch {
            throw Failure(description: "chmod-socket/chown-socket: \(error)")
        }
    }
}
