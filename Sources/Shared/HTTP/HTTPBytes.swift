import Glibc

/// Byte classes of RFC 9110/9112, and small helpers over byte slices.
public enum HTTPBytes {
    static let cr: UInt8 = 13
    static let lf: UInt8 = 10
    static let space: UInt8 = 32
    static let tab: UInt8 = 9
    static let colon: UInt8 = 58

    /// tchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA,
    /// as two bitmaps over 0–63 and 64–127 (literals: no lazy global on the hot path).
    static let tokenLow: UInt64 = 0x03ff_6cfa_0000_0000
    static let tokenHigh: UInt64 = 0x57ff_ffff_c7ff_fffe

    @inline(__always) public static func isToken(_ c: UInt8) -> Bool {
        c < 64 ? (tokenLow >> UInt64(c)) & 1 == 1 : c < 128 ? (tokenHigh >> UInt64(c &- 64)) & 1 == 1 : false
    }

    /// Field values may hold VCHAR, obs-text, SP and HTAB; no other control character.
    @inline(__always) public static func isValueByte(_ c: UInt8) -> Bool { c >= 32 ? c != 127 : c == tab }

    /// Request-target bytes: visible ASCII (and obs-text is refused too: targets are ASCII).
    @inline(__always) static func isTargetByte(_ c: UInt8) -> Bool { c > 32 && c < 127 }

    /// %XX sequences decoded to bytes (PATH_INFO is the decoded path, as latin-1; a query's values).
    public static func percentDecoded(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        guard bytes.contains(UInt8(ascii: "%")) else { return Array(bytes) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
               let h = ChunkedDecoder.hexValue(bytes[i + 1]), let l = ChunkedDecoder.hexValue(bytes[i + 2]) {
                out.append(UInt8(h << 4 | l))
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    @inline(__always) public static func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c | 0x20 : c }

    public static func equalsIgnoringCase<C: Collection>(_ bytes: C, _ text: String) -> Bool where C.Element == UInt8 {
        guard bytes.count == text.utf8.count else { return false }
        return zip(bytes, text.utf8).allSatisfy { lower($0) == lower($1) }
    }

    /// `b[range]` equals `lowercase` (ASCII, already lower-case) ignoring case.
    @inline(__always)
    static func equalsIgnoringCase(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        let text = lowercase.utf8Start
        var i = 0
        for index in range {
            if lower(b[index]) != text[i] { return false }
            i += 1
        }
        return true
    }

    /// `b[range]` equals `text` exactly.
    @inline(__always)
    static func equals(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ text: StaticString) -> Bool {
        guard range.count == text.utf8CodeUnitCount else { return false }
        return memcmp(b.baseAddress! + range.lowerBound, text.utf8Start, range.count) == 0
    }

    /// Calls `body` with each element of a comma-separated list in `b[range]`,
    /// spaces and tabs trimmed, empty ones skipped unless `keepEmpty`. No allocation.
    @inline(__always)
    static func forEachListElement(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, keepEmpty: Bool = false,
                                   _ body: (Range<Int>) -> Void) {
        var start = range.lowerBound
        while start <= range.upperBound {
            var end = start
            while end < range.upperBound && b[end] != UInt8(ascii: ",") { end += 1 }
            var s = start, e = end
            while s < e && (b[s] == space || b[s] == tab) { s += 1 }
            while e > s && (b[e - 1] == space || b[e - 1] == tab) { e -= 1 }
            if s < e || keepEmpty { body(s..<e) }
            start = end + 1
        }
    }

    /// Splits a comma-separated header value into trimmed, lower-cased elements (empty ones dropped).
    public static func listElements<C: Collection>(_ bytes: C) -> [String] where C.Element == UInt8 {
        bytes.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            .map { String(decoding: $0.map(lower), as: UTF8.self).trimmed(" \t") }
            .filter { !$0.isEmpty }
    }

    /// 1*DIGIT without sign, spaces or overflow.
    public static func parseDecimal<C: Collection>(_ bytes: C) -> Int? where C.Element == UInt8 {
        guard !bytes.isEmpty else { return nil }
        var n = 0
        for c in bytes {
            guard c >= 48 && c <= 57 else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(c - 48))
            if o1 || o2 { return nil }
            n = s
        }
        return n
    }
}
