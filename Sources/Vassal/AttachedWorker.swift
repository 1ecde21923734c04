import Shared
import VassalCore

/// A zerg worker attached to the vassal's zerg-server socket, as the vassal
/// sees it:
///
///     attaching ──(hello)──▶ loading ──(ready)──▶ free ⇄ busy ──(draining)──▶ draining ──(link closed)──▶ gone
///
/// A busy worker holds one connection, or two when the vassal has given it
/// the next one ahead of time (it then never sleeps between requests).
///
/// A seated worker (one that understands `HandoffMessage.heldVersion`) stays
/// `free` from `ready` to `draining`: it keeps the keep-alive connections it
/// was handed (`held`), and whether it is serving one is in its seat
/// (`HandoffSeat`), which it writes and the vassal reads; it sends no message
/// per request.
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
    /// Seated: its seat, and every connection it holds by number on the link
    /// (`handedIDs` counts the connections sent on it), the vassal's copy of each.
    var seat: HandoffSeat?
    var seatIndex = 0
    var held: [UInt32: HandedConnection] = [:]
    var handedIDs: UInt32 = 0
    var busySinceNs: UInt64 = 0
    var connectionsServed = 0
    let attachedEpoch = Timestamp.now().seconds
    /// The protocol level it said it `understands` (0: it did not say).
    var speaks: UInt8 = 0
    /// It notes the connections it closes in its seat's closed ring (`HandoffMessage.quietVersion`).
    var notesClosesInSeat: Bool { seat != nil && speaks >= HandoffMessage.quietVersion }
    /// When its link was accepted (the hello deadline's start).
    let connectedNs = Host.monotonicNanoseconds()
    /// Set when SO_PEERCRED says this peer may not attach: its hello gets `refuse`.
    var refusal: String?

    init(link: HandoffLink, id: UInt64, peer: (pid: Int32, uid: UInt32, gid: UInt32)) {
        self.link = link
        self.id = id
        self.peer = peer
    }

    /// Seated: the connections it serves or that are on their way to it.
    var inFlight: Int {
        guard let seat else { return inHand.count }
        let onItsWay = handedIDs >= seat.taken ? Int(handedIDs - seat.taken) : 0
        return onItsWay + (seat.serving == 0 ? 0 : 1)
    }

    /// Connections the vassal accepts for it now (admission): a free worker
    /// one to serve and one ahead of time, a busy one with nothing waiting for
    /// it one ahead. (A seated worker may start serving one of its own held
    /// connections meanwhile: dispatch then gives it one more ahead, so what
    /// was accepted for it never waits in the vassal.)
    var room: Int {
        switch state {
        case .free:
            guard seat != nil else { return 2 }
            return max(0, 2 - inFlight)
        case .busy:
            return inHand.count == 1 ? 1 : 0
        case .attaching, .loading, .draining:
            return 0
        }
    }

    /// Serving a request, or about to (a connection on its way to it).
    var isServing: Bool {
        guard let seat else { return !inHand.isEmpty }
        return seat.serving != 0 || seat.taken != handedIDs
    }

    /// The connection it serves now, if known.
    var serving: HandedConnection? {
        guard let seat else { return inHand.first }
        return held[seat.serving]
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
