import Shared

/// A worker link's state, as the vassal sees it (drawn in `AttachedWorker`).
public enum WorkerLinkState: String, Sendable {
    /// Connected; waiting for its hello.
    case attaching
    /// Said hello; loading its app.
    case loading
    /// Ready for a connection.
    case free
    /// Serving the connection(s) the vassal handed it.
    case busy
    /// Leaving: gets nothing new.
    case draining
}

/// A client connection's state while the vassal holds it.
public enum ClientState: String, Sendable {
    /// Waiting for (the rest of) a request head; in epoll.
    case reading
    /// Head complete, waiting for a free worker; out of epoll.
    case queued
}

/// Inherited state that cannot be read.
public struct VassalStateError: Error, CustomStringConvertible {
    public let description: String
}

/// What a vassal passes to the process that replaces it (re-exec on reload):
/// every fd it holds, named, with the state behind it. Written as text lines
/// into a memfd whose number is in `HADJANGO_VASSAL_STATE`; the fds themselves
/// are inherited across execve.
///
///     listener <fd> <address>
///     zerg-server <fd> <path>
///     board <fd>
///     seats <fd>
///     worker <fd> <state> <pid> <worker-id> <peer-pid> <peer-uid> <peer-gid> <build-hex> [<speaks> [<seat> <handed>]]
///                                    (speaks: the protocol level the worker said it `understands`;
///                                     seat: its seat, - for none; handed: connections sent on its link)
///     held <fd> <host> <port> <requests> <buffer-hex> [<retry> <written> <read> [uwsgi] [#<id>]]
///                                    (a connection the worker line above holds; retry: - r R for
///                                     not retryable, retryable, sent again already; byte totals - when unknown;
///                                     `uwsgi`: its client speaks the uwsgi protocol; id: its number on a seated link)
///     client <fd> <state> <host> <port> <requests> <buffer-hex> [<written> <read> [uwsgi]]
///     daemon <pid> <command-hex>     (an attached daemon, still this process's child; no fd)
public struct VassalState {
    public static let environmentVariable = "HADJANGO_VASSAL_STATE"

    public struct Worker {
        public var fd: FileDescriptor
        public var state: WorkerLinkState
        public var pid: Int32, workerID: Int32
        public var peer: (pid: Int32, uid: UInt32, gid: UInt32)
        /// The protocol level it said it `understands` (0: none).
        public var speaks: UInt8 = 0
        public var build: String
        public var held: [Held] = []
        /// Its seat (nil: unseated), and how many connections were sent on its link.
        public var seat: Int?
        public var handedIDs: UInt32 = 0
        public init(fd: FileDescriptor, state: WorkerLinkState, pid: Int32, workerID: Int32,
                    peer: (pid: Int32, uid: UInt32, gid: UInt32), build: String, speaks: UInt8 = 0, held: [Held] = [],
                    seat: Int? = nil, handedIDs: UInt32 = 0) {
            self.speaks = speaks
            self.seat = seat
            self.handedIDs = handedIDs
            self.fd = fd
            self.state = state
            self.pid = pid
            self.workerID = workerID
            self.peer = peer
            self.build = build
            self.held = held
        }
    }

    public struct Held {
        public var fd: FileDescriptor
        public var host: String, port: Int, requests: UInt32
        public var buffer: [UInt8]
        /// What a worker's death does with it (see `HandedConnection`): sent again, or 502.
        public var retryable = false
        public var retried = false
        public var totals: (written: Int64, read: Int64)?
        /// From a `socket` listener (the uwsgi protocol).
        public var uwsgi: Bool
        /// Its number on a seated worker's link (0: an unseated worker's).
        public var id: UInt32
        public init(fd: FileDescriptor, host: String, port: Int, requests: UInt32, buffer: [UInt8],
                    retryable: Bool = false, retried: Bool = false, totals: (written: Int64, read: Int64)? = nil, uwsgi: Bool = false,
                    id: UInt32 = 0) {
            self.uwsgi = uwsgi
            self.id = id
            self.fd = fd
            self.host = host
            self.port = port
            self.requests = requests
            self.buffer = buffer
            self.retryable = retryable
            self.retried = retried
            self.totals = totals
        }
    }

