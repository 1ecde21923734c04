#if canImport(Glibc)
import Glibc
#endif

/// uWSGI's `touch-*` files, watched through inotify instead of a 1 s poll: a
/// file fires when its mtime (ns), inode or size changes, when it appears, or
/// when it goes away. The directories holding the files are watched; any event
/// there re-stats the files (so editors' rename-over writes count too).
public final class TouchWatcher<Action> {
    struct Entry {
        let path: String
        let action: Action
        var stamp: FileStatus?
    }

    public let inotify: Inotify
    private var entries: [Entry]

    public var fd: FileDescriptor { inotify.fd }
    public var isEmpty: Bool { entries.isEmpty }

    /// Files that do not exist yet are fine: they fire when created.
    public init(_ files: [(path: String, action: Action)]) throws {
        inotify = try Inotify()
        entries = files.map { Entry(path: FileSystem.absolute($0.path), action: $0.action, stamp: nil) }
        for i in entries.indices {
            entries[i].stamp = try? FileSystem.status(entries[i].path)
            let dir = FileSystem.directoryName(entries[i].path)
            if (try? inotify.watch(dir, mask: Inotify.directoryEvents)) == nil {
                Log.info("touch file \(entries[i].path): cannot watch \(dir); it will not fire")
            }
        }
    }

    /// After the inotify fd was readable: the actions of the files that changed
    /// (each action once, in the order the files were given).
    public func changed() -> [Action] {
        _ = inotify.drain()
        var fired: [Action] = []
        for i in entries.indices {
            let now = try? FileSystem.status(entries[i].path)
            if now != entries[i].stamp {
                entries[i].stamp = now
                fired.append(entries[i].action)
            }
        }
        return fired
    }
}
