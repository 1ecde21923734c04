#if canImport(Glibc)
import Glibc
#endif
import CSupport

/// A region of memory shared by a master and the processes it starts
/// (memfd_create + mmap(MAP_SHARED)); the fd is handed to children like a socket.
/// Holds 64-bit counters read and written with relaxed atomics.
public struct SharedMemory: @unchecked Sendable {
    public let fd: FileDescriptor
    public let count: Int
    let base: UnsafeMutablePointer<Int64>

    /// A new zeroed region of `count` 64-bit counters.
    public static func create(name: String, count: Int) throws(SystemError) -> SharedMemory {
        let fd = try memfd(name: name)
        do {
            try Syscall.call("ftruncate", name) { ftruncate(fd.rawValue, off_t(count * 8)) }
            return try SharedMemory(mapping: fd, count: count)
        } catch {
            fd.close()
            throw error
        }
    }

    /// memfd_create(MFD_CLOEXEC): an anonymous file.
    static func memfd(name: String) throws(SystemError) -> FileDescriptor {
        FileDescriptor(rawValue: try Syscall.call("memfd_create", name) { cs_memfd(name) })
    }

    /// An anonymous file (memfd, CLOEXEC) holding `contents`, positioned at its start:
    /// a way to hand bytes to a process started by exec.
    public static func anonymousFile(name: String, contents: [UInt8]) throws(SystemError) -> FileDescriptor {
        let fd = try memfd(name: name)
        do {
            try fd.writeAll(contents)
            try fd.seek(to: 0)
        } catch {
            fd.close()
            throw error
        }
        return fd
    }

    /// The other end of `anonymousFile`: the contents of the anonymous file whose
    /// fd number the environment variable names (set by the image this process
    /// replaced), read and closed, the variable cleared; nil when there is none
    /// or it cannot be read.
    public static func takeAnonymousFile(named variable: String, from environment: [String: String]) -> [UInt8]? {
        guard let text = environment[variable], let raw = Int32(text) else { return nil }
        Host.unsetEnvironment(variable)
        guard let fd = try? FileDescriptor.inherited(raw, what: variable) else { return nil }
        defer { fd.close() }
        guard (try? fd.seek(to: 0)) != nil else { return nil }
        return try? fd.readToEnd()
    }

    /// Maps a region received from the parent (`count` counters from byte
    /// `offset`, a multiple of the page size).
    public init(mapping fd: FileDescriptor, count: Int, offset: Int = 0) throws(SystemError) {
        // mmap returns a pointer, MAP_FAILED (-1) on error: as an Int it fits `Syscall`'s convention.
        let address = try Syscall.call("mmap", fd.description) {
            Int(bitPattern: mmap(nil, count * 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd.rawValue, off_t(offset)))
        }
        guard let p = UnsafeMutableRawPointer(bitPattern: address) else { throw SystemError("mmap", fd.description, errno: ENOMEM) }
        self.fd = fd
        self.count = count
        base = p.bindMemory(to: Int64.self, capacity: count)
    }

    public subscript(index: Int) -> Int64 {
        get { index < count ? cs_atomic_load(base + index) : 0 }
        nonmutating set { if index < count { cs_atomic_store(base + index, newValue) } }
    }

    /// Raw bytes starting at 64-bit word `word` (bounds-checked against the region).
    public func withBytes<T>(fromWord word: Int, count bytes: Int, _ body: (UnsafeMutableRawBufferPointer) -> T) -> T {
        let available = max(0, (count - word) * 8)
        let n = max(0, min(bytes, available))
        return body(UnsafeMutableRawBufferPointer(start: UnsafeMutableRawPointer(base + min(word, count)), count: n))
    }

    /// The region's first byte: for structures laid out in it by byte offset
    /// (`count * 8` bytes long).
    public var bytes: UnsafeMutableRawPointer { UnsafeMutableRawPointer(base) }

    /// Unmaps the region only: the fd stays open (a first, shorter mapping made
    /// to read a header).
    public func unmap() {
        _ = try? Syscall.call("munmap", fd.description) { munmap(base, count * 8) }
    }

    /// Unmaps the region and closes its fd (no copy of this value may be used after).
    public func release() {
        _ = try? Syscall.call("munmap", fd.description) { munmap(base, count * 8) }
        fd.close()
    }

    /// A full fence (see `cs_atomic_fence`).
    public static func fence() { cs_atomic_fence() }

    @discardableResult
    public func add(_ index: Int, _ delta: Int64) -> Int64 {
        index < count ? cs_atomic_add(base + index, delta) : 0
    }
}
