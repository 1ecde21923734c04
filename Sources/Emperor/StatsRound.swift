#if canImport(Glibc)
import Glibc
#endif
import Shared

/// One round of reading every running instance's stats document for the
/// history, without blocking the emperor's loop: a non-blocking connection per
/// instance, read as epoll says, the document parsed at end of file. A round
/// ends when every document is in, or when the next round starts (what did
/// not arrive within the second is missing from that sample: an instance that
/// stopped answering never stalls the emperor).
final class StatsRound {
    /// A document on its way.
    final class Fetch {
        let instance: String
        let fd: FileDescriptor
        var token: EventToken?
        var data: [UInt8] = []
        init(instance: String, fd: FileDescriptor) {
            self.instance = instance
            self.fd = fd
        }
    }

    /// When the round began (what its samples are stamped with).
    let monotonicNs: UInt64
    let epochMs: Int64
    private(set) var fetches: [String: Fetch] = [:]
    /// Documents in, by instance name.
    private(set) var documents: [String: JSON] = [:]

    init(monotonicNs: UInt64, epochMs: Int64) {
        self.monotonicNs = monotonicNs
        self.epochMs = epochMs
    }

    var isComplete: Bool { fetches.isEmpty }

    /// Asks `instance` at `address`; nothing when it cannot be reached now.
    func ask<E>(_ instance: String, at address: ListenAddress, sources: EventSources<E>, as event: (String) -> E) {
        guard let socketAddress = try? address.socketAddress(),
              let fd = try? FileDescriptor.connectNonBlocking(to: socketAddress, name: address.description) else { return }
        let fetch = Fetch(instance: instance, fd: fd)
        do {
            fetch.token = try sources.add(fd, event(instance))
        } catch {
            fd.close()
            return
        }
        fetches[instance] = fetch
    }

    /// Reads what `instance`'s connection has; at end of file (or an error) it is done.
    func readable<E>(_ instance: String, sources: EventSources<E>) {
        guard let fetch = fetches[instance] else { return }
        while true {
            let chunk: [UInt8]
            do {
                guard let c = try fetch.fd.readAvailable(max: 65536).value else { return }  // more later
                chunk = c
            } catch {
                finish(fetch, sources: sources)
                return
            }
            if chunk.isEmpty || fetch.data.count + chunk.count > StatsClient.maxDocumentBytes {
                if chunk.isEmpty, let doc = JSON.parse(String(decoding: fetch.data, as: UTF8.self)) { documents[instance] = doc }
                finish(fetch, sources: sources)
                return
            }
            fetch.data += chunk
        }
    }

    /// Closes what has not answered (the round is over).
    func abandon<E>(sources: EventSources<E>) {
        for fetch in Array(fetches.values) { finish(fetch, sources: sources) }
    }

    private func finish<E>(_ fetch: Fetch, sources: EventSources<E>) {
        if let token = fetch.token { sources.remove(fetch.fd, token) }
        fetch.fd.close()
        fetches[fetch.instance] = nil
    }
}
