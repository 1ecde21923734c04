/// A unix socket's path this process listens on, remembered by the inode the
/// path had when it was bound (or taken over), so that at exit the path is
/// removed only while it is still that socket: a server started meanwhile on
/// the same path keeps its own. This is uWSGI's `vacuum`, always on here.
public struct OwnedSocketPath: Sendable {
    public let path: String
    let inode: UInt64

    /// nil when the path is gone already.
    public init?(_ path: String) {
        guard let st = try? FileSystem.status(path, followSymlinks: false) else { return nil }
        self.path = path
        inode = st.inode
    }

    /// Unlinks the path if it is still the socket it was.
    public func remove() {
        if (try? FileSystem.status(path, followSymlinks: false))?.inode == inode { FileSystem.unlink(path) }
    }
}
