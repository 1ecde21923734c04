/// The single-byte emperor ⇄ instance protocol on the control channel
/// (uWSGI's, so its vassals interoperate). The instance finds its end of the
/// channel in `UWSGI_EMPEROR_FD`.
public enum EmperorProtocol {
    public static let environmentVariable = "UWSGI_EMPEROR_FD"
    /// Ours: the listening sockets the emperor hands a vassal it starts again
    /// (`fd=address` items separated by U+001F).
    public static let listenersVariable = "HADJANGO_EMPEROR_LISTENERS"

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
        /// Ours: a vassal's listening sockets, sent as SCM_RIGHTS with this
        /// byte, then a u16 LE length and the addresses (one per line, in fd
        /// order). The emperor keeps copies, so a vassal that dies is started
        /// again on the same sockets and no connection is refused meanwhile.
        case listeners = 40
        /// Ours: no worker can start (the app does not load; it retries with
        /// backoff). The emperor counts the instance as failing, not starting,
        /// until it says `ready`: systemd hears READY=1 ("serves or has failed").
        case appFailing = 41
    }
}
