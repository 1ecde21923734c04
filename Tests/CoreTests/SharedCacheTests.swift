#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Shared
@testable import ZergCore

/// The shared area's cache and locks, in one process (the integration tests
/// in ZergTests cover workers sharing them).
@Suite struct SharedCacheTests {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func get(_ cache: SharedCache, _ key: String, now: Int64 = 1000) -> String? {
        bytes(key).withUnsafeBytes { k in cache.get(k, now: now) { $0.map { String(decoding: $0, as: UTF8.self) } } }
    }

    func store(_ cache: SharedCache, _ key: String, _ value: String, expires: Int64 = 0, now: Int64 = 1000, overwrite: Bool = true) -> SharedCache.Stored {
        bytes(key).withUnsafeBytes { k in bytes(value).withUnsafeBytes { v in cache.store(k, v, expires: expires, now: now, overwrite: overwrite) } }
    }

    func delete(_ cache: SharedCache, _ key: String) -> Bool { bytes(key).withUnsafeBytes { cache.delete($0, now: 1000) } }

    @Test func setGetUpdateDelete() throws {
        let area = try SharedArea.create(locks: 0, caches: [CacheSpec(name: "c", items: 4, blocksize: 16, keysize: 8, hashsize: 2)])
        defer { area.memory.release() }
        let cache = try #require(area.cache(nil))
        #expect(get(cache, "a") == nil)
        #expect(store(cache, "a", "one", overwrite: false) == .stored)
        #expect(store(cache, "a", "two", overwrite: false) == .exists, "cache_set does not overwrite")
        #expect(get(cache, "a") == "one")
        #expect(store(cache, "a", "two") == .stored, "cache_update does")
        #expect(get(cache, "a") == "two")
        #expect(store(cache, "a", "") == .stored)
        #expect(get(cache, "a") == "", "an empty value is a value")
        #expect(store(cache, "long-key!", "x") == .tooLarge)
        #expect(store(cache, "b", String(repeating: "v", count: 17)) == .tooLarge)
        // Chains: more keys than buckets.
        for k in ["b", "c", "d"] { #expect(store(cache, k, k.uppercased()) == .stored) }
        #expect(["a", "b", "c", "d"].map { get(cache, $0) } == ["", "B", "C", "D"])
        #expect(store(cache, "e", "E") == .full)
        #expect(delete(cache, "c") && !delete(cache, "c"))
        #expect(store(cache, "e", "E") == .stored, "a deleted item's slot is used again")
        #expect(["a", "b", "c", "d", "e"].map { get(cache, $0) } == ["", "B", nil, "D", "E"])
        cache.clear()
        #expect(cache.count == 0 && get(cache, "b") == nil)
    }

    @Test func expiredItemsAreAbsentAndTheirSlotsReclaimed() throws {
        let area = try SharedArea.create(locks: 0, caches: [CacheSpec(name: "c", items: 2, blocksize: 8, keysize: 8, hashsize: 8)])
        defer { area.memory.release() }
        let cache = try #require(area.cache("c"))
        #expect(store(cache, "a", "1", expires: 10, now: 1000) == .stored)
        #expect(store(cache, "b", "2", expires: 0, now: 1000) == .stored)
        #expect(get(cache, "a", now: 1009) == "1")
        #expect(get(cache, "a", now: 1010) == nil, "expired at now + expires")
        #expect(store(cache, "c", "3", expires: 5, now: 1000) == .stored, "the slot `a` held came back")
        #expect(store(cache, "d", "4", now: 2000) == .stored, "a full cache reclaims expired items first")
        #expect(get(cache, "b", now: 2000) == "2")
        #expect(delete(cache, "b") && store(cache, "far", "x", expires: .max, now: 1000) == .stored, "an expiry past Int64 is never")
        #expect(get(cache, "far", now: .max) == "x")
    }

    @Test func anotherMappingSeesTheSameCacheAndLocks() throws {
        let specs = [CacheSpec(name: "first", items: 8), CacheSpec(name: "second", items: 3, blocksize: 100, keysize: 10, hashsize: 5)]
        let area = try SharedArea.create(locks: 2, caches: specs)
        defer { area.memory.release() }
        let other = try SharedArea.attach(fd: area.memory.fd)
        defer { other.memory.unmap() }
        #expect(other.locks == 2 && other.caches.map(\.spec) == specs)
        #expect(other.matches(locks: 2, caches: specs) && !other.matches(locks: 1, caches: specs))
        #expect(store(try #require(area.cache("second")), "k", "v") == .stored)
        #expect(get(try #require(other.cache("second")), "k") == "v")
        #expect(other.cache("third") == nil && other.lock(3) == nil)
        let lock = try #require(area.lock(2))
        #expect(try lock.lock() == .acquired)
        #expect(other.lock(2)?.isLocked == true && other.lock(1)?.isLocked == false)
        #expect(lock.unlock())
        #expect(!lock.unlock(), "unlocking what this thread does not hold fails")
    }

    @Test func cacheLinesAreParsedAndRefusedWithTheirLine() throws {
        let config = try ConfigLoader(role: .zerg).load(arguments: [
            "--cache2", "name=a,items=10,blocksize=1k", "--cache2", "name=b,items=5,store=/tmp/x",
            "--cache2", "items=3", "--cache2", "name=a,items=2", "--cache", "7"])
        var problems: [ConfigDiagnostic] = []
        let specs = CacheSpec.all(in: config, problems: &problems)
        #expect(specs == [CacheSpec(name: "default", items: 7), CacheSpec(name: "a", items: 10, blocksize: 1024)])
        #expect(problems.count == 3)
        #expect(problems[0].message.contains("keys not offered here: store"))
        #expect(problems[1].message.contains("expected `name=NAME,items=N"))
        #expect(problems[2].message.contains("a cache named `a` is defined twice"))
    }
}
