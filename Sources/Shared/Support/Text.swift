/// Small string helpers, so the core needs no Foundation (smaller, faster-starting binaries).
extension StringProtocol {
    /// Drops leading and trailing characters found in `set` (default: space, tab, CR, LF).
    public func trimmed(_ set: String = " \t\r\n") -> String {
        // By scalar: "\r\n" is one Character, so a Character test would miss a lone "\n".
        let strip = Set(set.unicodeScalars)
        func drops(_ c: Character) -> Bool { c.unicodeScalars.allSatisfy { strip.contains($0) } }
        var s = Substring(self)
        while let f = s.first, drops(f) { s.removeFirst() }
        while let l = s.last, drops(l) { s.removeLast() }
        return String(s)
    }

    public func hasPrefixIgnoringCase(_ prefix: String) -> Bool {
        lowercased().hasPrefix(prefix.lowercased())
    }
}

extension String {
    /// Splits at the first occurrence of `separator`; nil when it does not occur.
    public func splitOnce(_ separator: Character) -> (String, String)? {
        guard let i = firstIndex(of: separator) else { return nil }
        return (String(self[..<i]), String(self[index(after: i)...]))
    }

    /// uWSGI's keyed option values, `key=value,key=value`, in order (keys
    /// trimmed; an item without `=` is a key with an empty value).
    public func keyValues() -> [(key: String, value: String)] {
        split(separator: ",").map { item in
            let (k, v) = String(item).splitOnce("=") ?? (String(item), "")
            return (k.trimmed(), v)
        }
    }

    /// Replaces every occurrence of `target` (no Foundation needed).
    public func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: target) {
            out += rest[..<r.lowerBound]
            out += replacement
            rest = rest[r.upperBound...]
        }
        out += rest
        return out
    }
}

extension Substring {
    /// First range of `needle`, searched by characters.
    func range(of needle: String) -> Range<Index>? {
        let n = Array(needle)
        guard let first = n.first else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i] == first {
                var j = i
                var k = 0
                while k < n.count, j < endIndex, self[j] == n[k] { j = index(after: j); k += 1 }
                if k == n.count { return i..<j }
            }
            i = index(after: i)
        }
        return nil
    }
}
