import Testing
@testable import Shared

/// The master↔worker control channel (docs/zerg.md, "Control channel"):
/// every order and report round-trips, frames are cut out of any split of the
/// byte stream, and malformed frames are refused rather than guessed at.
@Suite struct ControlProtocolTests {
    static let orders: [MasterOrder] = [.pause, .resume, .stop, .retire, .reopenLog, .signal(0), .signal(255)]
    static let reports: [WorkerReport] = [
        .ready(totalMs: 1234, appMs: 1000, warmupMs: 0), .ready(totalMs: .max, appMs: 0, warmupMs: 17),
        .failed(.appLoad, "ModuleNotFoundError: No module named 'x'"), .failed(.attachRefused, ""),
        .failed(.startup, "naïve ünïcode ✓"), .recycle(.maxRequests, "1000 requests"),
        .recycle(.reloadOnRSS, "300 MB resident"), .recycle(.reloadOnAS, ""), .reloadRequested,
    ]

    func decodeAll<M: ControlMessage>(_ bytes: [UInt8], as: M.Type) throws -> [M] {
        var decoder = ControlDecoder<M>()
        decoder.append(bytes)
        var out: [M] = []
        while let m = try decoder.next() { out.append(m) }
        return out
    }

    @Test func everyMessageRoundTrips() throws {
        for o in Self.orders { #expect(try decodeAll(ControlFrame.encode(o), as: MasterOrder.self) == [o]) }
        for r in Self.reports { #expect(try decodeAll(ControlFrame.encode(r), as: WorkerReport.self) == [r]) }
    }

    @Test func theHeaderIsMagicVersionKindLength() {
        #expect(ControlFrame.encode(MasterOrder.retire) == [0x48, 0x43, 1, 0x04, 0, 0, 0, 0])
        #expect(ControlFrame.encode(WorkerReport.ready(totalMs: 1, appMs: 2, warmupMs: 3))
            == [0x48, 0x43, 1, 0x81, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0])
    }

    @Test func framesAreCutOutOfAnySplitOfTheStream() throws {
        let stream = Self.reports.flatMap { ControlFrame.encode($0) }
        for chunk in [1, 3, 7, 64, stream.count] {
            var decoder = ControlDecoder<WorkerReport>()
            var got: [WorkerReport] = []
            var at = 0
            while at < stream.count {
                decoder.append(Array(stream[at..<min(stream.count, at + chunk)]))
                at += chunk
                while let m = try decoder.next() { got.append(m) }
            }
            #expect(got == Self.reports, "chunks of \(chunk) bytes")
            #expect(decoder.pendingBytes == 0)
        }
    }

    @Test func malformedFramesAreErrors() {
        let retire = ControlFrame.encode(MasterOrder.retire)
        #expect(throws: ControlError.self) { try decodeAll([0x48, 0x44], as: MasterOrder.self) }  // magic
        #expect(throws: ControlError.self) { try decodeAll([0x48, 0x43, 2, 4, 0, 0, 0, 0], as: MasterOrder.self) }  // version
        #expect(throws: ControlError.self) { try decodeAll([0x48, 0x43, 1, 0x7F, 0, 0, 0, 0], as: MasterOrder.self) }  // unknown order
        #expect(throws: ControlError.self) { try decodeAll(retire, as: WorkerReport.self) }  // an order is no report
        #expect(throws: ControlError.self) { try decodeAll([0x48, 0x43, 1, 0x04, 1, 0, 0, 0, 9], as: MasterOrder.self) }  // trailing
        #expect(throws: ControlError.self) { try decodeAll([0x48, 0x43, 1, 0x81, 4, 0, 0, 0, 1, 0, 0, 0], as: WorkerReport.self) }  // short ready
        #expect(throws: ControlError.self) { try decodeAll([0x48, 0x43, 1, 0x82, 8, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0], as: WorkerReport.self) }  // unknown failure
        #expect(throws: ControlError.self) { try decodeAll([0x48, 0x43, 1, 0x83, 8, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0], as: WorkerReport.self) }  // text past the end
        #expect(throws: ControlError.self) { try decodeAll([0x48, 0x43, 1, 0x84, 0, 0, 0x20, 0], as: WorkerReport.self) }  // over the size limit
    }

    @Test func anIncompleteFrameWaits() throws {
        let frame = ControlFrame.encode(WorkerReport.recycle(.maxRequests, "10 requests"))
        var decoder = ControlDecoder<WorkerReport>()
        decoder.append(Array(frame.dropLast()))
        #expect(try decoder.next() == nil)
        decoder.append([frame.last!])
        #expect(try decoder.next() == .recycle(.maxRequests, "10 requests"))
    }

    /// Both ends over a real socketpair, in this process.
    @Test func theChannelCarriesOrdersAndReports() throws {
        let (a, b) = try FileDescriptor.socketPair()
        var master = MasterControl(fd: a)
        var worker = WorkerControl(fd: b)
        try b.setNonBlocking()
        guard case .messages(let none) = worker.receive() else { Issue.record("nothing sent yet"); return }
        #expect(none.isEmpty)
        try master.send(.pause)
        try master.send(.retire)
        guard case .messages(let orders) = worker.receive() else { Issue.record("orders expected"); return }
        #expect(orders == [.pause, .retire])
        try worker.send(.ready(totalMs: 5, appMs: 4, warmupMs: 0))
        guard case .messages(let reports) = master.receive() else { Issue.record("a report expected"); return }
        #expect(reports == [.ready(totalMs: 5, appMs: 4, warmupMs: 0)])
        // Garbage closes the channel with the reason; so does the other end closing.
        try a.writeAll([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07])
        guard case .closed(let error?) = worker.receive() else { Issue.record("garbage must close the channel"); return }
        #expect(error.description.contains("magic"))
        a.close()
        var fresh = WorkerControl(fd: b)
        guard case .closed(nil) = fresh.receive() else { Issue.record("end of file must close the channel"); return }
        b.close()
    }
}

/// The uWSGI signal messages: each report and order survives its encoding; targets parse as uWSGI names them.
@Suite struct SignalMessageTests {
    @Test func signalReportsAndOrdersRoundTrip() throws {
        let reports: [WorkerReport] = [.registerSignal(7, .allWorkers), .registerSignal(0, .worker(3)), .registerSignal(255, .anyWorker),
                                       .raiseSignal(9), .addTimer(1, seconds: 5, iterations: 3), .addCron(2, [-1, 3, -1, -2, 0])]
        for report in reports {
            var decoder = ControlDecoder<WorkerReport>()
            decoder.append(ControlFrame.encode(report))
            #expect(try decoder.next() == report)
        }
        var decoder = ControlDecoder<MasterOrder>()
        decoder.append(ControlFrame.encode(MasterOrder.signal(42)))
        #expect(try decoder.next() == .signal(42))
    }

    @Test func targets() {
        #expect(SignalTarget.parse("") == .target(.anyWorker))
        #expect(SignalTarget.parse("worker0") == .target(.anyWorker))
        #expect(SignalTarget.parse("active-workers") == .target(.allWorkers))
        #expect(SignalTarget.parse("worker12") == .target(.worker(12)))
        #expect(SignalTarget.parse("mule2") == .notOffered("mule2"))
        #expect(SignalTarget.parse("spooler") == .notOffered("spooler"))
        #expect(SignalTarget.parse("workerx") == .unknown("workerx"))
    }
}
