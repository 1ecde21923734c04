/// A loaded configuration: entries in load order with resolved values, and
/// typed access by option name (aliases included). Scalars: the last
/// occurrence wins. Lists: every occurrence, in order.
public struct Configuration: Sendable {
    public let entries: [ConfigEntry]
    public let warnings: [ConfigDiagnostic]

    public init(entries: [ConfigEntry], warnings: [ConfigDiagnostic]) {
        self.entries = entries
        self.warnings = warnings
    }

    /// Entries for an option under any of its names.
    public func occurrences(_ name: String) -> [ConfigEntry] {
        guard let spec = OptionTable.spec(name) else { return entries.filter { $0.key == name } }
        return entries.filter { $0.key == spec.name || spec.aliases.contains($0.key) }
    }

    public func has(_ name: String) -> Bool { !occurrences(name).isEmpty }

    /// The last value given, else the registry default.
    public func string(_ name: String) -> String? {
        occurrences(name).last?.value ?? OptionTable.spec(name)?.defaultValue
    }

    /// Every value given, in order (list options).
    public func strings(_ name: String) -> [String] { occurrences(name).map(\.value) }

    public func origin(_ name: String) -> Origin? { occurrences(name).last?.origin }

    /// Validated at load time, so a present value always parses.
    public func int(_ name: String) -> Int? { string(name).flatMap(OptionSpec.parseInt) }
    public func bool(_ name: String) -> Bool { string(name).flatMap(OptionSpec.parseBool) ?? false }
    public func size(_ name: String) -> Int? { string(name).flatMap(OptionSpec.parseSize) }

    /// TCP_DEFER_ACCEPT seconds for client listeners (vassal `http`, zerg
    /// `http-socket`): `socket-timeout`, or 0 with `no-defer-accept`.
    public var deferAcceptSeconds: Int32 {
        bool("no-defer-accept") ? 0 : Int32(clamping: max(1, int("socket-timeout") ?? 4))
    }

    /// A placeholder's value (first match, as `%(name)` resolves it).
    public func placeholder(_ key: String) -> String? { entries.first { $0.key == key }?.value }

    /// Options given that have no effect here, with why: to be logged once at start.
    public var noEffectOptions: [(name: String, reason: String)] {
        var seen: Set<String> = []
        var out: [(String, String)] = []
        for entry in entries {
            guard let spec = OptionTable.spec(entry.key), case .noEffect(let reason) = spec.support,
                  seen.insert(spec.name).inserted else { continue }
            out.append((spec.name, reason))
        }
        return out
    }

    /// The one line "accepted, no effect: ..." for the start-up log, or nil.
    public var noEffectSummary: String? {
        let items = noEffectOptions
        guard !items.isEmpty else { return nil }
        return "accepted, no effect: " + items.map { "\($0.name) (\($0.reason))" }.joined(separator: "; ")
    }

    /// uWSGI options given that this server does not offer (in uWSGI's catalogue,
    /// not in our registry), with where uWSGI declares them; each once.
    public var notOfferedOptions: [(name: String, source: String)] {
        var seen: Set<String> = []
        return entries.compactMap { entry in
            guard !entry.isDeclaredPlaceholder, OptionTable.spec(entry.key) == nil,
                  let source = UWSGIOptionCatalogue.source(of: entry.key), seen.insert(entry.key).inserted else { return nil }
            return (entry.key, source)
        }
    }

    /// One line for the start: what a migrated config asks for that is not offered.
    public var notOfferedSummary: String? {
        let items = notOfferedOptions
        guard !items.isEmpty else { return nil }
        return "uWSGI options not offered here, ignored: " + items.map { "\($0.name) (\($0.source))" }.joined(separator: ", ")
    }

    /// Options given that this version does not act on yet (a later piece of work), with why.
    public var plannedOptions: [(name: String, reason: String)] {
        var seen: Set<String> = []
        var out: [(String, String)] = []
        for entry in entries {
            guard let spec = OptionTable.spec(entry.key), case .planned(let reason) = spec.support,
                  seen.insert(spec.name).inserted else { continue }
            out.append((spec.name, reason))
        }
        return out
    }

    /// The one line "accepted, not acted on yet: ..." for the start-up log, or nil.
    public var plannedSummary: String? {
        let items = plannedOptions
        guard !items.isEmpty else { return nil }
        return "accepted, not acted on yet: " + items.map { "\($0.name) (\($0.reason))" }.joined(separator: "; ")
    }
}
