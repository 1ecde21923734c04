#if canImport(Glibc)
import Glibc
#endif
import Shared

// zerg: a master and its workers serving a WSGI app over HTTP.
// `zerg --http-socket :8000 --wsgi-file app.py --processes 4`, or the same keys in an ini.

let arguments = Array(CommandLine.arguments)  // copied before any process title rewrite
let environment = Host.environment()
if arguments.dropFirst().first == "--version" {
    print("zerg \(OwnBinary.locate(argv0: arguments[0], environment: environment).versionLine)")
    exit(0)
}

if let idText = environment[WorkerMain.roleVariable], let id = Int(idText) {
    Log.setProgram("zerg worker \(id)")
    exit(WorkerMain.run(id: id, environment: environment))
}

Log.setProgram("zerg")
if arguments.dropFirst().contains("--help") {
    print("""
        usage: zerg --http-socket :8000 --wsgi-file app.py [--processes 4] [options]
               zerg app.ini
        Serves a WSGI app from worker processes that each embed CPython.
        Signals: HUP rolling reload, TERM graceful stop, INT/QUIT immediate stop.
        """)
    exit(0)
}
// After a re-exec onto an upgraded binary (`MasterHandover`): the previous image's
// workers and sockets, and the configuration its reload loaded (not loaded again).
let handover = Master.takeState(environment)
let config: Configuration
let settings: ZergSettings
do {
    if let checked = handover == nil ? nil : Master.takeConfiguration(environment) {
        config = checked
        settings = try ZergSettings(config)
    } else {
        (config, settings) = try ZergSettings.load(arguments: Array(arguments.dropFirst()))
    }
} catch {
    Log.info("configuration error:\n\(error)")
    exit(2)
}
Log.setDateFormat(settings.logDate)
if !settings.logTargets.isEmpty {
    do {
        try Log.configure(settings.logTargets)
    } catch {
        Log.info("cannot open log file: \(error)")
        // Workers depend on this process once it took them over: go on logging where it was.
        if handover == nil { exit(2) }
    }
}
// Located now, before anything changes directory: workers are exec'd from this path.
let binary = OwnBinary.locate(argv0: arguments[0], override: config.string("binary-path"), environment: environment)
// daemonize: this process starts itself again in a session of its own (exec,
// never a fork of this process), logging to the file, and returns at once.
let daemonizedVariable = "HADJANGO_DAEMONIZED"
if let logFile = settings.daemonizeLog, handover == nil, environment[daemonizedVariable] == nil {
    do {
        let log = try FileDescriptor.open(logFile, O_WRONLY | O_CREAT | O_APPEND, mode: 0o640)
        let devNull = try FileDescriptor.open("/dev/null", O_RDWR)
        var env = environment
        env[daemonizedVariable] = "1"
        var spec = ChildProcess.Spec(executable: binary.path, arguments: arguments, environment: env,
                                     fdMap: [(devNull, 0), (log, 1), (log, 2)])
        spec.newSession = true
        spec.deathSignal = 0
        spec.fallbackImage = binary.image
        let pid = try ChildProcess.spawn(spec)
        print("zerg daemonized: pid \(pid), logging to \(logFile)")
        exit(0)
    } catch {
        Log.info("cannot daemonize (\(logFile)): \(error)")
        exit(2)
    }
}
for warning in config.warnings { Log.info("warning: \(warning)") }
if let summary = config.noEffectSummary { Log.info(summary) }
if let summary = config.notOfferedSummary { Log.info(summary) }
if let summary = config.plannedSummary { Log.info(summary) }
if let problem = Preflight.check(settings) {
    Log.info(problem)
    exit(1)
}
if handover == nil { Log.info(DescriptorLimit.raiseAndDescribe()) }  // workers inherit it
var inherited = handover.map(Master.inheritedListeners) ?? []
// Sockets systemd passed (to this process, or to the emperor, which passes them on to a classic
// vassal): a configured address takes the one bound to it.
let activation = SocketActivation.fromEnvironment(environment)
let (emperorsActivation, vassalSockets) = SocketActivation.passedOn(EmperorChannel.inheritedListeners(environment))
for held in vassalSockets { held.fd.close() }  // a vassal's sockets: a zerg binds its own
var listeners: [FileDescriptor] = []
var routerListeners: [FileDescriptor] = []
// `http-socket`/`socket`: the workers'; `http`: the router vassal's (the master keeps copies).
for (address, router) in settings.sockets.map({ ($0.address, false) }) + settings.routerHTTP.map({ ($0, true) }) {
    if let i = inherited.firstIndex(where: { $0.address == address.description }) {
        if router { routerListeners.append(inherited.remove(at: i).fd) } else { listeners.append(inherited.remove(at: i).fd) }
        continue
    }
    if let fd = activation.claim(address) ?? emperorsActivation.claim(address) {
        if router { routerListeners.append(fd) } else { listeners.append(fd) }
        continue
    }
    do {
        let fd = try address.listen(backlog: settings.listenBacklog, deferAcceptSeconds: settings.deferAcceptSeconds)
        if router { routerListeners.append(fd) } else { listeners.append(fd) }
        if case .unix(let path) = address {
            try settings.ownership.apply(toSocket: path)
        } else {
            try fd.setNoDelay()  // inherited by every accepted connection
        }
    } catch {
        Log.info("cannot listen on \(address): \(error.reason)\(error.errno == EADDRINUSE && error.note.isEmpty ? " (another server is using it)" : "")")
        exit(1)
    }
}
activation.closeUnclaimed()
emperorsActivation.closeUnclaimed(quietly: true)
// A master re-exec'd after dropping privileges cannot (and need not) drop them again.
if handover == nil || geteuid() == 0 {
    do {
        try settings.ownership.dropPrivileges()
    } catch {
        Log.info("cannot drop privileges: \(error)")
        exit(1)
    }
}
do {
    for old in inherited { old.fd.close() }
    exit(try Master(configuration: config, settings: settings, arguments: arguments, binary: binary, listeners: listeners,
                    routerListeners: routerListeners, handover: handover).run())
} catch {
    Log.info("cannot start: \(error)")
    exit(1)
}
