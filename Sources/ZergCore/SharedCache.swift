#if canImport(Glibc)
import Glibc
#endif
import Shared

/// A key → bytes table in memory every worker of a zerg maps (uWSGI's
/// `cache2`): what one worker stores, the others read. Fixed geometry from
/// `CacheSpec`: `items` slots of `keysize` + `blocksize` bytes, `hashsize`
/// chained buckets, one process-shared lock around every operation (they only
/// copy bytes, never run Python). Expired items count as absent and are
/// reclaimed when met, or all at once when no slot is free.
///
///     [lock 64][meta 64][buckets hashsize × Int32][slot 0][slot 1]…
///     slot: [next Int32][key length Int32][value length Int64][expires Int64][key][value]
///
/// Links hold slot + 1 (0: none). Slots are handed out from a free list, then
/// from a high-water mark, so a large empty cache touches no page.
public struct SharedCache: @unchecked Sendable {
    public let spec: CacheSpec
    let base: UnsafeMutableRawPointer

    static let metaOffset = ProcessLock.stride
    static let bucketsOffset = metaOffset + 64
    static let slotHeader = 24

    /// Bytes a cache of this geometry takes (a multiple of 64).
    public static func bytes(_ spec: CacheSpec) -> Int {
        align(align(bucketsOffset + spec.hashsize * 4, 8) + spec.items * slotBytes(spec), 64)
    }

    static func slotBytes(_ spec: CacheSpec) -> Int { align(slotHeader + spec.keysize + spec.blocksize, 8) }

    static func align(_ n: Int, _ to: Int) -> Int { (n + to - 1) / to * to }

    public init(spec: CacheSpec, at base: UnsafeMutableRawPointer) {
        self.spec = spec
        self.base = base
    }

    var lock: ProcessLock { ProcessLock(at: base) }

    // meta words
    private enum Meta: Int { case freeHead = 0, used = 1, highWater = 2, fullNoted = 3 }
    private func meta(_ m: Meta) -> Int64 { base.load(fromByteOffset: Self.metaOffset + m.rawValue * 8, as: Int64.self) }
    private func setMeta(_ m: Meta, _ v: Int64) { base.storeBytes(of: v, toByteOffset: Self.metaOffset + m.rawValue * 8, as: Int64.self) }

    private var buckets: UnsafeMutablePointer<Int32> { (base + Self.bucketsOffset).assumingMemoryBound(to: Int32.self) }
    private func slot(_ i: Int) -> UnsafeMutableRawPointer {
        base + Self.align(Self.bucketsOffset + spec.hashsize * 4, 8) + i * Self.slotBytes(spec)
    }
    private func next(_ s: UnsafeMutableRawPointer) -> UnsafeMutablePointer<Int32> { s.assumingMemoryBound(to: Int32.self) }
    private func keyLength(_ s: UnsafeMutableRawPointer) -> Int { Int(s.load(fromByteOffset: 4, as: Int32.self)) }
    private func valueLength(_ s: UnsafeMutableRawPointer) -> Int { Int(s.load(fromByteOffset: 8, as: Int64.self)) }
    private func expires(_ s: UnsafeMutableRawPointer) -> Int64 { s.load(fromByteOffset: 16, as: Int64.self) }

    /// The region's creator, once: the lock, and an empty table (the memory is zeroed).
    public func format() throws(SystemError) {
        try lock.initialize()
    }

    public enum Stored: Equatable {
        case stored
        /// `cache_set` of a key present (uWSGI's set does not overwrite).
        case exists
        case tooLarge
        case full
    }

    /// Runs `body` with the value stored under `key` (nil: absent or expired).
    public func get<T>(_ key: UnsafeRawBufferPointer, now: Int64, _ body: (UnsafeRawBufferPointer?) -> T) -> T {
        locked {
            guard let (i, _) = locate(key, now: now) else { return body(nil) }
            let s = slot(i)
            return body(UnsafeRawBufferPointer(start: s + Self.slotHeader + spec.keysize, count: valueLength(s)))
        }
    }

    public func exists(_ key: UnsafeRawBufferPointer, now: Int64) -> Bool {
        locked { locate(key, now: now) != nil }
    }

