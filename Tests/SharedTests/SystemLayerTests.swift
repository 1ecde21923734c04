#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Shared

/// The system layer's one convention, in this process: would-block is a
/// value, errors name their call and subject, event tokens map back to
/// their sources.
@Suite struct SystemLayerTests {
    @Test func wouldBlockIsAValueAndEndOfFileIsZero() throws {
        let (a, b) = try FileDescriptor.socketPair(nonBlocking: true)
        defer { a.close() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 8)
        defer { buffer.deallocate() }
        guard case .wouldBlock = try a.read(into: buffer) else { Issue.record("an empty socket would block"); return }
        try b.writeAll("hi")
        #expect(try a.read(into: buffer).value == 2)
        #expect(try a.readAvailable(max: 8).value == nil)
        b.close()
        #expect(try a.read(into: buffer).value == 0)
    }

    @Test func errorsNameTheCallAndItsSubject() throws {
        #expect {
            _ = try FileDescriptor.open("/nonexistent/dir/file", O_RDONLY)
        } throws: { error in
            (error as? SystemError)?.description == "open(/nonexistent/dir/file): No such file or directory"
        }
        let first = try ListenAddress.tcp(host: "127.0.0.1", port: 0).listen()
        defer { first.close() }
        let port = try first.localPort()
        #expect {
            _ = try ListenAddress.tcp(host: "127.0.0.1", port: port).listen()
        } throws: { error in
            (error as? SystemError).map { $0.call == "bind" && $0.subject == "127.0.0.1:\(port)" && $0.errno == EADDRINUSE } == true
        }
        #expect(throws: SystemError.self) { try ListenAddress.tcp(host: "not-an-address", port: 1).listen() }
        #expect(throws: SystemError.self) { try ListenAddress.unix(String(repeating: "x", count: 200)).listen() }
        // An fd number from the environment that is not open is the user's error, not a crash.
        #expect(throws: SystemError.self) { try FileDescriptor.inherited(987_654, what: "test") }
    }

    @Test func socketAddressesOfEveryKind() throws {
        #expect(SocketAddress(host: "", port: 80)?.family == AF_INET)
        #expect(SocketAddress(host: "localhost", port: 80)?.family == AF_INET)
        #expect(SocketAddress(host: "::1", port: 80)?.family == AF_INET6)
        #expect(SocketAddress(host: "[::1]", port: 80)?.family == AF_INET6)
        #expect(SocketAddress(host: "example.com", port: 80) == nil)
        // A connection's two ends describe each other.
        let listener = try ListenAddress.tcp(host: "127.0.0.1", port: 0).listen()
        defer { listener.close() }
        let client = try FileDescriptor.connect(host: "127.0.0.1", port: try listener.localPort())
        defer { client.close() }
        #expect(try listener.wait(timeoutMs: 1000))
        guard case .completed(let accepted) = try listener.accept() else { Issue.record("a connection waits"); return }
        defer { accepted.fd.close() }
        #expect(accepted.host == "127.0.0.1" && accepted.port == client.socketAddress(local: true).port)
        #expect(client.socketAddress().port == (try listener.localPort()))
        guard case .wouldBlock = try listener.accept() else { Issue.record("no second connection"); return }
    }

    /// IPv4 text without printf: the same as glibc's inet_ntop.
    @Test func dottedQuadsAreWhatInetNtopWrites() {
        var state: UInt32 = 0x9E37_79B9
        let samples: [UInt32] = [0, 0xFFFF_FFFF, 0x7F00_0001, 0x0A00_6409, 0xC0A8_0001, 0x0102_0304, 0x6463_0A00] + (0..<200).map { _ in
            state = state &* 1_664_525 &+ 1_013_904_223
            return state
        }
        for address in samples {
            var a = in_addr(s_addr: address.bigEndian)
            var text = [CChar](repeating: 0, count: 64)
            inet_ntop(AF_INET, &a, &text, 64)
            #expect(SocketAddress.dottedQuad(address) == String(cString: text), "\(String(address, radix: 16))")
        }
    }

    @Test func eventTokensMapBackToTheirSources() throws {
        enum Source: Equatable { case a, b(Int) }
        let sources = try EventSources<Source>()
        defer { sources.epoll.fd.close() }
        let (x1, x2) = try FileDescriptor.socketPair(nonBlocking: true)
        let (y1, y2) = try FileDescriptor.socketPair(nonBlocking: true)
        defer { for fd in [x1, x2, y1, y2] { fd.close() } }
        try sources.add(x1, .a)
        let tokenB = try sources.add(y1, .b(7))
        try x2.writeAll("1")
        try y2.writeAll("2")
        let events = try sources.wait(timeoutMs: 1000)
        #expect(Set(events.map(\.token)).count == 2)
        #expect(events.compactMap { sources[$0] }.sorted { "\($0)" < "\($1)" } == [.a, .b(7)])
        // Removed: its pending event finds nothing.
        sources.remove(y1, tokenB)
        #expect(events.compactMap { sources[$0] } == [.a])
        #expect(sources.count == 1)
    }

    /// Binding a unix path never destroys: a stale socket is replaced, a live
    /// one is refused naming its owner, anything that is not a socket is kept.
    @Test func unixSocketPathsAreClaimedWithoutDestroying() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let file = try dir.write("a-file", "precious")
        #expect {
            _ = try ListenAddress.unix(file).listen()
        } throws: { error in (error as? SystemError)?.errno == EEXIST }
        #expect((try? String(contentsOfFile: file, encoding: .utf8)) == "precious")

        let path = dir.path + "/live.sock"
        let live = try ListenAddress.unix(path).listen()
        #expect {
            _ = try ListenAddress.unix(path).listen()
        } throws: { error in
            (error as? SystemError).map { $0.errno == EADDRINUSE && $0.reason.contains("pid \(getpid())") } == true
        }
        live.close()  // the file stays behind, as after a crash
        let again = try ListenAddress.unix(path).listen()
        again.close()
    }
}

/// Which passed socket a configured address takes (`SocketActivation.same`).
@Suite struct SocketActivationMatchTests {
    func address(_ text: String) throws -> SocketAddress { try #require(try ListenAddress(parsing: text)?.socketAddress()) }

    @Test func addressesMatchAsTheKernelBindsThem() throws {
        #expect(SocketActivation.same(try address("127.0.0.1:8000"), try address("127.0.0.1:8000")))
        #expect(!SocketActivation.same(try address("127.0.0.1:8000"), try address("127.0.0.1:8001")))
        #expect(SocketActivation.same(try address("localhost:8000"), try address("127.0.0.1:8000")))
        // `:8000` and systemd's ListenStream=8000 (a dual-stack [::]:8000).
        #expect(SocketActivation.same(try address(":8000"), try address("[::]:8000")))
        #expect(!SocketActivation.same(try address("127.0.0.1:8000"), try address("[::]:8000")))
        // An IPv4-mapped address is its IPv4 one.
        #expect(SocketActivation.same(try address("[::ffff:127.0.0.1]:8000"), try address("127.0.0.1:8000")))
        #expect(SocketActivation.same(.unix(path: "/run/a.sock"), .unix(path: "/run/a.sock")))
    }
}
