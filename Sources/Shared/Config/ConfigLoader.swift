/// Loads a program's configuration the way uWSGI does: `UWSGI_<OPTION>`
/// environment variables first, then the command line in order, with every
/// `--ini`/`ini =`/`include =` spliced in where it appears, `inherit` files last;
/// then the late passes; then validation against the option registry.
public struct ConfigLoader {
    /// The program reading the configuration: options meant for another program are reported.
    public var role: ProcessRole
    public var environment: [String: String]
    public var context: MagicContext
    /// Run `@(exec://...)`; off where a user script must not block the caller.
    public var allowExec = true
    /// Report options that belong to other programs (off when inspecting someone else's config).
    public var reportForeignOptions = true

    public init(role: ProcessRole, environment: [String: String] = Host.environment(),
                context: MagicContext = .current()) {
        self.role = role
        self.environment = environment
        self.context = context
    }

    /// Loads from command-line arguments (without argv[0]).
    public func load(arguments: [String]) throws(ConfigError) -> Configuration {
        var state = LoadState(loader: self)
        state.readEnvironment()
        try state.readArguments(arguments)
        try state.readInherited()
        return try state.finish()
    }

    /// Loads one ini file (`path[:section]`), as `--ini path` would.
    public func load(file: String) throws(ConfigError) -> Configuration {
        try load(arguments: ["--ini", file])
    }
}

/// The work of one load.
struct LoadState {
    let loader: ConfigLoader
    var entries: [ConfigEntry] = []
    var warnings: [ConfigDiagnostic] = []
    var problems: [ConfigDiagnostic] = []
    var topFile: MagicVariables?
    var lastFile: String?
    var inherited: [(String, Origin)] = []
    var depth = 0
    var passes: LatePasses
    var referenced: Set<String> = []
    /// The index of each key's first entry, while `finish` resolves them.
    var firstIndex: [String: Int] = [:]

    init(loader: ConfigLoader) {
        self.loader = loader
        passes = LatePasses(environment: loader.environment, allowExec: loader.allowExec,
                            workingDirectory: loader.context.currentDirectory)
    }

    static let maxIncludeDepth = 16
    /// Config text read per load, at most (every file and include together).
    /// A real ini is a few KiB; the emperor loads configs on its loop, and at
    /// ~3 µs a line a 1 MiB one costs it ~60 ms: past this, one clear line.
    static let maxConfigBytes = 1 << 20
    /// Bytes of config text read so far in this load.
    var bytesRead = 0
    /// Control variables of the emperor protocol, not options.
    static let reservedEnvironment: Set<String> = [
        "UWSGI_EMPEROR_FD", "UWSGI_EMPEROR_FD_CONFIG", "UWSGI_BROODLORD_NUM", "UWSGI_RELOADS", "UWSGI_ORIGINAL_PROC_NAME",
    ]

    mutating func readEnvironment() {
        for (name, value) in loader.environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("UWSGI_") {
            guard !Self.reservedEnvironment.contains(name), !name.hasPrefix("UWSGI_VASSAL_") else { continue }
            let key = name.dropFirst("UWSGI_".count).lowercased().replacingAll("_", with: "-")
            // Only known options: many UWSGI_* variables are internal to other tools.
            guard OptionTable.spec(key) != nil else { continue }
            add(key: key, value: value, origin: .environment(variable: name))
        }
    }

