import Shared

/// What identifies one version of a config file. Any difference is a change:
/// nanosecond mtime (uWSGI compares whole seconds and misses same-second
/// edits), inode and size (a file replaced by rename), and the symlink target
/// (a link pointed elsewhere).
struct ConfigStamp: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Timestamp
    var linkTarget: String?

    /// nil when the config is gone (or a dangling link when following).
    static func read(_ path: String, followSymlinks: Bool) -> ConfigStamp? {
        guard let st = try? FileSystem.status(path, followSymlinks: followSymlinks) else { return nil }
        return ConfigStamp(device: st.device, inode: st.inode, size: st.size, modified: st.modified,
                           linkTarget: FileSystem.symlinkTarget(path))
    }
}
