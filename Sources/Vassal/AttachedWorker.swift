import Shared
import VassalCore

/// A zerg worker attached to the vassal's zerg-server socket, as the vassal
/// sees it:
///
///     attaching ──(hello)──▶ loading ──(ready)──▶ free ⇄ busy ──(draining)──▶ draining ──(link closed)──▶ gone
///
/// A busy worker holds one connection, or two when the vassal has given it
/// the next one ahead of time (it then never sleeps between requests).
final class AttachedWorker {
    typealias State = WorkerLinkState

    let link: HandoffLink
    /// The vassal's name for it (the key of `Vassal.workers` and the free list).
    let id: UInt64
    /// Its registration in the vassal's epoll.
    var eventToken: EventToken?
    let peer: (pid: Int32, uid: UInt32, gid: UInt32)
    var state = State.attaching
    var pid: Int32 = 0
    var workerID: Int32 = 0
    var build = ""
    /// Connections handed to it and not yet answered with back/done, oldest
    /// (the one being served) first. The vassal keeps its own copy of each fd
    /// until then: if the worker dies, the ones it never started are queued again.
    var inHand: [HandedConnection] = []
    var busySinceNs: UInt64 = 0
    var connectionsServed = 0
    let attachedEpoch = Timestamp.now().seconds
    /// The protocol level it said it `understands` (0: it did not say).
    var speaks: UInt8 = 0
    /// When its link was accepted (the hello deadline's start).
    let connectedNs = Host.monotonicNanoseconds()
    /// Set when SO_PEERCRED says this peer may not attach: its hello gets `refuse`.
    var refusal: String?

    init(link: HandoffLink, id: UInt64, peer: (pid: Int32, uid: UInt32, gid: UInt32)) {
        self.link = link
        self.id = id
        self.peer = peer
    }

    var label: String { "worker \(workerID) pid \(pid)\(build.isEmpty ? "" : " (build \(build))")" }
}

/// A connection a worker holds, as the vassal remembers it.
struct HandedConnection {
    /// The vassal's copy of the client socket (out of epoll).
    let fd: FileDescriptor
    let host: String
    let port: Int
    let wire: WireProtocol
    let requests: UInt32
    /// The bytes it was handed with (to queue it again unserved).
    let buffered: [UInt8]
    /// GET/HEAD/OPTIONS without a body, not sent again yet: if the worker dies
    /// before writing a byte of the response, another worker gets it.
    var retryable = false
    var retried = false
    /// The connection's byte totals when it was handed over (nil: unknown);
    /// compared with the kernel's (`tcpTotals`) when the worker dies. Nothing
    /// more written: the response had not started. Nothing more read: the
    /// worker left the request as it was handed.
    var totals: (written: Int64, read: Int64)?
}
