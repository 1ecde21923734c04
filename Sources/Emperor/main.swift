#if canImport(Glibc)
import Glibc
#endif
import Shared

// emperor: watches instance configs and keeps one process running per config.
// Accepts uWSGI's command line (`--emperor GLOB`, `--master --thunder-lock ...`)
// and ini files (`emperor = ...` lines).

Log.setProgram("emperor")
let arguments = Array(CommandLine.arguments.dropFirst())

if arguments.contains("--help") || arguments.contains("-h") {
    print("""
        usage: emperor --emperor 'deploy/builds/[a-z]*/vassal.ini' [--emperor GLOB|DIR ...] [options]
               emperor emperor.ini
        Starts one vassal or zerg per config the globs match, reloads it when the
        config changes, stops it when the config goes. Options: docs/options.md.
        Signals: HUP reload all, TERM graceful stop, INT/QUIT fast stop, USR1 list.
        --show-config FILE   print FILE's options after every substitution pass
        --options-markdown   print the option reference (docs/options.md)
        """)
    exit(0)
}
if arguments.contains("--version") {
    print("emperor \(OwnBinary.locate(argv0: arguments[0], environment: Host.environment()).versionLine)")
    exit(0)
}
if arguments.contains("--options-markdown") {
    print(OptionReference.markdown(), terminator: "")
    exit(0)
}

// `emperor --show-config FILE.ini[:section] [--more options]`: the options as an
// instance will see them after every pass (uWSGI's --show-config), then exit.
if arguments.first == "--show-config" {
    do {
        let shown = try ConfigLoader(role: .all).load(arguments: Array(arguments.dropFirst()))
        for warning in shown.warnings { Log.info("warning: \(warning)") }
        print("[uwsgi]")
        for entry in shown.entries { print("\(entry.key) = \(entry.value)") }
        exit(0)
    } catch {
        Log.info("configuration error:\n\(error)")
        exit(2)
    }
}

let config: Configuration
do {
    config = try ConfigLoader(role: .emperor).load(arguments: arguments)
} catch {
    Log.info("configuration error:\n\(error)")
    exit(2)
}
let settings: EmperorSettings
do {
    settings = try EmperorSettings(config)
} catch {
    Log.info("configuration error:\n\(error)")
    exit(2)
}
Log.setDateFormat(settings.logDate)
do { try Log.configure(settings.logTargets) } catch { Log.info("cannot open logto file: \(error)"); exit(2) }
for warning in config.warnings { Log.info("warning: \(warning)") }
if let summary = config.noEffectSummary { Log.info(summary) }
if let summary = config.notOfferedSummary { Log.info(summary) }
guard !settings.patterns.isEmpty else {
    Log.info("nothing to watch: give at least one `--emperor GLOB` (or `emperor = GLOB` in an ini file)")
    exit(2)
}

do {
    let binary = OwnBinary.locate(argv0: CommandLine.arguments[0], environment: Host.environment())
    let emperor = try Emperor(settings: settings, binary: binary, arguments: CommandLine.arguments)
    exit(emperor.run())
} catch {
    Log.info("cannot start: \(error)")
    exit(1)
}
