import Shared

/// Standalone, while the app cannot load and no worker is ready: the master
/// takes the clients itself and answers `503` with `Retry-After` at once,
/// instead of leaving them in the accept queue until their own timeout. The
/// workers keep trying with backoff; the first one ready takes over.
extension Master {
    /// Starts or stops answering, from the workers' state.
    func updateUnavailable() {
        let wanted = stopping == nil && lastFailure != nil && !listeners.isEmpty
            && !processes.values.contains { $0.state == .ready }
        guard wanted != !answering.isEmpty else { return }
        if wanted {
            for (i, listener) in listeners.enumerated() {
                if let token = try? sources.add(listener, .listener(i), interest: .readableExclusive) { answering.append((listener, token)) }
            }
            Log.info("no worker can serve on \(boundAddresses.joined(separator: ", ")) (\(lastFailure ?? "?")): answering clients 503 until one is ready")
        } else {
            for (fd, token) in answering { sources.remove(fd, token) }
            answering = []
        }
    }

    /// Accepts what waits on `listener` and answers each 503.
    func answerUnavailable(_ listener: FileDescriptor) {
        let answer = HTTPResponseHead.simple(status: 503, message: "the app cannot load: \(lastFailure ?? "see the server log")",
                                             extraHeaders: [("Retry-After", "1")])
        var batch = 0
        while batch < 64, case .completed(let client)? = try? listener.accept() {
            batch += 1
            // Read what the client sent first: closing with unread bytes would reset the connection.
            _ = try? client.fd.readAvailable(max: 16384)
            _ = try? client.fd.writeAvailable(answer, from: 0)
            client.fd.shutdownWrite()
            client.fd.close()
        }
    }
}
