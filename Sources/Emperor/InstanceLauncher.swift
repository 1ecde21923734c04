#if canImport(Glibc)
import Glibc
#endif
import Shared

/// Turns a config into a running process: picks the program, builds argv and
/// the environment, hands over the control channel as fd 3.
struct InstanceLauncher {
    let settings: EmperorSettings
    let workingDirectory: String
    let baseEnvironment: [String: String]

    static let controlFdInChild: Int32 = 3

    init(settings: EmperorSettings, workingDirectory: String, environment: [String: String]) {
        self.settings = settings
        self.workingDirectory = workingDirectory
        // uWSGI's rules: no inherited emperor channel or reload counter, and
        // UWSGI_VASSAL_X=v becomes UWSGI_X=v for instances only.
        var env = environment
        for key in EmperorLink.variables + ["UWSGI_RELOADS"] + SystemdNotify.childHidden { env[key] = nil }
        for (key, value) in environment where key.hasPrefix("UWSGI_VASSAL_") {
            env[key] = nil
            env["UWSGI_" + key.dropFirst("UWSGI_VASSAL_".count)] = value
        }
        baseEnvironment = env
    }

    /// A config's name made absolute (the same for every emperor started from the same directory).
    func absolute(_ name: String) -> String { name.hasPrefix("/") ? name : FileSystem.joined(workingDirectory, name) }

    /// Where the instance running `name` listens for an emperor to adopt it.
    func adoptionPath(for name: String) -> String {
        EmperorLink.adoptionPath(runDirectory: settings.runDirectory, config: absolute(name))
    }

    func executable(for kind: InstanceKind?) -> String? {
        if let wrapper = settings.wrapper { return wrapper }
        guard let kind else { return nil }
        return FileSystem.joined(settings.binaryDirectory, kind.rawValue)
    }

    /// Starts the instance; returns its pid and the emperor's end of the control channel.
    func launch(config name: String, kind: InstanceKind?, stdio: FileDescriptor,
                listeners: [(address: String, fd: FileDescriptor)] = []) throws -> (pid_t, FileDescriptor) {
        guard let program = executable(for: kind) else {
            throw SystemError("execve", "no program for \(name)", errno: ENOEXEC)
        }
        let (mine, theirs) = try FileDescriptor.socketPair()
        defer { theirs.close() }
        let devNull = try FileDescriptor.open("/dev/null", O_RDONLY)
        defer { devNull.close() }
        var argv = [program]
        for assignment in settings.vassalSet { argv += ["--set", assignment] }
        argv += ["--ini", name]
        var env = baseEnvironment
        env[EmperorProtocol.environmentVariable] = String(Self.controlFdInChild)
        // Instances outlive a killed emperor and wait to be adopted (EmperorLink).
        env[EmperorLink.runDirectoryVariable] = settings.runDirectory
        env[EmperorLink.configVariable] = absolute(name)
        env[EmperorLink.graceVariable] = String(settings.lostGraceSeconds)
        var map: [(FileDescriptor, Int32)] = [(devNull, 0), (stdio, 1), (stdio, 2), (theirs, Self.controlFdInChild)]
        var named: [String] = []
        for (i, held) in listeners.enumerated() {
            let target = Self.controlFdInChild + 1 + Int32(i)
            map.append((held.fd, target))
            named.append("\(target)=\(held.address)")
        }
        if !named.isEmpty { env[EmperorProtocol.listenersVariable] = named.joined(separator: "\u{1F}") }
        var spec = ChildProcess.Spec(
            executable: program, arguments: argv, environment: env, workingDirectory: workingDirectory, fdMap: map)
        spec.deathSignal = 0
        do {
            let pid = try ChildProcess.spawn(spec)
            try mine.setNonBlocking()
            return (pid, mine)
        } catch {
            mine.close()
            throw error
        }
    }
}
