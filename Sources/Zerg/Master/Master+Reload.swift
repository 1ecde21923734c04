import Shared
import ZergCore

/// A reload loads the configuration again, here and only here (`@(exec://)`
/// runs once per load), checks it while the running workers go on serving,
/// and applies every setting that changed; each new worker gets it over its
/// control channel. A configuration that does not load, or that asks for
/// other sockets, is refused with its reasons and the running one keeps
/// serving: a reload never takes the zerg down.
extension Master {
    /// Loads and applies the configuration; false (with the reasons logged) when it was refused.
    func reloadConfiguration() -> Bool {
        let loaded: (Configuration, ZergSettings)
        do {
            loaded = try ZergSettings.load(arguments: Array(arguments.dropFirst()))
        } catch {
            Log.info("reload refused: the configuration has errors; the running one keeps serving:\n\(error)")
            return false
        }
        let (config, fresh) = loaded
        if let problem = socketChange(to: fresh) {
            Log.info("reload refused: \(problem); the running configuration keeps serving (restart the zerg to apply it)")
            return false
        }
        if let problem = Preflight.check(fresh) {
            Log.info("reload refused: \(problem); the running configuration keeps serving")
            return false
        }
        for warning in config.warnings { Log.info("warning: \(warning)") }
        apply(fresh, configuration: config)
        return true
    }

    /// What would need other sockets than the ones this master holds.
    func socketChange(to fresh: ZergSettings) -> String? {
        if fresh.sockets != settings.sockets {
            let was = settings.sockets.map(\.description).joined(separator: ", ")
            let now = fresh.sockets.map(\.description).joined(separator: ", ")
            return "`http-socket`/`socket` changed (\(was.isEmpty ? "none" : was) → \(now.isEmpty ? "none" : now))"
        }
        if fresh.routerHTTP != settings.routerHTTP {
            return "`http` changed (\(settings.routerHTTP.map(\.description).joined(separator: ", ")) → \(fresh.routerHTTP.map(\.description).joined(separator: ", ")))"
        }
        if listeners.isEmpty && router == nil && fresh.zergServers.first != settings.zergServers.first {
            return "`zerg` changed (\(settings.zergServers.first ?? "none") → \(fresh.zergServers.first ?? "none"))"
        }
        return nil
    }

    /// Makes `fresh` the running configuration: what the master does itself
    /// changes now; the workers get it as they are replaced.
    func apply(_ fresh: ZergSettings, configuration config: Configuration) {
        let old = settings
        settings = fresh
        configuration = config
        var changed: [String] = []
        if fresh.workers != old.workers { changed.append("workers \(old.workers) → \(fresh.workers)") }
        if fresh.logTargets != old.logTargets {
            if let path = fresh.logFile, old.logFile != nil {
                do {
                    try Log.reopen(path)
                    changed.append("log → \(path)")
                } catch {
                    Log.info("cannot open log file \(path): \(error); logging goes on where it was")
                }
            } else {
                Log.info("`logto`/`logger` changed (\(fresh.logTargets.map(\.description).joined(separator: ", "))): from one file to several targets or syslog, or back, takes a restart of the zerg; logging goes on where it was")
            }
        } else if fresh.logReopen {
            reopenLogs()  // `log-reopen`: at every reload
        }
        Log.setDateFormat(fresh.logDate)
        if fresh.stats != old.stats || fresh.statsHTTP != old.statsHTTP {
            stats?.close()
            stats = nil
            if let address = fresh.stats {
                do {
                    stats = try StatsServer(address: address, http: fresh.statsHTTP, sources: sources, as: Event.stats)
                } catch {
                    Log.info("stats \(address): \(error); no stats server")
                }
            }
            changed.append("stats → \(fresh.stats?.description ?? "none")")
        }
        let touchFiles = { (s: ZergSettings) in s.lifecycle.touchReload + s.lifecycle.touchWorkersReload + s.lifecycle.touchLogReopen }
        if touchFiles(fresh) != touchFiles(old) {
            do { try watchTouchFiles() } catch { Log.info("touch files: \(error)") }
        }
        if fresh.cheaper != old.cheaper {
            cheaper = fresh.cheaper.map { Cheaper($0, nowS: Self.nowSeconds()) }
            // A new adaptive count starts from what runs; it retires idle workers itself.
            cheapedSlots = cheaper == nil ? [] : cheapedSlots.filter { $0 <= fresh.workers }
            changed.append(fresh.cheaper == nil ? "cheaper off" : "cheaper \(fresh.cheaper!.algorithm.rawValue)")
        }
        cheapedSlots = cheapedSlots.filter { $0 <= fresh.workers }
        if !sharedArea.matches(locks: fresh.locks, caches: fresh.caches) {
            // Workers started from here map the new area; the old one lives until its last worker ends.
            do {
                let area = try SharedArea.create(locks: fresh.locks, caches: fresh.caches)
                sharedArea.memory.release()
                sharedArea = area
                changed.append("locks and caches laid out anew (empty)")
            } catch {
                Log.info("cannot lay out the new locks and caches: \(error); workers keep the running ones")
            }
        }
        if let title = fresh.title(explicit: fresh.procnameMaster, automatic: "zerg master"),
           title != old.title(explicit: old.procnameMaster, automatic: "zerg master") { ProcessTitle.set(title) }
        if let pidfile = fresh.pidfile, pidfile != old.pidfile { try? FileSystem.writeFileAtomically(pidfile, "\(Host.pid)\n") }
        scheduleChecks()
        Log.info("configuration reloaded\(changed.isEmpty ? "" : ": " + changed.joined(separator: ", "))")
    }

    /// touch-reload, touch-workers-reload and touch-logreopen, watched through inotify.
    func watchTouchFiles() throws {
        if let touches, let token = touchToken { sources.remove(touches.fd, token) }
        touches?.fd.close()
        touches = nil
        touchToken = nil
        let life = settings.lifecycle
        let files = life.touchReload.map { ($0, TouchAction.reload) } + life.touchWorkersReload.map { ($0, TouchAction.workersReload) }
            + life.touchLogReopen.map { ($0, TouchAction.logReopen) }
        guard !files.isEmpty else { return }
        let watcher = try TouchWatcher(files)
        touches = watcher
        touchToken = try sources.add(watcher.fd, .touch)
    }

    /// The 250 ms check (harakiri, lifetimes, evil-reload-on-*) and the
    /// once-a-second cheaper decision, from the first time either is needed.
    func scheduleChecks() {
        let life = settings.lifecycle
        if !checking && (life.harakiriSeconds > 0 || life.maxLifetimeSeconds > 0 || life.evilReloadOnRSS > 0 || life.evilReloadOnAS > 0) {
            checking = true
            timers.schedule(afterMs: 250, .check)
        }
        if !cheaperScheduled && cheaper != nil {
            cheaperScheduled = true
            timers.schedule(afterMs: 1000, .cheaper)
        }
    }
}
