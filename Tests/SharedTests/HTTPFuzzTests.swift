import Testing
@testable import Shared

/// Random and mutated input through the parser and the chunked decoder: they
/// must answer (complete, incomplete or an HTTP error), never trap. A trap
/// here would end the test process.
@Suite struct HTTPFuzzTests {
    struct Rand: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state
        }
    }

    static let seeds: [[UInt8]] = [
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /p?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET http://a:1/b HTTP/1.0\r\nConnection: keep-alive, close\r\nExpect: 100-continue\r\n\r\n",
    ].map { Array($0.utf8) }

    static let interesting: [UInt8] = Array("\r\n :\t,;0123456789abcdefxX+-_%/?#*\u{0}\u{7f}".utf8) + [0xff, 0x80]

    @Test func headParserNeverTraps() {
        var rng = Rand(state: 42)
        var outcomes = [0, 0, 0]
        for i in 0..<20_000 {
            var bytes = Self.seeds[i % Self.seeds.count]
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let at = Int.random(in: 0...bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0 where at < bytes.count: bytes[at] = Self.interesting.randomElement(using: &rng)!
                case 1: bytes.insert(Self.interesting.randomElement(using: &rng)!, at: at)
                default: if at < bytes.count { bytes.remove(at: at) }
                }
            }
            switch HTTPHeadParser.parse(bytes, limit: Int.random(in: 16...4096, using: &rng)) {
            case .incomplete: outcomes[0] += 1
            case .complete: outcomes[1] += 1
            case .failed(let e): outcomes[2] += 1; #expect([400, 414, 417, 431, 501, 505].contains(e.status))
            }
        }
        // Every kind of outcome was reached, so the mutations exercised the parser.
        #expect(outcomes.allSatisfy { $0 > 100 }, "\(outcomes)")
    }

    @Test func chunkedDecoderNeverTraps() {
        var rng = Rand(state: 7)
        let seed = Array("5\r\nhello\r\n1a;x=y\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nT: v\r\n\r\n".utf8)
        var done = 0
        for _ in 0..<20_000 {
            var bytes = seed
            for _ in 0..<Int.random(in: 0...6, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[at] = Self.interesting.randomElement(using: &rng)!
            }
            var decoder = ChunkedDecoder()
            var out: [UInt8] = []
            var i = 0
            // Random split points: the decoder must not depend on how reads arrive.
            while i < bytes.count && !decoder.isDone {
                let n = Int.random(in: 1...8, using: &rng)
                let piece = Array(bytes[i..<min(bytes.count, i + n)])
                guard let used = try? decoder.decode(piece, into: &out) else { break }
                i += used
                if used < piece.count { break }
            }
            if decoder.isDone { done += 1 }
        }
        #expect(done > 100)
    }
}
