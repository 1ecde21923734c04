#if canImport(Glibc)
import Glibc
#endif
import Shared

// vassal: owns a build's port and hands accepted connections to zerg workers.
// `vassal --http :2000 --zerg-server /run/build-a.sock`, or the same keys in an ini.

let arguments = Array(CommandLine.arguments)
Log.setProgram("vassal")
if arguments.dropFirst().first == "--version" {
    print("vassal \(OwnBinary.locate(argv0: arguments[0], environment: Host.environment()).versionLine)")
    exit(0)
}
if arguments.dropFirst().contains("--help") {
    print("""
        usage: vassal --http :2000 --zerg-server /run/a.sock [options]
               vassal vassal.ini
        Accepts clients on the build's port, reads each request head, and hands
        the connection to a free zerg worker attached to the zerg-server socket.
        Signals: HUP reload (re-exec, every connection kept), TERM graceful stop,
        INT/QUIT immediate stop, USR1 status line.
        """)
    exit(0)
}
let environment = Host.environment()
// A reload's configuration check: load, answer, exit (see ConfigCheck).
if let fd = environment[ConfigCheck.resultVariable].flatMap(Int32.init) {
    exit(ConfigCheck.runChild(fd: fd, arguments: arguments))
}
let config: Configuration
let settings: VassalSettings
do {
    // After a reload the configuration was loaded (and checked) once already.
    if let checked = ConfigCheck.takeConfiguration(environment) {
        config = checked
        settings = try VassalSettings(config)
    } else {
        (config, settings) = try VassalSettings.load(arguments: Array(arguments.dropFirst()))
    }
} catch {
    Log.info("configuration error:\n\(error)")
    exit(2)
}
Log.setDateFormat(settings.logDate)
do { try Log.configure(settings.logTargets) } catch { Log.info("cannot open log file: \(error)"); exit(2) }
// Located now: a reload re-execs this path (an upgraded file is picked up), or the running image.
let binary = OwnBinary.locate(argv0: arguments[0], override: config.string("binary-path"), environment: environment)
for warning in config.warnings { Log.info("warning: \(warning)") }
if let summary = config.noEffectSummary { Log.info(summary) }
if let summary = config.notOfferedSummary { Log.info(summary) }
if let summary = config.plannedSummary { Log.info(summary) }

do {
    let vassal = try VassalStartup.start(settings: settings, arguments: arguments, binary: binary)
    exit(vassal.run())
} catch let error as VassalStartup.Failure {
    Log.info(error.description)
    exit(1)
} catch {
    Log.info("cannot start: \(error)")
    exit(1)
}