    public struct Client {
        public var fd: FileDescriptor
        public var state: ClientState
        public var host: String, port: Int, requests: UInt32
        public var buffer: [UInt8]
        /// Bytes ever written to and read from it (nil: unknown).
        public var totals: (written: Int64, read: Int64)?
        /// From a `socket` listener (the uwsgi protocol).
        public var uwsgi: Bool
        public init(fd: FileDescriptor, state: ClientState, host: String, port: Int, requests: UInt32, buffer: [UInt8],
                    totals: (written: Int64, read: Int64)? = nil, uwsgi: Bool = false) {
            self.uwsgi = uwsgi
            self.fd = fd
            self.state = state
            self.host = host
            self.port = port
            self.requests = requests
            self.buffer = buffer
            self.totals = totals
        }
    }

    public var listeners: [(fd: FileDescriptor, address: String)] = []
    public var zergServer: (fd: FileDescriptor, path: String)?
    public var board: FileDescriptor?
    public var seats: FileDescriptor?
    public var workers: [Worker] = []
    public var clients: [Client] = []
    /// Attached daemons running as children: their command and pid.
    public var daemons: [(command: String, pid: Int32)] = []

    public init() {}

    public var allFds: [FileDescriptor] {
        listeners.map(\.fd) + (zergServer.map { [$0.fd] } ?? []) + (board.map { [$0] } ?? []) + (seats.map { [$0] } ?? []) + workers.flatMap { [$0.fd] + $0.held.map(\.fd) } + clients.map(\.fd)
    }

