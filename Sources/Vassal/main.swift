#if canImport(Glibc)
import Glibc
#endif
import Shared

// vassal: owns a build's port and hands accepted connections to zerg workers.
// `vassal --http :2000 --zerg-server /run/build-a.sock`, or the same keys in an ini.

let arguments = Array(CommandLine.arguments)
Log.setProgram("vassal")
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
let config: Configuration
let settings: VassalSettings
do {
    (config, settings) = try VassalSettings.load(arguments: Array(arguments.dropFirst()))
} catch {
    Log.info("configuration error:\n\(error)")
    exit(2)
}
if let logto = settings.logto {
    do { try Log.redirect(toFile: logto) } catch { Log.info("cannot open log file: \(error)"); exit(2) }
}
for warning in config.warnings { Log.info("warning: \(warning)") }
if let summary = config.noEffectSummary { Log.info(summary) }
if let summary = config.plannedSummary { Log.info(summary) }

do {
    let vassal = try VassalStartup.start(settings: settings, arguments: arguments)
    exit(vassal.run())
} catch let error as VassalStartup.Failure {
    Log.info(error.description)
    exit(1)
} catch {
    Log.info("cannot start: \(error)")
    exit(1)
}
