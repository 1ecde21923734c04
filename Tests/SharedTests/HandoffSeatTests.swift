import Testing
@testable import Shared

/// A seat as both sides see it: the worker maps its own page of the vassal's
/// memfd and writes; the vassal reads the same bytes through its whole mapping.
@Suite struct HandoffSeatTests {
    @Test func whatTheWorkerWritesTheVassalReads() throws {
        let all = try HandoffSeat.createAll()
        defer { all.release() }
        let vassal = HandoffSeat(in: all, index: 3)
        let worker = try HandoffSeat.map(all.fd, index: 3)
        defer { worker.unmap() }
        #expect(vassal.taken == 0 && vassal.serving == 0)

        // Connection 1 arrives: served from the bytes it came with.
        worker.received(1)
        #expect(vassal.taken == 1 && vassal.serving == 1)
        #expect(vassal.snapshot == HandoffSeat.Snapshot(written: 0, read: 0, requests: 0, bytes: nil, tooLong: false))
        worker.idle(taken: 1, served: 1)
        #expect(vassal.taken == 1 && vassal.serving == 0 && vassal.served == 1)

        // Its next request, read by the worker: the copy and the totals.
        let request = Array("GET /next HTTP/1.1\r\nHost: t\r\n\r\n".utf8)
        worker.serves(1, taken: 1, bytes: request[...], written: 120, read: 64, requests: 1)
        #expect(vassal.serving == 1)
        #expect(vassal.snapshot == HandoffSeat.Snapshot(written: 120, read: 64, requests: 1, bytes: request, tooLong: false))
        // Nothing read yet (a held connection woke): an empty copy.
        worker.serves(1, taken: 2, bytes: [][...], written: 200, read: 96, requests: 2)
        #expect(vassal.taken == 2 && vassal.snapshot.bytes == [])
        // Too long to copy: said so, not cut short.
        let long = [UInt8](repeating: 65, count: HandoffSeat.capacity + 1)
        worker.serves(2, taken: 2, bytes: long[...], written: 0, read: 0, requests: 0)
        #expect(vassal.snapshot.tooLong && vassal.serving == 2)
        let longest = [UInt8](repeating: 66, count: HandoffSeat.capacity)
        worker.serves(2, taken: 2, bytes: longest[...], written: 0, read: 0, requests: 0)
        #expect(vassal.snapshot.bytes == longest)

        // Another seat is another page; a seat given again starts empty.
        #expect(HandoffSeat(in: all, index: 2).taken == 0 && HandoffSeat(in: all, index: 4).snapshot.bytes == [])
        vassal.clear()
        #expect(vassal.taken == 0 && vassal.serving == 0 && vassal.served == 0)
        #expect(throws: SystemError.self) { try HandoffSeat.map(all.fd, index: HandoffSeat.count) }
    }

    /// The closed ring: what the worker notes the vassal collects once, in
    /// order; a full ring refuses (the worker then sends `heldClosed`); a
    /// snapshot as long as a snapshot may be never reaches the ring.
    @Test func closedConnectionsAreCollectedOnceInOrder() throws {
        let all = try HandoffSeat.createAll()
        defer { all.release() }
        let vassal = HandoffSeat(in: all, index: 7)
        let worker = try HandoffSeat.map(all.fd, index: 7)
        defer { worker.unmap() }
        func collect() -> [UInt32]? {
            var ids: [UInt32] = []
            return vassal.collectClosed { ids.append($0) } ? ids : nil
        }
        #expect(collect() == [])
        #expect(worker.noteClosed(1) && worker.noteClosed(3) && worker.noteClosed(2))
        #expect(collect() == [1, 3, 2])
        #expect(collect() == [])

        // Full after 62 uncollected: refused, and what was noted is intact; room again once collected.
        var noted: [UInt32] = []
        var id: UInt32 = 10
        while worker.noteClosed(id) {
            noted.append(id)
            id += 1
        }
        #expect(noted.count == 62)
        let longest = [UInt8](repeating: 67, count: HandoffSeat.capacity)
        worker.serves(9, taken: 9, bytes: longest[...], written: 0, read: 0, requests: 0)
        worker.landing.copyBytes(from: longest)
        #expect(collect() == noted)
        #expect(vassal.snapshot.bytes == longest)
        #expect(worker.noteClosed(id) && collect() == [id])

        // Impossible counters (a worker writing where it should not): nothing collected, said so.
        all[7 * HandoffSeat.size / 8 + HandoffSeat.notedWord] = 1_000
        #expect(collect() == nil)
        vassal.clear()
        #expect(collect() == [] && worker.noteClosed(5) && collect() == [5])
    }
}
