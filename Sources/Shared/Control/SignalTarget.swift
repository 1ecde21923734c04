/// Who runs the handler of a uWSGI signal (`uwsgi.register_signal(num, who,
/// handler)`), as the master routes it. uWSGI's names: `worker`/`worker0`/""
/// (the first available worker), `workerN`, `workers`, `active-workers`.
/// Mules, spoolers and farms are not offered: their names parse as
/// `notOffered`, which the worker reports and runs as `worker`.
public enum SignalTarget: Equatable, Sendable, CustomStringConvertible {
    /// One worker: an idle one if any.
    case anyWorker
    /// Every worker (`workers`, and `active-workers`: a cheaped slot runs no process).
    case allWorkers
    /// The worker with this id (`workerN`, N ≥ 1).
    case worker(Int)

    public enum Parsed: Equatable, Sendable {
        case target(SignalTarget)
        /// `mule…`, `spooler`, `farm…`: targets of what this server does not run.
        case notOffered(String)
        case unknown(String)
    }

    public static func parse(_ text: String) -> Parsed {
        switch text {
        case "", "worker", "worker0": return .target(.anyWorker)
        case "workers", "active-workers": return .target(.allWorkers)
        default:
            if text.hasPrefix("worker"), let n = Int(text.dropFirst(6)), n > 0 { return .target(.worker(n)) }
            if ["mule", "spooler", "farm"].contains(where: { text.hasPrefix($0) }) { return .notOffered(text) }
            return .unknown(text)
        }
    }

    /// The name `parse` reads back.
    public var description: String {
        switch self {
        case .anyWorker: return "worker"
        case .allWorkers: return "workers"
        case .worker(let n): return "worker\(n)"
        }
    }
}
