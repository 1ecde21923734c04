#if canImport(Glibc)
import Glibc
#endif
import Shared

/// A zerg worker attached to the vassal's zerg-server socket, as the vassal
/// sees it:
///
///     attaching ──(hello)──▶ loading ──(ready)──▶ free ⇄ busy ──(draining)──▶ draining ──(link closed)──▶ gone
final class AttachedWorker {
    enum State: String {
        /// Connected; waiting for its hello.
        case attaching
        /// Said hello; loading its app.
        case loading
        /// Ready for a connection.
        case free
        /// Serving a connection the vassal handed it.
        case busy
        /// Leaving: gets nothing new.
        case draining
    }

    let link: HandoffLink
    let token: UInt64
    let peer: (pid: pid_t, uid: uid_t, gid: gid_t)
    var state = State.attaching
    var pid: Int32 = 0
    var workerID: Int32 = 0
    var build = ""
    /// The connection in hand (while busy or draining with one): where it came from.
    var current: (host: String, port: Int, requests: UInt32)?
    var busySinceNs: UInt64 = 0
    var connectionsServed = 0
    /// Set when SO_PEERCRED says this peer may not attach: its hello gets `refuse`.
    var refusal: String?

    init(link: HandoffLink, token: UInt64, peer: (pid: pid_t, uid: uid_t, gid: gid_t)) {
        self.link = link
        self.token = token
        self.peer = peer
    }

    var label: String { "worker \(workerID) pid \(pid)\(build.isEmpty ? "" : " (build \(build))")" }
}
