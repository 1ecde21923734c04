import Testing
@testable import Shared

/// The handoff protocol's wire format (docs/handoff-protocol.md): every message
/// round-trips, and every malformed packet is refused rather than guessed at.
@Suite struct HandoffMessageTests {
    static let samples: [HandoffMessage] = [
        .hello(pid: 4242, worker: 3, build: "b"), .ready, .back(requests: 7, buffered: Array("GET / HT".utf8)),
        .returned(requests: 3, written: 1 << 40 | 7, read: 99, buffered: Array("GET".utf8)), .returned(requests: 0, written: 0, read: 0, buffered: []),
        .done, .draining, .failing(reason: "ModuleNotFoundError: No module named 'x'"), .welcome(version: 1), .refuse(reason: "uid 65534 may not attach"),
        .connection(remoteHost: "127.0.0.1", remotePort: 51234, buffered: Array("GET / HTTP/1.1\r\n\r\n".utf8)),
        .connection(remoteHost: "", remotePort: 0, buffered: []), .bye, .understands(version: 3),
        .connectionDue(dueNs: 1 << 50 | 12345, remoteHost: "::1", remotePort: 443, buffered: Array("GET /x HTTP/1.1\r\n\r\n".utf8)),
        .connectionDue(dueNs: 0, remoteHost: "", remotePort: 0, buffered: []),
        .uwsgiConnection(dueNs: 0, remoteHost: "10.0.0.2", remotePort: 80, buffered: [0, 4, 0, 0, 1, 0, 65, 0, 0]),
        .uwsgiConnection(dueNs: 1 << 40, remoteHost: "", remotePort: 0, buffered: []),
        .available, .heldClosed(id: 0xFFFF_FFFE), .seat(index: 255),
        .heldReturned(id: 7, requests: 2, written: 1 << 33, read: 12, buffered: Array("GET /a HT".utf8)),
        .heldReturned(id: 1, requests: 0, written: 0, read: 0, buffered: []),
    ]

    func decode(_ bytes: [UInt8], fds: Int) throws -> HandoffMessage {
        try bytes.withUnsafeBytes { try HandoffMessage.decode($0, fdCount: fds) }
    }

    @Test func everyMessageRoundTrips() throws {
        for m in Self.samples {
            #expect(try decode(m.encoded(), fds: HandoffMessage.fdCount(m.kind)) == m)
        }
    }

    @Test func theHeaderIsMagicVersionType() {
        #expect(HandoffMessage.ready.encoded() == [0x48, 0x5A, 1, 0x02])
        #expect(HandoffMessage.hello(pid: 1, worker: 2, build: "a").encoded() == [0x48, 0x5A, 1, 0x01, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0x61])
    }

    @Test func malformedPacketsAreErrors() {
        let ready = HandoffMessage.ready.encoded()
        #expect(throws: HandoffError.self) { try decode([], fds: 0) }
        #expect(throws: HandoffError.self) { try decode([0x48, 0x5B, 1, 2], fds: 0) }  // magic
        #expect(throws: HandoffError.self) { try decode([0x48, 0x5A, 2, 2], fds: 0) }  // version
        #expect(throws: HandoffError.self) { try decode([0x48, 0x5A, 1, 0x7F], fds: 0) }  // unknown type
        #expect(throws: HandoffError.self) { try decode(ready + [0], fds: 0) }  // trailing bytes
        #expect(throws: HandoffError.self) { try decode(ready, fds: 1) }  // an fd where none belongs
        #expect(throws: HandoffError.self) { try decode(HandoffMessage.connection(remoteHost: "x", remotePort: 1, buffered: []).encoded(), fds: 0) }
        #expect(throws: HandoffError.self) { try decode([0x48, 0x5A, 1, 0x01, 1, 0, 0], fds: 0) }  // short hello
        #expect(throws: HandoffError.self) { try decode([0x48, 0x5A, 1, 0x83, 200, 0x61], fds: 1) }  // host longer than the packet
    }

    @Test func randomBytesNeverTrap() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            var bytes = [0x48, 0x5A, 1] + (0..<Int.random(in: 0...24, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if Bool.random(using: &rng) { bytes[3 % bytes.count] = [0x01, 0x03, 0x83, 0x81].randomElement(using: &rng)! }
            _ = try? decode(bytes, fds: Int.random(in: 0...2, using: &rng))
        }
    }
}
