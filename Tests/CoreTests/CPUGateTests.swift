import Testing
@testable import ZergCore

@Test func placeholder() { #expect(CPUGate(slots: 0, workers: 4).isOn == false) }
