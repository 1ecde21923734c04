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
        if let entry = config.occurrences("cache").last {
            if let items = Int(entry.value.trimmed()), items > 0 {
                specs.append(CacheSpec(name: "default", items: items, blocksize: config.size("cache-blocksize") ?? 65536))
            } else {
                problems.append(ConfigDiagnostic(entry.origin, "`cache = \(entry.value)`: expected a number of items"))
            }
        }
        for entry in config.occurrences("cache2") {
            var keys: [String: String] = [:]
            for item in entry.value.split(separator: ",") {
                let (k, v) = String(item).splitOnce("=") ?? (String(item), "")
                keys[k.trimmed()] = v.trimmed()
            }
            let unknown = Set(keys.keys).subtracting(offeredKeys)
            let size = { (key: String) in keys[key].map { OptionSpec.parseSize($0) ?? -1 } }
            guard unknown.isEmpty, let name = keys["name"], !name.isEmpty, name.utf8.count <= nameMax,
                  let items = size("items") ?? size("maxitems") ?? size("max_items"), items > 0, items <= 1 << 24 else {
                let what = unknown.isEmpty ? "expected `name=NAME,items=N[,blocksize=BYTES][,keysize=BYTES][,hashsize=N]` (a name of at most \(nameMax) bytes, 1 to 16777216 items)"
                    : "keys not offered here: \(unknown.sorted().joined(separator: ", ")) (offered: name, items, blocksize, keysize, hashsize)"
                problems.append(ConfigDiagnostic(entry.origin, "`cache2 = \(entry.value)`: \(what)"))
                continue
            }
            let spec = CacheSpec(name: name, items: items, blocksize: size("blocksize") ?? 65536,
                                 keysize: size("keysize") ?? 2048, hashsize: size("hashsize") ?? 65536)
            guard (1...(64 << 20)).contains(spec.blocksize), (1...65535).contains(spec.keysize), (1...(1 << 24)).contains(spec.hashsize) else {
                problems.append(ConfigDiagnostic(entry.origin, "`cache2 = \(entry.value)`: blocksize 1 to 64M, keysize 1 to 65535, hashsize 1 to 16777216"))
                continue
            }
            guard !specs.contains(where: { $0.name == name }) else {
                problems.append(ConfigDiagnostic(entry.origin, "`cache2`: a cache named `\(name)` is defined twice"))
                continue
            }
            specs.append(spec)
        }
        return specs
    }
}
