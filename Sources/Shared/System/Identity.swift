#if canImport(Glibc)
import Glibc
#endif

/// Users and groups by name or number (uWSGI's `uid`, `gid`, `chown-socket`).
public enum Identity {
    /// A uid from a number or a user name (getpwnam).
    public static func uid(_ text: String) -> uid_t? {
        if let n = UInt32(text) { return n }
        guard let pw = getpwnam(text) else { return nil }
        return pw.pointee.pw_uid
    }

    /// A gid from a number or a group name (getgrnam).
    public static func gid(_ text: String) -> gid_t? {
        if let n = UInt32(text) { return n }
        guard let gr = getgrnam(text) else { return nil }
        return gr.pointee.gr_gid
    }

    /// The user's primary group, or the gid equal to the uid when the user is unknown.
    public static func primaryGID(of uid: uid_t) -> gid_t {
        guard let pw = getpwuid(uid) else { return uid }
        return pw.pointee.pw_gid
    }

    /// Gives up root: supplementary groups, then gid, then uid (that order, or
    /// the later calls are no longer permitted).
    public static func become(uid: uid_t?, gid: gid_t?) throws(SystemError) {
        if let gid {
            var groups = [gid]
            try Syscall.call("setgroups", "\(gid)") { setgroups(1, &groups) }
            try Syscall.call("setgid", "\(gid)") { setgid(gid) }
        }
        if let uid {
            try Syscall.call("setuid", "\(uid)") { setuid(uid) }
        }
    }
}

/// `chmod-socket`, `chown-socket`, `uid` and `gid`: who owns the unix sockets
/// a process creates, and whom it runs as once its sockets are bound.
public struct SocketOwnership {
    public var mode: mode_t?
    public var owner: (uid: uid_t, gid: gid_t)?
    public var uid: uid_t?
    public var gid: gid_t?

    public init(_ config: Configuration, problems: inout [ConfigDiagnostic]) {
        if let text = config.string("chmod-socket") {
            // uWSGI: a bare `chmod-socket` means 666.
            if let m = mode_t(text == "true" ? "666" : text, radix: 8), m <= 0o7777 {
                mode = m
            } else {
                problems.append(ConfigDiagnostic(config.origin("chmod-socket") ?? .builtIn, "`chmod-socket = \(text)`: expected an octal mode such as 660"))
            }
        }
        if let text = config.string("chown-socket") {
            let (user, group) = text.splitOnce(":") ?? (text, nil)
            if let u = Identity.uid(user) {
                owner = (u, group.flatMap(Identity.gid) ?? Identity.primaryGID(of: u))
            } else {
                problems.append(ConfigDiagnostic(config.origin("chown-socket") ?? .builtIn, "`chown-socket = \(text)`: no such user"))
            }
        }
        if let text = config.string("uid") {
            uid = Identity.uid(text)
            if uid == nil { problems.append(ConfigDiagnostic(config.origin("uid") ?? .builtIn, "`uid = \(text)`: no such user")) }
        }
        if let text = config.string("gid") {
            gid = Identity.gid(text)
            if gid == nil { problems.append(ConfigDiagnostic(config.origin("gid") ?? .builtIn, "`gid = \(text)`: no such group")) }
        }
    }

    /// Applies `chmod-socket`/`chown-socket` to a socket file just created.
    public func apply(toSocket path: String) throws(SystemError) {
        if let mode { try Syscall.call("chmod", path) { chmod(path, mode) } }
        if let owner { try Syscall.call("chown", path) { chown(path, owner.uid, owner.gid) } }
    }

    /// Drops to `uid`/`gid` (no-op when neither is set).
    public func dropPrivileges() throws(SystemError) {
        try Identity.become(uid: uid, gid: gid)
    }
}
