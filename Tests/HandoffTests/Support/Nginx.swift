import Foundation
@testable import Shared

/// Debian's nginx, started for a test with a config in the test's directory
/// (pid file and error log there too); `stop()` ends it.
final class Nginx {
    let dir: TestDirectory
    private(set) var started = false
    static var isInstalled: Bool { FileSystem.exists("/usr/sbin/nginx") }

    init(dir: TestDirectory) { self.dir = dir }

    /// What every config needs, to be placed first: the pid file, the error log, temp paths in `dir`.
    var preamble: String {
        """
        worker_processes 1;
        pid \(dir.path)/nginx.pid;
        error_log \(dir.path)/nginx-error.log;
        events { worker_connections 512; }
        """
    }

    var conf: String { dir.file("nginx.conf") }
    var errorLog: String { (try? String(contentsOfFile: dir.file("nginx-error.log"), encoding: .utf8)) ?? "" }

    /// nginx daemonizes: started with our own spawn and waitpid (Foundation's Process
    /// waits on descriptors the daemon keeps open, and so never returns).
    func start() throws {
        let devNull = try FileDescriptor.open("/dev/null", O_RDWR)
        defer { devNull.close() }
        var spec = ChildProcess.Spec(executable: "/usr/sbin/nginx", arguments: ["nginx", "-p", dir.path, "-c", conf],
                                     environment: [:], fdMap: [(devNull, 0), (devNull, 1), (devNull, 2)])
        spec.deathSignal = 0
        spec.newProcessGroup = true
        let pid = try ChildProcess.spawn(spec)
        guard ChildProcess.wait(pid) == .exited(0) else { throw TestFailure("nginx did not start: \(errorLog)") }
        started = true
    }

    func stop() {
        guard started, let pid = (try? String(contentsOfFile: dir.file("nginx.pid"), encoding: .utf8))
            .flatMap({ Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else { return }
        kill(pid, SIGQUIT)
        _ = waitUntil(5) { kill(pid, 0) != 0 }
        kill(pid, SIGKILL)
        started = false
    }
}
