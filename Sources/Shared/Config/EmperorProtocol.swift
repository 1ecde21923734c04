/// The single-byte emperor ⇄ instance protocol on the control channel
/// (uWSGI's, so its vassals interoperate). The instance finds its end of the
/// channel in `UWSGI_EMPEROR_FD`.
public enum EmperorProtocol {
    public static let environmentVariable = "UWSGI_EMPEROR_FD"

    /// Emperor → instance.
    public enum Command: UInt8, Sendable {
        /// Stop now (uWSGI: brutal shutdown).
        case stop = 0
        /// Graceful reload (uWSGI re-execs itself and re-reads its config).
        case reload = 1
        /// Graceful stop: finish in-flight work, then exit.
        case gracefulStop = 2
    }

    /// Instance → emperor.
    public enum Report: UInt8, Sendable {
        /// Started and configured (uWSGI: master ready).
        case ready = 1
        /// uWSGI 2.1: asks for its config blob; ignored here (configs are files).
        case configRequest = 2
        /// Serving: workers accept connections.
        case accepting = 5
        /// Completed a request (uWSGI: loyal).
        case loyal = 17
        /// Wants to stop (uWSGI die-on-idle).
        case voluntaryShutdown = 22
        case heartbeat = 26
        /// uWSGI broodlord: asks for reinforcements (unsupported; logged).
        case sos = 30
    }
}
