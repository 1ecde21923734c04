import Shared

/// One shared cache's geometry: `cache2 = name=NAME,items=N[,blocksize=B][,keysize=K][,hashsize=H]`,
/// or uWSGI's older `cache = N` (named `default`, `cache-blocksize` per value).
/// A value larger than `blocksize` is not stored (uWSGI without `bitmap`).
public struct CacheSpec: Equatable, Sendable {
    public let name: String
    public let items: Int
    /// The largest value, in bytes.
    public let blocksize: Int
    /// The longest key, in bytes.
    public let keysize: Int
    /// Hash buckets.
    public let hashsize: Int

    public init(name: String, items: Int, blocksize: Int = 65536, keysize: Int = 2048, hashsize: Int = 65536) {
        self.name = name
        self.items = items
        self.blocksize = blocksize
        self.keysize = keysize
        self.hashsize = hashsize
    }

    static let offeredKeys = ["name", "items", "maxitems", "max_items", "blocksize", "keysize", "hashsize"]
    /// Longest name (it is kept in the shared region's header).
    public static let nameMax = 63

    public static func all(in config: Configuration, problems: inout [ConfigDiagnostic]) -> [CacheSpec] {
        var specs: [CacheSpec] = []
        func add(_ spec: CacheSpec, _ entry: ConfigEntry, _ option: String) {
            if let problem = spec.problem {
                problems.append(ConfigDiagnostic(entry.origin, "`\(option) = \(entry.value)`: \(problem)"))
            } else if specs.contains(where: { $0.name == spec.name }) {
                problems.append(ConfigDiagnostic(entry.origin, "`\(option)`: a cache named `\(spec.name)` is defined twice"))
            } else {
                specs.append(spec)
            }
        }
        if let entry = config.occurrences("cache").last {
            if let items = Int(entry.value.trimmed()) {
                add(CacheSpec(name: "default", items: items, blocksize: config.size("cache-blocksize") ?? 65536), entry, "cache")
            } else {
                problems.append(ConfigDiagnostic(entry.origin, "`cache = \(entry.value)`: expected a number of items"))
            }
        }
        for entry in config.occurrences("cache2") {
            let keys = entry.value.keyValues()
            let unknown = Set(keys.map(\.key)).subtracting(offeredKeys)
            guard unknown.isEmpty else {
                problems.append(ConfigDiagnostic(entry.origin, "`cache2 = \(entry.value)`: keys not offered here: \(unknown.sorted().joined(separator: ", ")) (offered: name, items, blocksize, keysize, hashsize)"))
                continue
            }
            let value = { (key: String) in keys.last { $0.key == key }?.value }
            let size = { (key: String) in value(key).map { OptionSpec.parseSize($0) ?? -1 } }
            guard let name = value("name"), let items = size("items") ?? size("maxitems") ?? size("max_items") else {
                problems.append(ConfigDiagnostic(entry.origin, "`cache2 = \(entry.value)`: expected `name=NAME,items=N[,blocksize=BYTES][,keysize=BYTES][,hashsize=N]`"))
                continue
            }
            add(CacheSpec(name: name, items: items, blocksize: size("blocksize") ?? 65536, keysize: size("keysize") ?? 2048,
                          hashsize: size("hashsize") ?? 65536), entry, "cache2")
        }
        return specs
    }

    /// What is wrong with this geometry, if anything (the limits keep every
    /// offset within an Int and every slot number within an Int32).
    var problem: String? {
        if name.isEmpty || name.utf8.count > Self.nameMax { return "a cache name is 1 to \(Self.nameMax) bytes" }
        if !(1...(1 << 24)).contains(items) { return "items: 1 to 16777216" }
        if !(1...(64 << 20)).contains(blocksize) { return "blocksize: 1 to 64M" }
        if !(1...65535).contains(keysize) { return "keysize: 1 to 65535" }
        if !(1...(1 << 24)).contains(hashsize) { return "hashsize: 1 to 16777216" }
        return nil
    }
}
