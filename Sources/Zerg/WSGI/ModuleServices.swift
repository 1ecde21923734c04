#if canImport(Glibc)
import Glibc
#endif
import PythonGlue
import Shared
import ZergCore

/// The `uwsgi` module's process-wide calls: user locks and shared caches (in
/// the master's `SharedArea`), and signals (registered with the master, which
/// routes them; see `Master+Signals`). Python reaches `call` through
/// `_hadjango.api(operation, …)` from any thread: at import, in a request, in
/// the app's own threads. The bootstrap's wrappers give it plain arguments
/// (bytes keys and values, ints, a cache name or None).
final class ModuleServices {
    /// `_hadjango.api`'s first argument; the bootstrap gets the names (`pythonName`).
    enum Operation: Int, CaseIterable {
        case lock = 1, unlock, isLocked
        case registerSignal, raiseSignal, addTimer, addCron
        case cacheGet, cacheSet, cacheUpdate, cacheDelete, cacheExists, cacheClear

        var pythonName: String {
            switch self {
            case .lock: return "lock"
            case .unlock: return "unlock"
            case .isLocked: return "is_locked"
            case .registerSignal: return "register_signal"
            case .raiseSignal: return "signal"
            case .addTimer: return "add_timer"
            case .addCron: return "add_cron"
            case .cacheGet: return "cache_get"
            case .cacheSet: return "cache_set"
            case .cacheUpdate: return "cache_update"
            case .cacheDelete: return "cache_del"
            case .cacheExists: return "cache_exists"
            case .cacheClear: return "cache_clear"
            }
        }
    }

    /// The worker's control channel, written only: a report is one write(2) of
    /// a few bytes on a unix stream socket, which the kernel queues whole, so
    /// this thread and the worker's loop never interleave frames.
    private let master: FileDescriptor
    let area: SharedArea?
    /// Caches that logged a value too large to store (every `api` call holds the GIL).
    private var tooLargeNoted: Set<String> = []

    init(master: FileDescriptor, area: SharedArea?) {
        self.master = master
        self.area = area
    }

    static let callback: @convention(c) (UnsafeMutableRawPointer?, PyPtr?) -> PyPtr? = { services, args in
        guard let services, let args else { return Py.raise(Int32(PG_RUNTIME_ERROR), "the uwsgi module is not ready in this process") }
        return Unmanaged<ModuleServices>.fromOpaque(services).takeUnretainedValue().call(Arguments(args))
    }

    /// `_hadjango.api`'s tuple.
    struct Arguments {
        let tuple: PyPtr
        init(_ tuple: PyPtr) { self.tuple = tuple }
        var count: Int { pg_sequence_size(tuple) }
        func int(_ i: Int) -> Int? {
            guard i < count, let o = pg_tuple_item(tuple, i), pg_is_long(o) != 0 else { return nil }
            let v = pg_long_value(o)
            if v == -1 && pg_error_pending() != 0 { pg_error_clear(); return nil }
            return v
        }
        /// A bytes argument's memory (valid while the tuple lives).
        func bytes(_ i: Int) -> UnsafeRawBufferPointer? {
            guard i < count, let o = pg_tuple_item(tuple, i), pg_is_bytes(o) != 0 else { return nil }
            return UnsafeRawBufferPointer(start: pg_bytes_data(o), count: pg_bytes_size(o))
        }
        /// A str argument; nil for None (or anything else).
        func text(_ i: Int) -> String? {
            guard i < count, let o = pg_tuple_item(tuple, i) else { return nil }
            return Py.text(o)
        }
    }

    func call(_ a: Arguments) -> PyPtr? {
        guard let raw = a.int(0), let operation = Operation(rawValue: raw) else {
            return Py.raise(Int32(PG_VALUE_ERROR), "_hadjango.api: unknown operation")
        }
        switch operation {
        case .lock, .unlock, .isLocked:
            return userLock(operation, a.int(1) ?? 0)
        case .registerSignal, .raiseSignal, .addTimer, .addCron:
            guard let n = a.int(1), let number = UInt8(exactly: n) else {
                return Py.raise(Int32(PG_VALUE_ERROR), "uwsgi.\(operation.pythonName)(): a signal number is 0 to 255")
            }
            return signal(operation, number, a)
        case .cacheGet, .cacheSet, .cacheUpdate, .cacheDelete, .cacheExists, .cacheClear:
            return cache(operation, a)
        }
    }

    // MARK: locks

    private func userLock(_ operation: Operation, _ n: Int) -> PyPtr? {
        guard let lock = area?.lock(n) else {
            return Py.raise(Int32(PG_VALUE_ERROR), "uwsgi.\(operation.pythonName)(\(n)): no such lock (`locks = \(area?.locks ?? 0)` gives locks 0 to \(area?.locks ?? 0))")
        }
        switch operation {
        case .lock:
            do {
                var taken = try lock.tryLock()
                // Held elsewhere: wait without the GIL, so this process's other threads go on.
                if taken == .busy { taken = try Interpreter.withoutGIL { try lock.lock() } }
                if taken == .ownerDied { Log.info("uwsgi lock \(n): its holder died holding it; taken over") }
                return Py.newNone()
            } catch {
                return Py.raise(Int32(PG_RUNTIME_ERROR), "uwsgi.lock(\(n)): \(error)")
            }
        case .unlock:
            guard lock.unlock() else { return Py.raise(Int32(PG_RUNTIME_ERROR), "uwsgi.unlock(\(n)): this thread does not hold lock \(n)") }
            return Py.newNone()
        default:
            return Py.bool(lock.isLocked)
        }
    }

