import Testing
@testable import Shared

@Suite struct BackoffTests {
    @Test func doublesFromTheStepUpToTheCap() {
        var b = Backoff(stepMs: 1000, capMs: 180_000, stableSeconds: 10)
        let delays = (0..<10).map { _ in b.nextDelayMs(ranNs: 0) }
        #expect(delays == [1000, 2000, 4000, 8000, 16000, 32000, 64000, 128_000, 180_000, 180_000])
        for _ in 0..<100 { #expect(b.nextDelayMs(ranNs: 0) == 180_000) }  // no overflow, ever
    }

    @Test func aStableRunStartsOver() {
        var b = Backoff(stepMs: 500, capMs: 10_000, stableSeconds: 10)
        _ = b.nextDelayMs(ranNs: 0)
        _ = b.nextDelayMs(ranNs: 0)
        #expect(b.nextDelayMs(ranNs: 9_000_000_000) == 2000)
        #expect(b.nextDelayMs(ranNs: 10_000_000_000) == 0)  // after a stable run: at once
        #expect(b.nextDelayMs(ranNs: 0) == 500)  // then backing off from the step again
        b.reset()
        #expect(b.failures == 0)
    }
}
