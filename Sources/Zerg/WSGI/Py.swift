import PythonGlue

/// A Python object pointer (a reference the holder owns unless said otherwise).
typealias PyPtr = OpaquePointer

/// Small helpers over the C API for the worker's hot path.
enum Py {
    static var none: PyPtr { pg_none() }

    /// A new reference to None.
    static func newNone() -> PyPtr {
        pg_incref(pg_none())
        return pg_none()
    }

    /// A new str from latin-1 bytes (PEP 3333's "native strings").
    @inline(__always)
    static func latin1(_ bytes: UnsafeBufferPointer<UInt8>) -> PyPtr {
        bytes.withMemoryRebound(to: CChar.self) { pg_unicode_latin1($0.baseAddress, $0.count)! }
    }

    static func latin1(_ bytes: ArraySlice<UInt8>) -> PyPtr {
        bytes.withUnsafeBufferPointer { latin1($0) }
    }

    static func string(_ text: String) -> PyPtr {
        var t = text
        return t.withUTF8 { buf in
            buf.withMemoryRebound(to: CChar.self) { pg_unicode_utf8($0.baseAddress, $0.count)! }
        }
    }

    static func interned(_ text: String) -> PyPtr { pg_unicode_interned(text)! }

    static func bytes(_ data: [UInt8]) -> PyPtr {
        data.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { pg_bytes_new($0.baseAddress, $0.count)! }
        }
    }

    static func int(_ n: Int) -> PyPtr { pg_long(n)! }

    /// A new reference to True or False; `orNone`: None instead of False (the
    /// uwsgi module's convention: True on success, None otherwise).
    static func bool(_ value: Bool, orNone: Bool = false) -> PyPtr {
        let o = value ? pg_true()! : orNone ? pg_none()! : pg_false()!
        pg_incref(o)
        return o
    }

    /// Sets `dict[key] = value` and releases `value` (the dict keeps its own reference).
    @inline(__always)
    static func setStealing(_ dict: PyPtr, _ key: PyPtr, _ value: PyPtr) {
        pg_dict_set(dict, key, value)
        pg_decref(value)
    }

    /// The bytes of a str (UTF-8) for log lines; nil when not a str.
    static func text(_ object: PyPtr) -> String? {
        guard pg_is_unicode(object) != 0 else { return nil }
        var size = 0
        guard let p = pg_unicode_utf8_of(object, &size) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: size), as: UTF8.self)
    }

    /// Pending exception as (summary, traceback), cleared.
    static func fetchException() -> (summary: String, traceback: String)? {
        var summary: UnsafeMutablePointer<CChar>?
        var traceback: UnsafeMutablePointer<CChar>?
        guard pg_fetch_exception(&summary, &traceback) != 0 else { return nil }
        defer { free(summary); free(traceback) }
        return (summary.map { String(cString: $0) } ?? "exception", traceback.map { String(cString: $0) } ?? "")
    }

    static func raise(_ kind: Int32, _ message: String) -> PyPtr? {
        pg_set_error(kind, message)
        return nil
    }
}

#if canImport(Glibc)
import Glibc
#endif