    // MARK: signals

    private func signal(_ operation: Operation, _ number: UInt8, _ a: Arguments) -> PyPtr? {
        let report: WorkerReport
        switch operation {
        case .registerSignal:
            let name = a.text(2) ?? ""
            switch SignalTarget.parse(name) {
            case .target(let target):
                report = .registerSignal(number, target)
            case .notOffered(let what):
                Log.info("uwsgi.register_signal(\(number), '\(what)'): mules, spoolers and farms are not offered; a worker runs it")
                report = .registerSignal(number, .anyWorker)
            case .unknown(let what):
                return Py.raise(Int32(PG_VALUE_ERROR), "uwsgi.register_signal(\(number), '\(what)'): unknown target (worker, workerN, workers, active-workers)")
            }
        case .raiseSignal:
            report = .raiseSignal(number)
        case .addTimer:
            guard let seconds = a.int(2), seconds > 0, let iterations = a.int(3), iterations >= 0 else {
                return Py.raise(Int32(PG_VALUE_ERROR), "uwsgi.add_timer(\(number), seconds): seconds ≥ 1 (iterations ≥ 0)")
            }
            report = .addTimer(number, seconds: UInt32(clamping: seconds), iterations: UInt32(clamping: iterations))
        default:
            let fields = (2..<7).compactMap { a.int($0) }
            let limits = [59, 23, 31, 12, 6]
            guard fields.count == 5, zip(fields, limits).allSatisfy({ field, limit in field == -1 || (-limit...limit).contains(field) }) else {
                return Py.raise(Int32(PG_VALUE_ERROR), "uwsgi.add_cron(\(number), minute, hour, day, month, weekday): -1 for any, -N for every N")
            }
            report = .addCron(number, fields.map { Int32($0) })
        }
        do {
            try master.writeAll(ControlFrame.encode(report))
            return Py.newNone()
        } catch {
            return Py.raise(Int32(PG_OS_ERROR), "uwsgi.\(operation.pythonName)(): the master cannot be told: \(error)")
        }
    }

    // MARK: caches

    private func cache(_ operation: Operation, _ a: Arguments) -> PyPtr? {
        let name = a.text(1)
        guard let cache = area?.cache(name) else {
            let configured = area?.caches.map(\.spec.name) ?? []
            if let name, name.contains("@") {
                return Py.raise(Int32(PG_VALUE_ERROR), "uwsgi.\(operation.pythonName)(): remote caches (`name@server`) are not offered")
            }
            return Py.raise(Int32(PG_VALUE_ERROR), configured.isEmpty
                ? "uwsgi.\(operation.pythonName)(): no cache is configured (`cache2 = name=NAME,items=N`)"
                : "uwsgi.\(operation.pythonName)(): no cache named `\(name ?? "")` (configured: \(configured.joined(separator: ", ")))")
        }
        let now = Timestamp.now().seconds
        if operation == .cacheClear {
            cache.clear()
            return Py.bool(true, orNone: true)
        }
        guard let key = a.bytes(2) else { return Py.raise(Int32(PG_TYPE_ERROR), "uwsgi.\(operation.pythonName)(): the key is str or bytes") }
        switch operation {
        case .cacheGet:
            return cache.get(key, now: now) { value in
                value.map { v in pg_bytes_new(v.baseAddress?.assumingMemoryBound(to: CChar.self), v.count)! } ?? Py.newNone()
            }
        case .cacheSet, .cacheUpdate:
            guard let value = a.bytes(3), let expires = a.int(4) else {
                return Py.raise(Int32(PG_TYPE_ERROR), "uwsgi.\(operation.pythonName)(): the value is str or bytes, expires an int")
            }
            let stored = cache.store(key, value, expires: Int64(max(0, expires)), now: now, overwrite: operation == .cacheUpdate)
            if stored == .tooLarge, !tooLargeNoted.contains(cache.spec.name) {
                tooLargeNoted.insert(cache.spec.name)  // once per cache and process: the caller gets None each time
                Log.info("cache `\(cache.spec.name)`: a \(key.count)-byte key with a \(value.count)-byte value is not stored (keysize \(cache.spec.keysize), blocksize \(cache.spec.blocksize))")
            }
            return Py.bool(stored == .stored, orNone: true)
        case .cacheDelete:
            return Py.bool(cache.delete(key, now: now), orNone: true)
        default:
            return Py.bool(cache.exists(key, now: now), orNone: true)
        }
    }
}
