#if canImport(Glibc)
import Glibc
#endif

/// A seated worker's page in the vassal's seat memfd (`HandoffMessage.seat`):
/// what the worker is doing, written by the worker without a system call,
/// read by the vassal to dispatch and, when the worker dies, to tell what
/// became of each connection it held.
///
/// Why: a seated worker keeps its keep-alive connections in its own epoll
/// between requests (as a standalone worker does) instead of handing each one
/// back to the vassal after every response. On this machine that round trip
/// cost the vassal 10 µs of CPU and two wake-ups per request, and held hello
/// keep-alive to 0.39× the standalone server. The seat is what keeps the
/// vassal's guarantees without the messages: it shows which connection the
/// worker serves (dispatch skips a busy worker; a crash retries that one
/// request) and a copy of that request's bytes (the vassal resends them to
/// another worker when the response had not started).
///
/// Layout (64-bit little-endian words, then bytes):
///
/// | word | field |
/// |---:|---|
/// | 0 | `taken` (high 32 bits): the last connection id received; `serving` (low 32): the id being served, 0 none |
/// | 1, 2 | what the worker had written to and read from `serving` when the snapshot was taken |
/// | 3 | requests it had served on it by then |
/// | 4 | the snapshot's byte count; `asHanded`: the bytes its `connection` message carried; `tooLong` |
/// | 5 | requests this worker has served (its stats row in the vassal) |
/// | 6 | `cpu-slots` while its app is CPU-bound (see `CPUGate`), else 0 |
/// | 7 | monotonic ns until which its last request holds a CPU slot (0: none) |
/// | 8… | the snapshot: the bytes read from `serving` and not yet answered (its request, and any pipelined after it) |
/// | 960 | the closed ring (version 6): connections the worker noted closed, ever |
/// | 961 | how many of them the vassal collected (written by the vassal) |
/// | 962…1023 | the ring: connection ids, the `n`-th noted at 962 + `n` mod 62 |
///
/// The closed ring: a worker that closes a connection notes its id here
/// rather than send `heldClosed`, and the vassal closes its copy at its next
/// turn. Why: in `Connection: close` traffic that message (and `available`,
/// see `HandoffBoard.asleep`) was a send in the worker, and receives and a
/// wake-up in the vassal, per connection. Measured (hello, close, through the
/// vassal): its receives fell from 1.26 to 0.01 per connection, its context
/// switches by half. The copy closes
/// late (at most the vassal's idle wait, 250 ms); the client has had its FIN
/// from the worker's `shutdown` already. A full ring (a vassal that has not
/// turned for 62 closes) falls back to the message.
public struct HandoffSeat {
    /// Bytes per seat (a multiple of the page size: a worker maps only its own).
    public static let size = 8192
    /// Seats in the memfd: workers past these are served without one (a message per request).
    public static let count = 256
    static let headerWords = 8
    /// The closed ring's words at the end of the seat: two counters, then the ids.
    static let ringWords = 64
    static let ringSlots = Int64(ringWords - 2)
    static let notedWord = size / 8 - ringWords
    static let collectedWord = notedWord + 1
    static let ringFirstWord = notedWord + 2
    /// The longest snapshot (a longer request is not copied: it is not resent).
    public static let capacity = size - (headerWords + ringWords) * 8
    /// The longest snapshot the vassal reads: a worker before version 6 wrote
    /// up to the seat's end (it has no ring).
    static let readCapacity = size - headerWords * 8
    static let asHanded: Int64 = -1
    static let tooLong: Int64 = -2

    enum Word: Int {
        case state = 0, written, read, requests, bytes, served, cpuSlots, computeUntil
    }

    let memory: SharedMemory
    /// Word index of this seat's first word in `memory`.
    let base: Int

    /// Seat `index` of the vassal's whole memfd (mapped by the vassal).
    public init(in memory: SharedMemory, index: Int) {
        self.memory = memory
        base = index * Self.size / 8
    }

    /// The vassal's memfd of `count` seats.
    public static func createAll() throws(SystemError) -> SharedMemory {
        try SharedMemory.create(name: "vassal-seats", count: count * size / 8)
    }

    /// Maps seat `index` alone of the memfd a `seat` message carried (the worker's side).
    public static func map(_ fd: FileDescriptor, index: Int) throws(SystemError) -> HandoffSeat {
        guard index < count else { throw SystemError("mmap", "seat \(index)", errno: EINVAL) }
        return HandoffSeat(in: try SharedMemory(mapping: fd, count: size / 8, offset: index * size), index: 0)
    }

    private subscript(word: Word) -> Int64 {
        get { memory[base + word.rawValue] }
        nonmutating set { memory[base + word.rawValue] = newValue }
    }

    // MARK: the worker's side

    /// Connection `id` arrived and is served at once, from the bytes it came with.
    public func received(_ id: UInt32) {
        self[.bytes] = Self.asHanded
        self[.requests] = 0
        self[.written] = 0
        self[.read] = 0
        publish(taken: id, serving: id)
    }

