/// Master → worker, on the control channel.
public enum MasterOrder: ControlMessage {
    /// SIGTSTP on the master: take no new connections until `resume`.
    case pause
    case resume
    /// The whole zerg stops: finish what is in flight, close idle connections, exit.
    case stop
    /// This worker leaves while the others go on (reload, recycling, cheaper):
    /// idle keep-alive connections go to the ready pool instead of closing.
    case retire
    /// touch-logreopen: open the log file again.
    case reopenLog

    public var kind: UInt8 {
        switch self {
        case .pause: return 0x01
        case .resume: return 0x02
        case .stop: return 0x03
        case .retire: return 0x04
        case .reopenLog: return 0x05
        }
    }

    public func payload() -> [UInt8] { [] }

    public static func decode(kind: UInt8, payload: ControlReader) throws(ControlError) -> MasterOrder {
        let order: MasterOrder
        switch kind {
        case 0x01: order = .pause
        case 0x02: order = .resume
        case 0x03: order = .stop
        case 0x04: order = .retire
        case 0x05: order = .reopenLog
        default: throw ControlError("unknown order 0x\(String(kind, radix: 16))")
        }
        try payload.end("\(order)")
        return order
    }
}
