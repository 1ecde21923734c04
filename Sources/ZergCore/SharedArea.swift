#if canImport(Glibc)
import Glibc
#endif
import Shared

/// What a zerg's workers share besides the scoreboard: uWSGI's user locks
/// (`uwsgi.lock(n)`, n from 0 to `locks`) and caches (`cache2`). One memfd the
/// master creates and every worker maps (its fd handed like the scoreboard's);
/// it outlives any worker, so a rolling reload keeps the cache. A header page
/// describes the layout, so a worker needs nothing but the fd:
///
///     [header 4096: magic, words, locks, caches, per cache: offset, items,
///      blocksize, keysize, hashsize, name length, name (64 bytes)]
///     [lock 0][lock 1]…  (64 bytes each)
///     [cache 0][cache 1]… (`SharedCache`)
public struct SharedArea: @unchecked Sendable {
    public let memory: SharedMemory
    /// `locks`: the highest lock number (uWSGI's option: lock 0 and that many more).
    public let locks: Int
    public let caches: [SharedCache]

    static let magic: Int64 = 0x4844_4a5a_4152_0001  // "HDJZAR", version 1
    static let headerBytes = 4096
    static let wordsPerCache = 14
    public static let maxCaches = (headerBytes / 8 - 4) / wordsPerCache

    /// The layout this area has: compared with a reloaded configuration's.
    public func matches(locks: Int, caches specs: [CacheSpec]) -> Bool { locks == self.locks && specs == caches.map(\.spec) }

    public static func create(locks: Int, caches specs: [CacheSpec]) throws(SystemError) -> SharedArea {
        var offset = headerBytes + (locks + 1) * ProcessLock.stride
        var offsets: [Int] = []
        for spec in specs.prefix(maxCaches) {
            offsets.append(offset)
            offset += SharedCache.bytes(spec)
        }
        let memory = try SharedMemory.create(name: "zerg-shared", count: offset / 8)
        memory[0] = magic
        memory[1] = Int64(offset / 8)
        memory[2] = Int64(locks)
        memory[3] = Int64(offsets.count)
        for (k, spec) in specs.prefix(maxCaches).enumerated() {
            let w = 4 + k * wordsPerCache
            for (i, v) in [offsets[k], spec.items, spec.blocksize, spec.keysize, spec.hashsize, spec.name.utf8.count].enumerated() {
                memory[w + i] = Int64(v)
            }
            memory.withBytes(fromWord: w + 6, count: CacheSpec.nameMax + 1) { $0.copyBytes(from: Array(spec.name.utf8.prefix(CacheSpec.nameMax))) }
        }
        let area = SharedArea(memory: memory, locks: locks, caches: zip(specs, offsets).map { SharedCache(spec: $0, at: memory.bytes + $1) })
        for i in 0...locks { try area.lock(i)!.initialize() }
        for cache in area.caches { try cache.format() }
        return area
    }

    /// Maps the area a master created (its fd inherited); reads the layout from its header.
    public static func attach(fd: FileDescriptor) throws(SystemError) -> SharedArea {
        let header = try SharedMemory(mapping: fd, count: headerBytes / 8)
        let words = Int(header[1])
        let valid = header[0] == magic && words * 8 >= headerBytes && header[2] >= 0 && header[3] >= 0 && header[3] <= Int64(maxCaches)
        header.unmap()
        guard valid else { throw SystemError("mmap", "zerg shared area", errno: EINVAL, note: "not a shared area this binary can read") }
        let memory = try SharedMemory(mapping: fd, count: words)
        var caches: [SharedCache] = []
        for k in 0..<Int(memory[3]) {
            let w = 4 + k * wordsPerCache
            let v = (0..<6).map { Int(memory[w + $0]) }
            let name = memory.withBytes(fromWord: w + 6, count: min(v[5], CacheSpec.nameMax)) { String(decoding: UnsafeRawBufferPointer($0), as: UTF8.self) }
            let spec = CacheSpec(name: name, items: v[1], blocksize: v[2], keysize: v[3], hashsize: v[4])
            guard v[0] >= headerBytes, v[0] + SharedCache.bytes(spec) <= words * 8 else {
                throw SystemError("mmap", "zerg shared area", errno: EINVAL, note: "cache \(name) lies outside the area")
            }
            caches.append(SharedCache(spec: spec, at: memory.bytes + v[0]))
        }
        return SharedArea(memory: memory, locks: Int(memory[2]), caches: caches)
    }

    /// User lock `n` (0 to `locks`).
    public func lock(_ n: Int) -> ProcessLock? {
        guard (0...locks).contains(n) else { return nil }
        return ProcessLock(at: memory.bytes + Self.headerBytes + n * ProcessLock.stride)
    }

    /// The cache of that name; nil: the first (uWSGI's default cache).
    public func cache(_ name: String?) -> SharedCache? {
        guard let name else { return caches.first }
        return caches.first { $0.spec.name == name }
    }
}
