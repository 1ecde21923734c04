#if canImport(Glibc)
import Glibc
#endif
import Shared

/// A reload loads the new configuration first, in a child process of this
/// binary, while the vassal goes on serving (`@(exec://)` may take seconds).
/// The child writes the loaded entries, or its errors, to a pipe; on success
/// the vassal re-execs with those entries in a memfd and the new image uses
/// them instead of loading again (one load per reload); on failure the
/// running vassal keeps everything, with one log line naming file:line.
enum ConfigCheck {
    /// Child mode: the fd the result goes to.
    static let resultVariable = "HADJANGO_VASSAL_CHECK"
    /// The new image: a memfd with the entries the check loaded.
    static let configVariable = "HADJANGO_VASSAL_CONFIG"
    /// A check still running after this is killed, and the reload refused.
    static let limitSeconds: UInt64 = 60

    enum Result {
        case loaded([ConfigEntry])
        case refused(String)
    }

    /// The child: loads the configuration from `arguments`, writes the result to `fd`.
    static func runChild(fd raw: Int32, arguments: [String]) -> Int32 {
        guard let out = try? FileDescriptor.inherited(raw, what: resultVariable) else { return 2 }
        let bytes: [UInt8]
        do {
            let (config, _) = try VassalSettings.load(arguments: Array(arguments.dropFirst()))
            bytes = [0] + ControlFrame.encode(MasterOrder.configure(config.entries))
        } catch {
            bytes = [1] + Array(error.description.utf8)
        }
        do {
            try out.writeAll(bytes)
            return 0
        } catch {
            return 1
        }
    }

    /// What a finished child wrote.
    static func decode(_ bytes: [UInt8]) -> Result {
        guard let first = bytes.first else { return .refused("the configuration check ended without an answer") }
        if first == 1 { return .refused(String(decoding: bytes.dropFirst(), as: UTF8.self)) }
        var decoder = ControlDecoder<MasterOrder>()
        decoder.append(Array(bytes.dropFirst()))
        guard first == 0, case .configure(let entries)? = try? decoder.next() else {
            return .refused("the configuration check answered something unreadable")
        }
        return .loaded(entries)
    }

    /// The new image: the entries its predecessor checked, if it left them (the variable is then cleared).
    static func takeConfiguration(_ environment: [String: String]) -> Configuration? {
        guard let bytes = SharedMemory.takeAnonymousFile(named: configVariable, from: environment),
              case .loaded(let entries) = decode(bytes) else { return nil }
        return Configuration(entries: entries, warnings: [])
    }
}

/// A configuration check under way.
final class PendingCheck {
    let pid: pid_t
    let pipe: FileDescriptor
    var token: EventToken?
    var bytes: [UInt8] = []
    let startedNs = Host.monotonicNanoseconds()

    init(pid: pid_t, pipe: FileDescriptor) {
        self.pid = pid
        self.pipe = pipe
    }
}
