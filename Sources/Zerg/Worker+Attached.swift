#if canImport(Glibc)
import Glibc
#endif
import Shared

/// Zerg mode: the worker attaches to a vassal's zerg-server socket and serves
/// the connections it is handed, one at a time; between requests the
/// connection goes back to the vassal (docs/handoff-protocol.md).
extension Worker {
    static let linkToken: UInt64 = 3
    /// How long a worker waits for a keep-alive client's next request before
    /// handing the connection back: wrk-style clients send it within microseconds.
    var lingerMs: Int32 { settings.keepAliveLingerMs }

    struct AttachRefused: Error, CustomStringConvertible {
        let description: String
    }

    /// Sends to the vassal; a failure means the link is gone.
    @discardableResult
    func tellVassal(_ message: HandoffMessage, fd: FileDescriptor? = nil) -> Bool {
        guard let link else { return false }
        do {
            if try link.send(message, fd: fd) { return true }
        } catch {}
        linkLost()
        return false
    }

    /// Connects and says hello. False when the vassal is not there (yet).
    func attach() throws -> Bool {
        guard let path = zergServer, let fd = try? FileDescriptor.connectHandoff(path: path) else { return false }
        let candidate = HandoffLink(fd: fd)
        let hello = HandoffMessage.hello(pid: getpid(), worker: Int32(id), build: build)
        // A refused attach is answered before the hello is read (and the link
        // closed), so the hello may fail to send: the answer is read anyway.
        _ = try? candidate.send(hello)
        guard (try? fd.wait(timeoutMs: 5000)) == true else {
            fd.close()
            return false
        }
        switch try? candidate.receive() {
        case .message(.welcome, let boardFd?):
            vassalBoard = try? SharedMemory(mapping: boardFd, count: 8)
            link = candidate
            do {
                try epoll.add(fd, token: Self.linkToken)
            } catch {
                link = nil
                fd.close()
                return false
            }
            return true
        case .message(.refuse(let reason), _):
            fd.close()
            throw AttachRefused(description: "the vassal at \(path) refused this worker: \(reason)")
        default:
            fd.close()
            return false
        }
    }

    /// Retries `attach` with backoff (50 ms doubling to 1 s) until it works or
    /// the master says stop. Returns whether attached.
    func attachWithRetry() throws -> Bool {
        var delayMs: Int32 = 50
        var logged = false
        while !stopping {
            if try attach() { return true }
            if !logged {
                Log.info("waiting for the vassal at \(zergServer ?? "?")")
                logged = true
            }
            interpreter.releaseGIL()
            let controlReady = (try? control.wait(timeoutMs: delayMs)) == true
            interpreter.acquireGIL()
            if controlReady { readControl() }
            delayMs = min(delayMs * 2, 1000)
        }
        return false
    }

    func linkLost() {
        guard let l = link else { return }
        epoll.remove(l.fd)
        l.fd.close()
        link = nil
        if !stopping { Log.info("lost the vassal at \(zergServer ?? "?"); reattaching") }
    }

    /// The attached worker's loop: connections from the vassal, orders from the master.
    func runAttached() -> Int32 {
        environ = EnvironBuilder(interpreter: interpreter)
        var drainingSent = false
        while true {
            if link == nil {
                if stopping { return 0 }
                if paused {
                    interpreter.releaseGIL()
                    let orders = (try? control.wait(timeoutMs: 1000)) == true
                    interpreter.acquireGIL()
                    if orders { readControl() }
                    continue
                }
                do {
                    if try attachWithRetry() {
                        Log.info("reattached to \(zergServer ?? "?")")
                        drainingSent = false
                        tellVassal(.ready)
                    }
                } catch {
                    Log.info("\(error)")
                    return WorkerMain.appLoadFailed
                }
                continue
            }
            var events = (try? epoll.wait(timeoutMilliseconds: 0)) ?? []
            if events.isEmpty {
                interpreter.releaseGIL()
                events = (try? epoll.wait(timeoutMilliseconds: 1000)) ?? []
                interpreter.acquireGIL()
            }
            for event in events {
                switch event.token {
                case Self.controlToken:
                    readControl()
                case Self.linkToken:
                    receiveFromVassal()
                default:
                    break
                }
            }
            if (stopping || paused) && !drainingSent && link != nil {
                // Nothing new for this worker; `bye` confirms no connection is still on its way.
                drainingSent = tellVassal(.draining)
            }
        }
    }

    func receiveFromVassal() {
        guard let l = link else { return }
        let received: HandoffLink.Received
        do {
            received = try l.receive(nonBlocking: true)
        } catch {
            Log.info("protocol error from the vassal: \(error)")
            return linkLost()
        }
        switch received {
        case .none:
            return
        case .closed:
            linkLost()
        case .message(.connection(let host, let port, let buffered), let fd?):
            if stopping || paused {
                // Handed over before the vassal saw `draining`: back it goes, unserved.
                tellVassal(.back(requests: 0, buffered: buffered), fd: fd)
                fd.close()
                return
            }
            let conn = Connection(fd: fd, remote: (host, Int(port)))
            conn.buffer = buffered
            openConnections += 1
            serve(conn)
        case .message(.bye, _):
            epoll.remove(l.fd)
            l.fd.close()
            link = nil
        case .message(let other, let fd):
            fd?.close()
            Log.info("unexpected \(other.kind) from the vassal")
            linkLost()
        }
    }

    /// After a response with nothing more buffered: wait `lingerMs` for the
    /// client's next request, else hand the connection back to the vassal.
    func lingerOrHandBack(_ conn: Connection) -> Bool {
        // Linger only while no other request waits in the vassal's queue: fairness first.
        // (nor when the vassal already gave this worker its next connection).
        if !stopping && !paused && lingerMs > 0 && conn.pending == 0 && (vassalBoard?[0] ?? 1) == 0
            && (try? link?.fd.wait(timeoutMs: 0)) == false {
            interpreter.releaseGIL()
            let ready = (try? conn.fd.wait(timeoutMs: lingerMs)) == true
            interpreter.acquireGIL()
            if ready {
                switch conn.readAvailable() {
                case .some(0):
                    close(conn)
                    return false
                case .some:
                    return true
                case .none:
                    break
                }
            }
        }
        let buffered = Array(conn.buffer[conn.start...])
        openConnections -= 1
        tellVassal(.back(requests: UInt32(clamping: conn.requestsServed), buffered: buffered), fd: conn.fd)
        conn.close()
        return false
    }
}
