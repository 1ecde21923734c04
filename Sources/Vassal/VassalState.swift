#if canImport(Glibc)
import Glibc
#endif
import Shared

/// What a vassal passes to the process that replaces it (re-exec on reload):
/// every fd it holds, named, with the state behind it. Written as text lines
/// into a memfd whose number is in `HADJANGO_VASSAL_STATE`; the fds themselves
/// are inherited across execve.
///
///     listener <fd> <address>
///     zerg-server <fd> <path>
///     board <fd>
///     worker <fd> <state> <pid> <worker-id> <peer-pid> <peer-uid> <peer-gid> <build-hex>
///     held <fd> <host> <port> <requests> <buffer-hex>      (a connection the worker line above holds)
///     client <fd> <state> <host> <port> <requests> <buffer-hex>
struct VassalState {
    static let environmentVariable = "HADJANGO_VASSAL_STATE"

    struct Worker {
        var fd: FileDescriptor
        var state: AttachedWorker.State
        var pid: Int32, workerID: Int32
        var peer: (pid: pid_t, uid: uid_t, gid: gid_t)
        var build: String
        var held: [Held] = []
    }

    struct Held {
        var fd: FileDescriptor
        var host: String, port: Int, requests: UInt32
        var buffer: [UInt8]
    }

    struct Client {
        var fd: FileDescriptor
        var state: ClientConnection.State
        var host: String, port: Int, requests: UInt32
        var buffer: [UInt8]
    }

    var listeners: [(fd: FileDescriptor, address: String)] = []
    var zergServer: (fd: FileDescriptor, path: String)?
    var board: FileDescriptor?
    var workers: [Worker] = []
    var clients: [Client] = []

    var allFds: [FileDescriptor] {
        listeners.map(\.fd) + (zergServer.map { [$0.fd] } ?? []) + (board.map { [$0] } ?? []) + workers.flatMap { [$0.fd] + $0.held.map(\.fd) } + clients.map(\.fd)
    }

    func serialized() -> String {
        var lines: [String] = []
        for l in listeners { lines.append("listener \(l.fd.rawValue) \(l.address)") }
        if let z = zergServer { lines.append("zerg-server \(z.fd.rawValue) \(z.path)") }
        if let b = board { lines.append("board \(b.rawValue) -") }
        for w in workers {
            lines.append("worker \(w.fd.rawValue) \(w.state.rawValue) \(w.pid) \(w.workerID) \(w.peer.pid) \(w.peer.uid) \(w.peer.gid) \(Hex.encode(Array(w.build.utf8)))")
            for h in w.held {
                lines.append("held \(h.fd.rawValue) \(h.host.isEmpty ? "-" : h.host) \(h.port) \(h.requests) \(Hex.encode(h.buffer))")
            }
        }
        for c in clients {
            lines.append("client \(c.fd.rawValue) \(c.state.rawValue) \(c.host.isEmpty ? "-" : c.host) \(c.port) \(c.requests) \(Hex.encode(c.buffer))")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func parse(_ text: String) throws -> VassalState {
        var state = VassalState()
        for (n, line) in text.split(separator: "\n").enumerated() {
            let f = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            func bad() -> Error { VassalStartup.Failure(description: "inherited state, line \(n + 1): cannot read `\(line)`") }
            guard f.count >= 3, let raw = Int32(f[1]) else { throw bad() }
            let fd = FileDescriptor(rawValue: raw)
            switch f[0] {
            case "listener":
                state.listeners.append((fd, f[2...].joined(separator: " ")))
            case "zerg-server":
                state.zergServer = (fd, f[2...].joined(separator: " "))
            case "board":
                state.board = fd
            case "worker":
                guard f.count >= 9, let s = AttachedWorker.State(rawValue: f[2]), let pid = Int32(f[3]), let id = Int32(f[4]),
                      let ppid = Int32(f[5]), let puid = UInt32(f[6]), let pgid = UInt32(f[7]), let build = Hex.decode(f[8])
                else { throw bad() }
                state.workers.append(Worker(fd: fd, state: s, pid: pid, workerID: id, peer: (ppid, puid, pgid),
                                            build: String(decoding: build, as: UTF8.self)))
            case "held":
                guard f.count >= 6, !state.workers.isEmpty, let port = Int(f[3]), let requests = UInt32(f[4]),
                      let buffer = Hex.decode(f[5]) else { throw bad() }
                state.workers[state.workers.count - 1].held.append(
                    Held(fd: fd, host: f[2] == "-" ? "" : f[2], port: port, requests: requests, buffer: buffer))
            case "client":
                guard f.count >= 7, let s = ClientConnection.State(rawValue: f[2]), let port = Int(f[4]),
                      let requests = UInt32(f[5]), let buffer = Hex.decode(f[6]) else { throw bad() }
                state.clients.append(Client(fd: fd, state: s, host: f[3] == "-" ? "" : f[3], port: port,
                                            requests: requests, buffer: buffer))
            default:
                throw bad()
            }
        }
        return state
    }

    /// Reads and closes the memfd named by the variable; every fd it names gets CLOEXEC back.
    static func take(fromVariable text: String) throws -> VassalState {
        guard let raw = Int32(text) else { throw VassalStartup.Failure(description: "\(environmentVariable)=\(text): not an fd") }
        let memfd = FileDescriptor(rawValue: raw)
        defer { memfd.close() }
        _ = lseek(raw, 0, SEEK_SET)
        let state = try parse(String(decoding: try memfd.readToEnd(), as: UTF8.self))
        for fd in state.allFds { _ = fcntl(fd.rawValue, F_SETFD, FD_CLOEXEC) }
        unsetenv(environmentVariable)
        return state
    }
}

/// Lower-case hex for bytes in text lines.
enum Hex {
    static let digits = Array("0123456789abcdef".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return "-" }
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        if text == "-" { return [] }
        let u = Array(text.utf8)
        guard u.count % 2 == 0 else { return nil }
        func v(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            default: return nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let hi = v(u[i]), let lo = v(u[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