    public func serialized() -> String {
        var lines: [String] = []
        for l in listeners { lines.append("listener \(l.fd.rawValue) \(l.address)") }
        if let z = zergServer { lines.append("zerg-server \(z.fd.rawValue) \(z.path)") }
        if let b = board { lines.append("board \(b.rawValue) -") }
        if let s = seats { lines.append("seats \(s.rawValue) -") }
        for w in workers {
            lines.append("worker \(w.fd.rawValue) \(w.state.rawValue) \(w.pid) \(w.workerID) \(w.peer.pid) \(w.peer.uid) \(w.peer.gid) \(Hex.encode(Array(w.build.utf8))) \(w.speaks) \(w.seat.map(String.init) ?? "-") \(w.handedIDs)")
            for h in w.held {
                let retry = h.retried ? "R" : h.retryable ? "r" : "-"
                let totals = h.totals.map { "\($0.written) \($0.read)" } ?? "- -"
                lines.append("held \(h.fd.rawValue) \(h.host.isEmpty ? "-" : h.host) \(h.port) \(h.requests) \(Hex.encode(h.buffer)) \(retry) \(totals)\(h.uwsgi ? " uwsgi" : "")\(h.id != 0 ? " #\(h.id)" : "")")
            }
        }
        for c in clients {
            let totals = c.totals.map { "\($0.written) \($0.read)" } ?? "- -"
            lines.append("client \(c.fd.rawValue) \(c.state.rawValue) \(c.host.isEmpty ? "-" : c.host) \(c.port) \(c.requests) \(Hex.encode(c.buffer)) \(totals)\(c.uwsgi ? " uwsgi" : "")")
        }
        for d in daemons { lines.append("daemon \(d.pid) \(Hex.encode(Array(d.command.utf8)))") }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func parse(_ text: String) throws(VassalStateError) -> VassalState {
        var state = VassalState()
        for (n, line) in text.split(separator: "\n").enumerated() {
            let f = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            func bad() -> VassalStateError { VassalStateError(description: "inherited state, line \(n + 1): cannot read `\(line)`") }
            guard f.count >= 3, let raw = Int32(f[1]) else { throw bad() }
            let fd = FileDescriptor(rawValue: raw)
            switch f[0] {
            case "listener":
                state.listeners.append((fd, f[2...].joined(separator: " ")))
            case "zerg-server":
                state.zergServer = (fd, f[2...].joined(separator: " "))
            case "board":
                state.board = fd
            case "seats":
                state.seats = fd
            case "worker":
                guard f.count >= 9, let s = WorkerLinkState(rawValue: f[2]), let pid = Int32(f[3]), let id = Int32(f[4]),
                      let ppid = Int32(f[5]), let puid = UInt32(f[6]), let pgid = UInt32(f[7]), let build = Hex.decode(f[8])
                else { throw bad() }
                // `speaks` is optional: a line written by an older vassal has none.
                // So are the seat and the count of connections handed.
                state.workers.append(Worker(fd: fd, state: s, pid: pid, workerID: id, peer: (ppid, puid, pgid),
                                            build: String(decoding: build, as: UTF8.self), speaks: f.count > 9 ? UInt8(f[9]) ?? 0 : 0,
                                            seat: f.count > 11 ? Int(f[10]) : nil, handedIDs: f.count > 11 ? UInt32(f[11]) ?? 0 : 0))
            case "held":
                guard f.count >= 6, !state.workers.isEmpty, let port = Int(f[3]), let requests = UInt32(f[4]),
                      let buffer = Hex.decode(f[5]) else { throw bad() }
                // The retry fields are optional: a line written by an older vassal has none.
                let retry = f.count > 6 ? f[6] : "-"
                let totals = f.count > 8 ? Int64(f[7]).flatMap { w in Int64(f[8]).map { (w, $0) } } : nil
                state.workers[state.workers.count - 1].held.append(
                    Held(fd: fd, host: f[2] == "-" ? "" : f[2], port: port, requests: requests, buffer: buffer,
                         retryable: retry == "r", retried: retry == "R", totals: totals, uwsgi: f.dropFirst(9).contains("uwsgi"),
                         id: f.dropFirst(9).first { $0.hasPrefix("#") }.flatMap { UInt32($0.dropFirst()) } ?? 0))
            case "daemon":
                guard let command = Hex.decode(f[2]) else { throw bad() }
                state.daemons.append((String(decoding: command, as: UTF8.self), raw))
            case "client":
                guard f.count >= 7, let s = ClientState(rawValue: f[2]), let port = Int(f[4]),
                      let requests = UInt32(f[5]), let buffer = Hex.decode(f[6]) else { throw bad() }
                let totals = f.count > 8 ? Int64(f[7]).flatMap { w in Int64(f[8]).map { (w, $0) } } : nil
                state.clients.append(Client(fd: fd, state: s, host: f[3] == "-" ? "" : f[3], port: port,
                                            requests: requests, buffer: buffer, totals: totals, uwsgi: f.count > 9 && f[9] == "uwsgi"))
            default:
                throw bad()
            }
        }
        return state
    }

    /// Reads and closes the memfd named by the variable; every fd it names gets CLOEXEC back.
    public static func take(fromVariable text: String) throws -> VassalState {
        guard let raw = Int32(text) else { throw VassalStateError(description: "\(environmentVariable)=\(text): not an fd") }
        let memfd = try FileDescriptor.inherited(raw, what: environmentVariable)
        defer { memfd.close() }
        try memfd.seek(to: 0)
        let state = try parse(String(decoding: try memfd.readToEnd(), as: UTF8.self))
        for fd in state.allFds { _ = try FileDescriptor.inherited(fd.rawValue, what: "inherited vassal state") }
        Host.unsetEnvironment(environmentVariable)
        return state
    }
}

/// Lower-case hex for bytes in text lines.
public enum Hex {
    static let digits = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return "-" }
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
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
