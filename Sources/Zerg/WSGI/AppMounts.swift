import Shared

/// The WSGI apps a worker runs: the default one (`wsgi-file` or `module`,
/// mounted at "") and `mount = /prefix=app.py|package.module[:callable]`
/// (several). With `manage-script-name` the longest mountpoint that prefixes
/// PATH_INFO (at a segment boundary) picks the app and moves to SCRIPT_NAME;
/// without it the app is the one mounted at the request's SCRIPT_NAME (nginx's
/// `uwsgi_param SCRIPT_NAME`), else the default one, as in uWSGI.
struct AppMounts: Equatable {
    struct App: Equatable {
        let mountpoint: String
        let file: String?
        let module: String?
        let callable: String

        var source: String { file.map { "wsgi-file \($0)" } ?? "module \(module ?? "?")" }
    }

    /// The default app (if any) first, then the mounts in config order: the app ids of logs and stats.
    let apps: [App]
    let manageScriptName: Bool
    /// Whether a request's app must be chosen at all (else it is the one default app).
    var selects: Bool { apps.count > 1 || manageScriptName || apps.first?.mountpoint.isEmpty == false }

    /// From the configuration; a malformed `mount` is a problem with its file:line.
    init(_ config: Configuration, defaultFile: String?, defaultModule: String?, callable: String, problems: inout [ConfigDiagnostic]) {
        var apps: [App] = []
        if defaultFile != nil || defaultModule != nil {
            apps.append(App(mountpoint: "", file: defaultFile, module: defaultModule, callable: callable))
        }
        for entry in config.occurrences("mount") {
            guard let (point, target) = entry.value.splitOnce("="), !target.isEmpty, point.isEmpty || point.hasPrefix("/") else {
                problems.append(ConfigDiagnostic(entry.origin, "`mount = \(entry.value)`: expected `/mountpoint=app.py` or `/mountpoint=package.module[:callable]`"))
                continue
            }
            let mountpoint = point.count > 1 && point.hasSuffix("/") ? String(point.dropLast()) : point
            if apps.contains(where: { $0.mountpoint == mountpoint }) {
                problems.append(ConfigDiagnostic(entry.origin, "`mount = \(entry.value)`: \(mountpoint.isEmpty ? "the root" : mountpoint) has an app already"))
                continue
            }
            if target.hasSuffix(".py") || target.hasSuffix(".wsgi") || target.contains("/") {
                apps.append(App(mountpoint: mountpoint, file: target, module: nil, callable: callable))
            } else if let (module, name) = target.splitOnce(":") {
                apps.append(App(mountpoint: mountpoint, file: nil, module: module, callable: name))
            } else {
                apps.append(App(mountpoint: mountpoint, file: nil, module: target, callable: callable))
            }
        }
        self.apps = apps
        manageScriptName = config.bool("manage-script-name")
    }

    /// The app for a request: its index and the mountpoint to move from
    /// PATH_INFO to SCRIPT_NAME (nil: leave both as they are); nil when no
    /// app serves it.
    func select(pathInfo: String, scriptName: String?) -> (index: Int, mountpoint: String?)? {
        if manageScriptName {
            var best: (index: Int, length: Int)?
            for (i, app) in apps.enumerated() where !app.mountpoint.isEmpty {
                let p = app.mountpoint
                guard pathInfo.hasPrefix(p), pathInfo.count == p.count || pathInfo.dropFirst(p.count).hasPrefix("/") else { continue }
                if p.count > (best?.length ?? -1) { best = (i, p.count) }
            }
            if let best { return (best.index, apps[best.index].mountpoint) }
        } else if let scriptName, !scriptName.isEmpty, let i = apps.firstIndex(where: { $0.mountpoint == scriptName }) {
            return (i, nil)
        }
        return apps.firstIndex { $0.mountpoint.isEmpty }.map { ($0, nil) }
    }
}