    /// `expires`: seconds from `now`, 0 for never. `overwrite`: uWSGI's
    /// `cache_update` (true) or `cache_set` (false).
    public func store(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, expires: Int64, now: Int64, overwrite: Bool) -> Stored {
        guard !key.isEmpty, key.count <= spec.keysize, value.count <= spec.blocksize else { return .tooLarge }
        return locked {
            let i: Int
            if let (found, _) = locate(key, now: now) {
                guard overwrite else { return .exists }
                i = found
            } else {
                guard let free = takeSlot(now: now) else {
                    if meta(.fullNoted) == 0 {
                        setMeta(.fullNoted, 1)
                        Log.info("cache `\(spec.name)`: full (\(spec.items) items); values are not stored until some are deleted or expire")
                    }
                    return .full
                }
                i = free
                let s = slot(i)
                s.storeBytes(of: Int32(key.count), toByteOffset: 4, as: Int32.self)
                (s + Self.slotHeader).copyMemory(from: key.baseAddress!, byteCount: key.count)
                let b = bucket(key)
                next(s).pointee = buckets[b]
                buckets[b] = Int32(i + 1)
                setMeta(.used, meta(.used) + 1)
            }
            let s = slot(i)
            s.storeBytes(of: Int64(value.count), toByteOffset: 8, as: Int64.self)
            let (at, overflow) = now.addingReportingOverflow(expires)
            s.storeBytes(of: expires > 0 && !overflow ? at : 0, toByteOffset: 16, as: Int64.self)  // past Int64: never
            if let v = value.baseAddress { (s + Self.slotHeader + spec.keysize).copyMemory(from: v, byteCount: value.count) }
            return .stored
        }
    }

    /// true when the key was there.
    @discardableResult
    public func delete(_ key: UnsafeRawBufferPointer, now: Int64) -> Bool {
        locked {
            guard let (i, link) = locate(key, now: now) else { return false }
            unlink(i, link)
            return true
        }
    }

    public func clear() { locked { empty() } }

    /// Items stored (expired ones not yet reclaimed included).
    public var count: Int { locked { Int(meta(.used)) } }

    // MARK: under the lock

    /// The lock held around `body`. A holder that died mid-change may have
    /// left the chains broken: the cache is emptied, and says so.
    private func locked<T>(_ body: () -> T) -> T {
        if (try? lock.lock()) == .ownerDied {
            empty()
            Log.info("cache `\(spec.name)`: a process died while changing it; emptied")
        }
        defer { lock.unlock() }
        return body()
    }

    private func empty() {
        (base + Self.bucketsOffset).initializeMemory(as: UInt8.self, repeating: 0, count: spec.hashsize * 4)
        for m in [Meta.freeHead, .used, .highWater, .fullNoted] { setMeta(m, 0) }
    }

    private func bucket(_ key: UnsafeRawBufferPointer) -> Int {
        var h: UInt32 = 2_166_136_261  // FNV-1a
        for byte in key { h = (h ^ UInt32(byte)) &* 16_777_619 }
        return Int(h % UInt32(spec.hashsize))
    }

    /// The slot holding `key` and the link pointing to it; an expired one is reclaimed and not found.
    private func locate(_ key: UnsafeRawBufferPointer, now: Int64) -> (Int, UnsafeMutablePointer<Int32>)? {
        var link = buckets + bucket(key)
        while link.pointee != 0 {
            let i = Int(link.pointee) - 1
            let s = slot(i)
            if keyLength(s) == key.count, memcmp(s + Self.slotHeader, key.baseAddress!, key.count) == 0 {
                let e = expires(s)
                if e != 0 && e <= now {
                    unlink(i, link)
                    return nil
                }
                return (i, link)
            }
            link = next(s)
        }
        return nil
    }

    private func unlink(_ i: Int, _ link: UnsafeMutablePointer<Int32>) {
        let s = slot(i)
        link.pointee = next(s).pointee
        s.storeBytes(of: Int32(0), toByteOffset: 4, as: Int32.self)
        next(s).pointee = Int32(truncatingIfNeeded: meta(.freeHead))
        setMeta(.freeHead, Int64(i + 1))
        setMeta(.used, meta(.used) - 1)
        setMeta(.fullNoted, 0)
    }

    private func takeSlot(now: Int64) -> Int? {
        if let i = popFree() { return i }
        let high = Int(meta(.highWater))
        if high < spec.items {
            setMeta(.highWater, Int64(high + 1))
            return high
        }
        reclaimExpired(now: now)
        return popFree()
    }

    private func popFree() -> Int? {
        let head = Int(meta(.freeHead))
        guard head != 0 else { return nil }
        setMeta(.freeHead, Int64(next(slot(head - 1)).pointee))
        return head - 1
    }

    private func reclaimExpired(now: Int64) {
        for b in 0..<spec.hashsize {
            var link = buckets + b
            while link.pointee != 0 {
                let i = Int(link.pointee) - 1
                let e = expires(slot(i))
                if e != 0 && e <= now { unlink(i, link) } else { link = next(slot(i)) }
            }
        }
    }
}
