/// Byte classes of RFC 9110/9112, and small helpers over byte slices.
public enum HTTPBytes {
    static let cr: UInt8 = 13
    static let lf: UInt8 = 10
    static let space: UInt8 = 32
    static let tab: UInt8 = 9
    static let colon: UInt8 = 58

    /// tchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    public static let token: [Bool] = {
        var table = [Bool](repeating: false, count: 256)
        for c in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(c)] = true }
        for c in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(c)] = true }
        for c in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(c)] = true }
        for c in "!#$%&'*+-.^_`|~".utf8 { table[Int(c)] = true }
        return table
    }()

    @inline(__always) public static func isToken(_ c: UInt8) -> Bool { token[Int(c)] }

    /// Field values may hold VCHAR, obs-text, SP and HTAB; no other control character.
    @inline(__always) public static func isValueByte(_ c: UInt8) -> Bool { c >= 32 ? c != 127 : c == tab }

    /// Request-target bytes: visible ASCII (and obs-text is refused too: targets are ASCII).
    @inline(__always) static func isTargetByte(_ c: UInt8) -> Bool { c > 32 && c < 127 }

    @inline(__always) public static func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c | 0x20 : c }

    public static func equalsIgnoringCase<C: Collection>(_ bytes: C, _ text: String) -> Bool where C.Element == UInt8 {
        guard bytes.count == text.utf8.count else { return false }
        return zip(bytes, text.utf8).allSatisfy { lower($0) == lower($1) }
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