    mutating func readArguments(_ args: [String]) throws(ConfigError) {
        var i = 0
        while i < args.count {
            let arg = args[i]
            let origin = Origin.commandLine(index: i + 1)
            if arg.hasPrefix("--") && arg.count > 2 {
                let body = String(arg.dropFirst(2))
                let (name, inline) = body.splitOnce("=").map { ($0.0, Optional($0.1)) } ?? (body, nil)
                guard let spec = OptionTable.spec(name) else {
                    let hint = OptionTable.suggestion(for: name).map { " (did you mean `--\($0)`?)" } ?? ""
                    throw ConfigError(origin, "unknown option `--\(name)`\(hint)")
                }
                var value = ""
                if let inline {
                    value = inline
                } else if spec.type != .bool {
                    guard i + 1 < args.count else { throw ConfigError(origin, "option `--\(name)` needs a value") }
                    i += 1
                    value = args[i]
                }
                add(key: name, value: value, origin: origin)
            } else if arg.hasPrefix("-") && arg.count > 1, let flag = OptionTable.shortFlags[arg.dropFirst().first!] {
                // uWSGI's one-letter flags: `-p 4`, `-p4`, `-M`, `-C` (666) or `-C644`.
                let attached = String(arg.dropFirst(2))
                var value = attached
                if flag.takesValue && attached.isEmpty {
                    guard i + 1 < args.count else { throw ConfigError(origin, "option `\(arg)` (`--\(flag.name)`) needs a value") }
                    i += 1
                    value = args[i]
                } else if attached.isEmpty, let bare = flag.bare {
                    value = bare
                } else if !flag.takesValue && flag.bare == nil && !attached.isEmpty {
                    throw ConfigError(origin, "`\(arg)`: give one-letter flags one at a time (`-\(arg.dropFirst().first!)` is `--\(flag.name)`)")
                }
                add(key: flag.name, value: value, origin: origin)
            } else if arg.hasPrefix("-") && arg.count > 1 {
                throw ConfigError(origin, "unknown option `\(arg)` (options are written `--name value`; the one-letter ones are uWSGI's -M -p -w -s -H -b -t -L -T -C -R -i -z -d)")
            } else if MagicVariables.splitSection(arg).0.hasSuffix(".ini") {
                add(key: "ini", value: arg, origin: origin)
            } else {
                throw ConfigError(origin, "unexpected argument `\(arg)` (config files must end in .ini)")
            }
            i += 1
            if !problems.isEmpty { throw ConfigError(problems) }
        }
    }

    mutating func readInherited() throws(ConfigError) {
        let files = inherited
        inherited = []
        for (file, origin) in files { loadFile(file, from: origin) }
        if !problems.isEmpty { throw ConfigError(problems) }
    }

    /// The logic block options go through (`ConfigLogic`), and whether the
    /// last condition failed (for `else`).
    var logic: ConfigLogic?
    var logicFailed = false

    /// Adds one key/value, through the logic block if one is open; logic
    /// options open and close blocks; immediate options act here.
    mutating func add(key: String, value: String, origin: Origin) {
        if ConfigLogic.closers.contains(key) {
            logic = nil
            logicFailed = false
            return
        }
        if key == "else" {
            logic = .orElse
            return
        }
        if ConfigLogic.openers.contains(key), let opener = ConfigLogic(key: key, argument: expandImmediate(value, from: origin)) {
            logic = opener
            logicFailed = false
            return
        }
        guard let block = logic else { return addDirectly(key: key, value: value, origin: origin) }
        let snapshot = entries
        let outcome = block.apply(to: value, environment: loader.environment, hostname: loader.context.hostname, failedBefore: logicFailed) { name in
            snapshot.first { $0.key == name }.map { $0.raw }
        }
        if let failed = outcome.conditionFailed { logicFailed = failed }
        if let problem = outcome.problem { problems.append(ConfigDiagnostic(origin, problem)) }
        for v in outcome.values { addDirectly(key: key, value: v, origin: origin) }
    }

    /// Adds one key/value; immediate options act here.
    mutating func addDirectly(key: String, value: String, origin: Origin) {
        switch OptionTable.spec(key)?.name {
        case "ini", "include":
            loadFile(expandImmediate(value, from: origin), from: origin)
        case "inherit":
            inherited.append((expandImmediate(value, from: origin), origin))
        case "set", "set-placeholder":
            guard let (k, v) = value.splitOnce("="), !k.trimmed().isEmpty else {
                problems.append(ConfigDiagnostic(origin, "`\(key) = \(value)`: expected `name=value`"))
                return
            }
            let isPlaceholder = OptionTable.spec(key)?.name == "set-placeholder"
            if isPlaceholder {
                entries.append(ConfigEntry(key: k.trimmed(), raw: v.trimmed(), origin: origin, isDeclaredPlaceholder: true))
            } else {
                addDirectly(key: k.trimmed(), value: v.trimmed(), origin: origin)
            }
        default:
            entries.append(ConfigEntry(key: key, raw: value, origin: origin))
        }
    }

