#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// Signals delivered as readable events on a signalfd instead of handlers, so
/// the event loop handles them in order with everything else.
public struct SignalChannel {
    public let fd: FileDescriptor

    /// Blocks `signals` for this thread and the threads it starts, and opens the signalfd.
    public init(_ signals: [Int32]) throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        for sig in signals { sigaddset(&set, sig) }
        let rc = pthread_sigmask(SIG_BLOCK, &set, nil)
        if rc != 0 { throw SystemError("pthread_sigmask", errno: rc) }
        fd = FileDescriptor(rawValue: try Syscall.call("signalfd") { cs_signalfd(&set) })
    }

    /// The next pending signal, nil when none.
    public func next() throws(SystemError) -> Int32? {
        try Syscall.nonBlocking("read", "signalfd") { cs_signalfd_read(fd.rawValue) }.value
    }

    /// SIGPIPE ignored: a peer that closes must never kill the process.
    public static func ignoreBrokenPipe() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// `signals` back to their default action, and unblocked: a program that
    /// must stop on Ctrl-C even when its parent left them ignored or blocked
    /// (both are inherited across exec).
    public static func restoreDefaults(_ signals: [Int32]) {
        var set = sigset_t()
        sigemptyset(&set)
        for sig in signals {
            signal(sig, SIG_DFL)
            sigaddset(&set, sig)
        }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    public static func name(_ sig: Int32) -> String {
        switch sig {
        case SIGHUP: return "SIGHUP"
        case SIGINT: return "SIGINT"
        case SIGQUIT: return "SIGQUIT"
        case SIGKILL: return "SIGKILL"
        case SIGTERM: return "SIGTERM"
        case SIGUSR1: return "SIGUSR1"
        case SIGUSR2: return "SIGUSR2"
        case SIGCHLD: return "SIGCHLD"
        case SIGSEGV: return "SIGSEGV"
        case SIGABRT: return "SIGABRT"
        case SIGBUS: return "SIGBUS"
        case SIGURG: return "SIGURG"
        case SIGWINCH: return "SIGWINCH"
        case SIGTSTP: return "SIGTSTP"
        case SIGPIPE: return "SIGPIPE"
        default: return "signal \(sig)"
        }
    }
}
