#if canImport(Glibc)
import Glibc
#endif

/// An instance's tie to its emperor, surviving the emperor: the control
/// channel it was started with and, when the emperor named a run directory,
/// an **adoption socket** there (`<run-dir>/<hash of the config path>.sock`).
/// When the channel ends (the emperor was killed), the instance keeps serving
/// and waits `emperor-lost-grace` seconds; an emperor started again over the
/// same configs connects to the adoption socket and becomes its emperor (the
/// instance then reports ready, and a vassal hands over its listeners again).
/// Past the grace, the instance stops gracefully.
public final class EmperorLink {
    /// The current channel (nil while the emperor is gone).
    public private(set) var channel: EmperorChannel?
    /// Listening for a new emperor (nil when the emperor gave no run directory).
    public let adoption: FileDescriptor?
    let adoptionPath: String?
    let graceSeconds: Int
    /// Since when the instance is without an emperor (monotonic ns).
    public private(set) var lostSinceNs: UInt64?
    /// The channel's registration in the owner's loop.
    private var channelToken: EventToken?

    public static let runDirectoryVariable = "HADJANGO_EMPEROR_RUN_DIR"
    public static let configVariable = "HADJANGO_EMPEROR_CONFIG"
    public static let graceVariable = "HADJANGO_EMPEROR_LOST_GRACE"
    /// Across a re-exec of the instance: the adoption socket, still listening
    /// (re-binding it would leave a moment with none, when a new emperor
    /// would start a duplicate).
    public static let adoptionFdVariable = "HADJANGO_EMPEROR_ADOPTION_FD"
    /// What ties a process to its emperor, in its environment: none of it may
    /// reach a process the instance starts itself (it would answer the emperor too).
    public static let variables = ["UWSGI_EMPEROR_FD", "UWSGI_EMPEROR_FD_CONFIG", runDirectoryVariable, configVariable, graceVariable,
                                   adoptionFdVariable, EmperorProtocol.listenersVariable]
    public static let defaultGraceSeconds = 60

    /// The adoption socket of the instance that runs `config` under `runDirectory`.
    public static func adoptionPath(runDirectory: String, config: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: short, stable names within sun_path
        for byte in config.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return FileSystem.joined(runDirectory, "instance-" + String(repeating: "0", count: 16 - hex.count) + hex + ".sock")
    }

    /// From the environment an emperor started this process with; nil without an emperor.
    /// With a run directory the adoption socket is created now (a stale one replaced).
    public static func fromEnvironment(_ environment: [String: String]) -> EmperorLink? {
        let channel = EmperorChannel.fromEnvironment(environment)
        // A vassal re-exec'd while it had no emperor has a run directory and no channel.
        guard channel != nil || environment[runDirectoryVariable] != nil else { return nil }
        var adoption: FileDescriptor?
        var path: String?
        if let dir = environment[runDirectoryVariable], let config = environment[configVariable] {
            let p = adoptionPath(runDirectory: dir, config: config)
            let kept = environment[adoptionFdVariable].flatMap(Int32.init).flatMap { try? FileDescriptor.inherited($0, what: adoptionFdVariable) }
            Host.unsetEnvironment(adoptionFdVariable)
            if let kept {
                adoption = kept
                path = p
            } else { do {
                try FileSystem.makeDirectories(dir)
                adoption = try FileDescriptor.listen(on: .unix(path: p), backlog: 4, name: p)
                path = p
            } catch {
                Log.info("no adoption socket (\(error)): if the emperor dies, this instance stops after the grace")
            } }
        }
        // The variables stay: a vassal's re-exec reads them again.
        let grace = environment[graceVariable].flatMap(Int.init) ?? defaultGraceSeconds
        return EmperorLink(channel: channel, adoption: adoption, adoptionPath: path, graceSeconds: grace)
    }

    init(channel: EmperorChannel?, adoption: FileDescriptor?, adoptionPath: String?, graceSeconds: Int) {
        self.channel = channel
        self.adoption = adoption
        self.adoptionPath = adoptionPath
        self.graceSeconds = graceSeconds
        if channel == nil { lostSinceNs = Host.monotonicNanoseconds() }
    }

    /// Before a re-exec: the channel and the adoption socket, named in the
    /// environment for the next image; the fds to keep across the exec.
    public func prepareForExec() -> [FileDescriptor] {
        var keep: [FileDescriptor] = []
        if let fd = channel?.fd {
            Host.setEnvironment(EmperorProtocol.environmentVariable, String(fd.rawValue))
            keep.append(fd)
        } else {
            Host.unsetEnvironment(EmperorProtocol.environmentVariable)
        }
        if let adoption {
            Host.setEnvironment(Self.adoptionFdVariable, String(adoption.rawValue))
            keep.append(adoption)
        }
        return keep
    }

    public func tell(_ report: EmperorProtocol.Report) { channel?.tell(report) }

    public func tell(listeners: [(address: String, fd: FileDescriptor)]) { channel?.tell(listeners: listeners) }

    /// Registers the channel and the adoption socket in the owner's loop.
    public func register<Source>(in sources: EventSources<Source>, channel event: Source, adoption adoptionEvent: Source) throws {
        if let channel { channelToken = try sources.add(channel.fd, event) }
        if let adoption { try sources.add(adoption, adoptionEvent) }
    }

    private func dropChannel<Source>(from sources: EventSources<Source>) {
        guard let channel else { return }
        if let token = channelToken { sources.remove(channel.fd, token) }
        channelToken = nil
        channel.fd.close()
        self.channel = nil
    }

    /// The channel had something: commands, or its end.
    public func handleChannel<Source>(in sources: EventSources<Source>, stop: (_ graceful: Bool) -> Void, reload: () -> Void) {
        guard let channel else { return }
        switch channel.receive() {
        case .lost:
            dropChannel(from: sources)
            if adoption == nil {
                Log.info("lost the emperor; stopping now")
                stop(false)
            } else {
                lostSinceNs = Host.monotonicNanoseconds()
                Log.info("lost the emperor; serving on, and waiting \(graceSeconds) s for a new one (emperor-lost-grace)")
            }
        case .commands(let commands):
            for command in commands {
                switch command {
                case .stop: stop(false)
                case .gracefulStop: stop(true)
                case .reload: reload()
                }
            }
        }
    }

    /// A new emperor connected to the adoption socket: it becomes this
    /// instance's emperor, its channel registered as `event`. False when
    /// nothing was waiting.
    public func adopt<Source>(in sources: EventSources<Source>, as event: Source) -> Bool {
        guard let adoption, case .completed(let accepted)? = try? adoption.accept() else { return false }
        if channel != nil {
            // A second emperor over the same configs: the newest one wins.
            Log.info("a new emperor took over from the one still connected")
            dropChannel(from: sources)
        }
        let fresh = EmperorChannel(fd: accepted.fd)
        channel = fresh
        channelToken = try? sources.add(fresh.fd, event)
        if let since = lostSinceNs {
            Log.info("adopted by a new emperor after \((Host.monotonicNanoseconds() - since) / 1_000_000) ms without one")
        }
        lostSinceNs = nil
        return true
    }

    /// True once the instance has been without an emperor past the grace.
    public func graceExpired(nowNs: UInt64) -> Bool {
        guard let since = lostSinceNs else { return false }
        return nowNs - since > UInt64(graceSeconds) * 1_000_000_000
    }

    /// The adoption socket's file goes with the instance.
    public func removeAdoptionSocket() {
        if let adoptionPath { FileSystem.unlink(adoptionPath) }
    }
}