    /// Immediate options see the entries loaded so far (uWSGI expands them before acting).
    mutating func expandImmediate(_ value: String, from origin: Origin) -> String {
        var v = passes.substituteEnvironment(value)
        v = passes.substituteSources(v)
        for failure in passes.failures.take() { problems.append(ConfigDiagnostic(origin, failure)) }
        let snapshot = entries
        return passes.substitutePlaceholders(v) { key in snapshot.first { $0.key == key }?.value }.0
    }

    mutating func loadFile(_ argument: String, from origin: Origin) {
        var (path, section) = MagicVariables.splitSection(argument)
        if path.isEmpty {
            guard let last = lastFile else {
                problems.append(ConfigDiagnostic(origin, "`\(argument)`: no ini file was loaded before, so there is no file to take section `\(section)` from"))
                return
            }
            path = last
        }
        if section.isEmpty { section = "uwsgi" }
        guard depth < Self.maxIncludeDepth else {
            problems.append(ConfigDiagnostic(origin, "`\(argument)`: includes nest deeper than \(Self.maxIncludeDepth) (does a file include itself?)"))
            return
        }
        let text: String
        // Relative paths are relative to the loader's directory (the process's cwd in production).
        let readable = path.hasPrefix("/") ? path : FileSystem.joined(loader.context.currentDirectory, path)
        do {
            let status = try FileSystem.status(readable)
            if status.isDirectory {
                problems.append(ConfigDiagnostic(origin, "cannot read \(path): it is a directory"))
                return
            }
            guard bytesRead + Int(status.size) <= Self.maxConfigBytes else {
                problems.append(ConfigDiagnostic(origin, "config \(path) is \(status.size) bytes: over the \(Self.maxConfigBytes >> 20) MiB a configuration may hold (with its includes)"))
                return
            }
            text = try FileSystem.readText(readable)
            bytesRead += text.utf8.count
        } catch {
            problems.append(ConfigDiagnostic(origin, "cannot read config \(path): \(error.reason)"))
            return
        }
        let file = MagicVariables(argument: path + (section == "uwsgi" ? "" : ":" + section),
                                  currentDirectory: loader.context.currentDirectory)
        if topFile == nil { topFile = file }
        lastFile = path
        var fileWarnings: [ConfigDiagnostic] = []
        let parsed = IniParser.parse(
            text, section: section, file: file, top: topFile!, context: loader.context, displayPath: path,
            warn: { fileWarnings.append($0) })
        warnings += fileWarnings
        if !parsed.sectionFound {
            let what = text.trimmed().isEmpty ? "the file is empty" : "no [\(section)] section"
            warnings.append(ConfigDiagnostic(.file(path: path, line: 1), "\(what); nothing loaded from it"))
        }
        depth += 1
        for line in parsed.lines {
            add(key: line.key, value: line.value, origin: .file(path: path, line: line.number))
        }
        depth -= 1
    }

    /// Runs the late passes over every entry, then validates.
    mutating func finish() throws(ConfigError) -> Configuration {
        if let text = entries.last(where: { $0.key == "exec-timeout" })?.raw, let seconds = Int(text.trimmed()), seconds > 0 {
            passes.execTimeoutSeconds = seconds
        }
        var resolving: Set<Int> = []
        // The first entry of each key (what `%(key)` names): one lookup per reference, not a scan.
        firstIndex = [:]
        for (i, entry) in entries.enumerated() where firstIndex[entry.key] == nil { firstIndex[entry.key] = i }
        for index in entries.indices {
            resolve(index, resolving: &resolving)
        }
        validate()
        if !problems.isEmpty { throw ConfigError(problems) }
        return Configuration(entries: entries, warnings: warnings)
    }

