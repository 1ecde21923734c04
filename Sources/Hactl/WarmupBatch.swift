#if canImport(Glibc)
import Glibc
#endif
import Shared

/// Several GETs at once (the seed's warm-up sends concurrent requests): one
/// non-blocking connection each, all read until the server closes.
enum WarmupBatch {
    static func run(port: Int, paths: [String], timeoutMs: Int32 = 30_000) -> [(String, Int, Double)] {
        struct Pending {
            let path: String
            let fd: FileDescriptor?
            var data: [UInt8] = []
            var done = false
            let start = Host.monotonicNanoseconds()
            var ms = 0.0
        }
        var pending: [Pending] = paths.map { path in
            let fd = try? FileDescriptor.connect(host: "127.0.0.1", port: port)
            if let fd {
                try? fd.writeAll("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nUser-Agent: hactl-warmup\r\n\r\n")
                try? fd.setNonBlocking()
            }
            return Pending(path: path, fd: fd, done: fd == nil)
        }
        let deadline = Host.monotonicNanoseconds() + UInt64(timeoutMs) * 1_000_000
        while pending.contains(where: { !$0.done }) && Host.monotonicNanoseconds() < deadline {
            let readable = (try? FileDescriptor.waitReadable(pending.map { $0.done ? nil : $0.fd }, timeoutMs: 100))
                ?? [Bool](repeating: false, count: pending.count)
            for i in pending.indices where !pending[i].done && readable[i] {
                var finished = false
                switch try? pending[i].fd!.readAvailable(max: 65536) {
                case .wouldBlock?: break
                case .completed(let chunk)? where !chunk.isEmpty: pending[i].data += chunk
                default: finished = true  // end of file or an error
                }
                if finished {
                    pending[i].done = true
                    pending[i].ms = Double(Host.monotonicNanoseconds() - pending[i].start) / 1e6
                }
            }
        }
        return pending.map { p in
            p.fd?.close()
            let line = String(decoding: p.data.prefix(64), as: UTF8.self)
            let status = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return (p.path, p.done ? status : 0, p.ms)
        }
    }
}
