#if canImport(Glibc)
import Glibc
#endif
import EmperorCore
import Shared

extension Emperor {
    /// Compares what the globs match now with what runs: starts new configs,
    /// reloads changed ones, stops removed ones, and re-aims the inotify watches.
    func scan() {
        var result = scanner.scan()
        // A directory listed before its watch existed may have changed in
        // between: list again until every directory was watched while listed.
        var rounds = 0
        while updateWatches(result.watchDirectories) && rounds < 4 {
            result = scanner.scan()
            rounds += 1
        }
        for note in result.notes { noteOnce(note) }
        var present: Set<String> = []
        for found in result.configs {
            present.insert(found.name)
            let stamp = ConfigStamp.read(absolute(found.name), followSymlinks: settings.followSymlinks)
            if let instance = instances[found.name] {
                if instance.retiring {
                    // Removed, then back before its process ended: start it again afterwards.
                    instance.restartAfterExit = true
                    instance.stamp = stamp
                } else if stamp != instance.stamp {
                    configChanged(instance, stamp: stamp)
                }
            } else {
                let instance = Instance(name: found.name, pattern: found.pattern, backoff: settings.backoff)
                instance.stamp = stamp
                instance.lastModified = stamp?.modified.seconds ?? 0
                instances[found.name] = instance
                recordEvent(.configSeen, instance, cause: found.name)
                if !adopt(instance) { start(instance) }
            }
        }
        for instance in Array(instances.values) where !present.contains(instance.name) && !instance.retiring {
            retire(instance, reason: "config removed")
        }
    }

    func absolute(_ name: String) -> String {
        name.hasPrefix("/") ? name : FileSystem.joined(launcher.workingDirectory, name)
    }

    /// Adds watches for new directories and drops the ones no glob can reach
    /// any more; true when a watch was added.
    @discardableResult
    func updateWatches(_ wanted: Set<String>) -> Bool {
        var added = false
        for directory in wanted where watches[directory] == nil {
            do {
                watches[directory] = try inotify.watch(directory)
                added = true
            } catch where error.errno == ENOENT || error.errno == ENOTDIR {
                continue
            } catch {
                noteOnce("cannot watch \(directory): \(error) (changes there are seen by the \(settings.rescanSeconds) s rescan)")
            }
        }
        for (directory, wd) in watches where !wanted.contains(directory) {
            inotify.unwatch(wd)
            watches[directory] = nil
        }
        return added
    }
}