    /// Connection `id` (a held one) is `serving` from now. `bytes`: what was
    /// read from it and not answered yet, `written`, `read`, `requests`: its
    /// totals at this point. Called again after each read and before each
    /// pipelined request, so that the snapshot always matches the totals.
    public func serves(_ id: UInt32, taken: UInt32, bytes: ArraySlice<UInt8>, written: Int64, read: Int64, requests: Int) {
        // Bytes first, then the count that makes them valid (the vassal reads them only after the worker died).
        if bytes.count <= Self.capacity {
            memory.withBytes(fromWord: base + Self.headerWords, count: bytes.count) { out in
                bytes.withUnsafeBytes { out.copyMemory(from: $0) }
            }
            self[.bytes] = Int64(bytes.count)
        } else {
            self[.bytes] = Self.tooLong
        }
        self[.requests] = Int64(requests)
        self[.written] = written
        self[.read] = read
        publish(taken: taken, serving: id)
    }

    /// Where a held connection's next bytes are read to (the copy's place):
    /// the worker's seat shows `serving` with an empty copy when it reads, so
    /// if it dies before it notes what it read, the bytes the kernel counts
    /// as read since are these (`Snapshot.landed`).
    public var landing: UnsafeMutableRawBufferPointer {
        memory.withBytes(fromWord: base + Self.headerWords, count: Self.capacity) { $0 }
    }

    /// Between requests: free (a full fence follows, so that a queue page read
    /// after it sees any request the vassal queued before it looked at this seat),
    /// having served `served` requests in all.
    public func idle(taken: UInt32, served: Int) {
        self[.served] = Int64(served)
        publish(taken: taken, serving: 0)
        SharedMemory.fence()
    }

    /// Connection `id` is closed (its FIN sent): noted in the closed ring for
    /// the vassal to collect. False when the ring is full: say `heldClosed`.
    public func noteClosed(_ id: UInt32) -> Bool {
        let noted = memory[base + Self.notedWord]
        guard noted - memory[base + Self.collectedWord] < Self.ringSlots else { return false }
        // The id first, then the count that makes it visible.
        memory[base + Self.ringFirstWord + Int(noted % Self.ringSlots)] = Int64(id)
        memory[base + Self.notedWord] = noted + 1
        return true
    }

    /// A request starts: it holds a CPU slot until `untilNs` (0: none).
    public func computes(untilNs: UInt64) {
        self[.computeUntil] = Int64(bitPattern: untilNs)
    }

    /// After each request: the worker's `cpu-slots` while its app is CPU-bound, else 0.
    public func publish(cpuSlots: Int) {
        self[.cpuSlots] = Int64(cpuSlots)
    }

    private func publish(taken: UInt32, serving: UInt32) {
        self[.state] = Int64(bitPattern: UInt64(taken) << 32 | UInt64(serving))
    }

    // MARK: the vassal's side

    public var taken: UInt32 { UInt32(truncatingIfNeeded: UInt64(bitPattern: self[.state]) >> 32) }
    public var serving: UInt32 { UInt32(truncatingIfNeeded: UInt64(bitPattern: self[.state])) }
    public var served: Int { Int(self[.served]) }
    /// The worker's `cpu-slots` when its app is CPU-bound (0: not, or a worker that predates it).
    public var cpuSlots: Int { Int(self[.cpuSlots]) }
    public var computeUntilNs: UInt64 { UInt64(bitPattern: self[.computeUntil]) }

    /// Calls `body` with each connection id the worker noted closed since the
    /// last collection, oldest first. False (and nothing collected) when the
    /// counters are impossible: the worker broke the protocol.
    public func collectClosed(_ body: (UInt32) -> Void) -> Bool {
        let noted = memory[base + Self.notedWord]
        var collected = memory[base + Self.collectedWord]
        guard collected != noted else { return true }
        guard noted > collected, noted - collected <= Self.ringSlots else { return false }
        while collected < noted {
            body(UInt32(truncatingIfNeeded: memory[base + Self.ringFirstWord + Int(collected % Self.ringSlots)]))
            collected += 1
        }
        memory[base + Self.collectedWord] = collected
        return true
    }

    /// A seat given to a new worker starts empty.
    public func clear() {
        memory[base + Self.notedWord] = 0
        memory[base + Self.collectedWord] = 0
        self[.state] = 0
        self[.bytes] = 0
        self[.served] = 0
        self[.cpuSlots] = 0
        self[.computeUntil] = 0
    }

    /// What the worker had of the connection it was serving.
    public struct Snapshot: Equatable {
        public let written: Int64
        public let read: Int64
        public let requests: Int
        /// nil: the bytes it was handed with; empty: nothing read yet.
        public let bytes: [UInt8]?
        /// Its request was too long to copy (it cannot be resent).
        public let tooLong: Bool
    }

    public var snapshot: Snapshot {
        let n = self[.bytes]
        let bytes: [UInt8]? = n == Self.asHanded ? nil : n <= 0 ? [] : memory.withBytes(fromWord: base + Self.headerWords, count: Int(min(n, Int64(Self.readCapacity)))) {
            Array($0)
        }
        return Snapshot(written: self[.written], read: self[.read], requests: Int(self[.requests]), bytes: bytes, tooLong: n == Self.tooLong)
    }

    /// The first `count` bytes of the copy's place, whatever the copy's length
    /// says: what a read into `landing` left there.
    public func landed(_ count: Int) -> [UInt8]? {
        guard count > 0, count <= Self.readCapacity else { return nil }
        return memory.withBytes(fromWord: base + Self.headerWords, count: count) { Array($0) }
    }
}

extension HandoffSeat {
    /// The worker's mapping goes (its link is over).
    public func unmap() { memory.unmap() }
}
