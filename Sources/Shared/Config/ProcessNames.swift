/// uWSGI's process-name options, for every program here: `procname-prefix`
/// (`-spaced`: followed by a space) and `procname-append` around every title,
/// and `auto-procname`, which names processes without an explicit name (a
/// prefix or suffix implies it, as in uWSGI). So `ps` tells builds apart.
public struct ProcessNames: Sendable, Equatable {
    public let prefix: String
    public let append: String
    public let automatic: Bool

    public init(_ config: Configuration) {
        prefix = (config.string("procname-prefix") ?? "") + (config.string("procname-prefix-spaced").map { $0 + " " } ?? "")
        append = config.string("procname-append") ?? ""
        automatic = config.bool("auto-procname")
    }

    /// A process's title: `explicit` (procname, procname-master,
    /// emperor-procname), else `automatic` when titles are asked for; nil:
    /// leave the command line as it is.
    public func title(explicit: String?, automatic name: String) -> String? {
        let decorated = !prefix.isEmpty || !append.isEmpty
        guard let base = explicit ?? (automatic || decorated ? name : nil) else { return nil }
        return prefix + base + append
    }
}
