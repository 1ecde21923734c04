#if canImport(Glibc)
import Glibc
#endif

extension FileDescriptor {
    /// The columns of the terminal this fd is (0 when the terminal does not
    /// say), nil when it is not a terminal (a pipe, a file).
    public func terminalColumns() -> Int? {
        var size = winsize()
        guard (try? Syscall.call("ioctl", "TIOCGWINSZ") { ioctl(rawValue, UInt(TIOCGWINSZ), &size) }) != nil else { return nil }
        return Int(size.ws_col)
    }
}
