import Testing
@testable import Shared
@testable import VassalCore

/// What a reloading vassal hands to its next image: every line round-trips,
/// and a line that cannot be read is refused with its number.
@Suite struct VassalStateTests {
    static func sample() -> VassalState {
        var s = VassalState()
        s.listeners = [(FileDescriptor(rawValue: 5), "127.0.0.1:2000"), (FileDescriptor(rawValue: 6), "/run/a b.sock")]
        s.zergServer = (FileDescriptor(rawValue: 7), "/run/build-a.sock")
        s.board = FileDescriptor(rawValue: 8)
        s.workers = [
            .init(fd: FileDescriptor(rawValue: 9), state: .busy, pid: 1234, workerID: 2, peer: (1234, 1000, 1000), build: "a", speaks: 3,
                  held: [.init(fd: FileDescriptor(rawValue: 10), host: "127.0.0.1", port: 5555, requests: 3, buffer: Array("GET / HTTP/1.1\r\n\r\n".utf8),
                               retryable: true, totals: (1234, 56)),
                         .init(fd: FileDescriptor(rawValue: 11), host: "", port: 0, requests: 0, buffer: [], uwsgi: true)]),
            .init(fd: FileDescriptor(rawValue: 12), state: .free, pid: 1235, workerID: 3, peer: (1235, 0, 0), build: "böild", speaks: 5,
                  held: [.init(fd: FileDescriptor(rawValue: 13), host: "::1", port: 7, requests: 1, buffer: [], totals: (5, 6), uwsgi: true, id: 41)],
                  seat: 17, handedIDs: 42),
        ]
        s.clients = [
            .init(fd: FileDescriptor(rawValue: 14), state: .queued, host: "::1", port: 40000, requests: 1, buffer: [0, 255, 10], totals: (10, 20)),
            .init(fd: FileDescriptor(rawValue: 15), state: .reading, host: "10.0.0.1", port: 1, requests: 0, buffer: [], uwsgi: true),
        ]
        s.seats = FileDescriptor(rawValue: 16)
        return s
    }

    @Test func everyLineRoundTrips() throws {
        let s = Self.sample()
        let back = try VassalState.parse(s.serialized())
        #expect(back.serialized() == s.serialized())
        #expect(back.listeners.map(\.address) == ["127.0.0.1:2000", "/run/a b.sock"])
        #expect(back.workers.map(\.build) == ["a", "böild"])
        #expect(back.workers[0].held.map(\.buffer) == s.workers[0].held.map(\.buffer))
        #expect(back.workers[0].held[1].host == "")
        #expect(back.workers[0].held[0].retryable && back.workers[0].held[0].totals! == (1234, 56))
        #expect(!back.workers[0].held[1].retryable && back.workers[0].held[1].totals == nil)
        // A line from an older vassal (no retry fields) still reads.
        let old = try VassalState.parse("worker 9 busy 1 2 3 4 5 61\nheld 10 h 1 2 -\n")
        #expect(old.workers[0].held[0].totals == nil && !old.workers[0].held[0].retryable)
        #expect(back.workers.map(\.speaks) == [3, 5] && old.workers[0].speaks == 0)
        // A seated worker: its seat, its count of connections, each held one's id.
        #expect(back.workers.map(\.seat) == [nil, 17] && back.workers.map(\.handedIDs) == [0, 42] && old.workers[0].seat == nil)
        #expect(back.workers[1].held.map(\.id) == [41] && back.workers[0].held.map(\.id) == [0, 0] && back.workers[1].held[0].uwsgi)
        #expect(back.seats?.rawValue == 16)
        #expect(back.clients.map(\.state) == [.queued, .reading])
        #expect(back.clients[0].buffer == [0, 255, 10])
        #expect(back.clients[0].totals! == (10, 20) && back.clients[1].totals == nil)
        #expect(back.clients.map(\.uwsgi) == [false, true] && back.workers[0].held.map(\.uwsgi) == [false, true] && !old.workers[0].held[0].uwsgi)
        #expect(back.allFds.map(\.rawValue).sorted() == Array(5...16))
    }

    @Test func unreadableLinesAreRefusedWithTheirNumber() {
        let good = Self.sample().serialized()
        for bad in ["nonsense 5 x", "worker 9 sleeping 1 2 3 4 5 61", "held 10 h 1 2 zz", "client x queued h 1 2 -",
                    "worker 9 busy 1 2 3 4 5"] {
            #expect {
                try VassalState.parse(good + bad + "\n")
            } throws: { error in
                (error as? VassalStateError)?.description.contains("line \(good.split(separator: "\n").count + 1)") == true
            }
        }
        // A held connection needs a worker line before it.
        #expect(throws: VassalStateError.self) { try VassalState.parse("held 10 h 1 2 -\n") }
    }

    @Test func hexKeepsEveryByte() {
        let all = (0...255).map(UInt8.init)
        #expect(Hex.decode(Hex.encode(all)) == all)
        #expect(Hex.encode([]) == "-" && Hex.decode("-") == [])
        #expect(Hex.decode("abc") == nil && Hex.decode("zz") == nil)
    }
}