    /// Resolves one entry; a placeholder pointing at an unresolved entry resolves that first.
    mutating func resolve(_ index: Int, resolving: inout Set<Int>) {
        guard !entries[index].isResolved, !resolving.contains(index) else { return }
        resolving.insert(index)
        var value = passes.substituteEnvironment(entries[index].raw)
        value = passes.substituteSources(value)
        for failure in passes.failures.take() { problems.append(ConfigDiagnostic(entries[index].origin, failure)) }
        // Most values name no placeholder: nothing more to do for them.
        guard value.contains("%(") else {
            entries[index].value = value
            entries[index].isResolved = true
            resolving.remove(index)
            return
        }
        // Resolve what this value refers to first, so `%(x)` sees x's final value
        // even when x is defined later (uWSGI would see x's raw text there).
        for key in Self.placeholderKeys(in: value) {
            if let target = firstIndex[key], target != index {
                resolve(target, resolving: &resolving)
            }
        }
        // (No copy of `entries` held across the write below: that would copy
        // the whole array once per entry.)
        let (result, keys) = passes.substitutePlaceholders(value) { key in
            guard let target = firstIndex[key], entries[target].isResolved || target == index else { return nil }
            return target == index ? nil : entries[target].value
        }
        referenced.formUnion(keys)
        entries[index].value = result
        entries[index].isResolved = true
        resolving.remove(index)
    }

    /// Names inside `%(...)`, including the words of a math expression.
    static func placeholderKeys(in text: String) -> [String] {
        var keys: [String] = []
        _ = LatePasses(environment: [:], allowExec: false, workingDirectory: "/")
            .replaceGroups(in: text, opener: "%") { inside in
                keys += inside.split(separator: " ").map(String.init)
                return nil
            }
        return keys
    }

    mutating func validate() {
        let strict = entries.last { OptionTable.spec($0.key)?.name == "strict" }
            .map { OptionSpec.parseBool($0.value) ?? false } ?? false
        for entry in entries {
            guard let spec = OptionTable.spec(entry.key) else {
                if entry.isDeclaredPlaceholder { continue }
                if let source = UWSGIOptionCatalogue.source(of: entry.key) {
                    // A uWSGI option this server does not offer: refused under strict,
                    // else named once at start (`Configuration.notOfferedSummary`).
                    if strict {
                        problems.append(ConfigDiagnostic(entry.origin, "uWSGI option `\(entry.key)` (\(source)) is not offered here"))
                    }
                    continue
                }
                let hint = OptionTable.suggestion(for: entry.key)
                if strict {
                    let extra = hint.map { " (did you mean `\($0)`?)" } ?? " (declare placeholders with `set-placeholder` under strict)"
                    problems.append(ConfigDiagnostic(entry.origin, "unknown option `\(entry.key)`\(extra)"))
                } else if let hint, !referenced.contains(entry.key) {
                    warnings.append(ConfigDiagnostic(entry.origin, "unknown option `\(entry.key)`, kept as a placeholder (did you mean `\(hint)`?)"))
                }
                continue
            }
            if case .unsupported(let reason) = spec.support {
                problems.append(ConfigDiagnostic(entry.origin, "option `\(entry.key)` is not supported: \(reason)"))
                continue
            }
            if !loader.allowExec && entry.value.contains("@(exec://") { continue }
            if let problem = spec.check(entry.value) {
                problems.append(ConfigDiagnostic(entry.origin, problem))
            }
            if loader.reportForeignOptions, spec.roles.intersection(loader.role).isEmpty {
                let users = spec.roles.names.joined(separator: "/")
                warnings.append(ConfigDiagnostic(entry.origin, "option `\(entry.key)` is used by the \(users), not here; ignored"))
            }
        }
    }
}
