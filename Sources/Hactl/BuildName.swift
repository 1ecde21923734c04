/// Build names and their ports, the seed's scheme with consistent numbering:
/// names are bijective base 26 (a…z, aa, ab, …), build n (a = 1) listens on
/// `base + (n - 1) × 10`, and an optional digit suffix adds 0–9 (`b3` = 2013).
/// (The seed's decoder gives `aa` the port of `z`, 2250; its encoder says 2260.
/// Here `aa` is 2260 both ways.)
enum BuildName {
    static let maxLetters = 3

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    /// The port of a build name.
    static func port(of name: String, base: Int) throws -> Int {
        let letters = name.prefix { ("a"..."z").contains($0) }
        let rest = name.dropFirst(letters.count)
        guard !letters.isEmpty, letters.count <= maxLetters else {
            throw Invalid(description: "`\(name)` is not a build name: 1 to \(maxLetters) letters a-z, then at most one digit (a, b, …, z, aa, …, b3)")
        }
        guard rest.isEmpty || (rest.count == 1 && rest.first!.isNumber) else {
            throw Invalid(description: "`\(name)` is not a build name: only one digit may follow the letters (b3, not b33 or b-3)")
        }
        var n = 0
        for c in letters.unicodeScalars { n = n * 26 + Int(c.value - 96) }
        let port = base + (n - 1) * 10 + (Int(String(rest)) ?? 0)
        guard port <= 65535 else { throw Invalid(description: "`\(name)` would listen on \(port), above 65535") }
        return port
    }

    /// The build name of a port.
    static func name(of port: Int, base: Int) throws -> String {
        guard port >= base, port <= 65535 else { throw Invalid(description: "port \(port) is below the base port \(base): no build listens there") }
        var n = (port - base) / 10 + 1
        let digit = (port - base) % 10
        var letters = ""
        while n > 0 {
            n -= 1
            letters = String(UnicodeScalar(UInt8(97 + n % 26))) + letters
            n /= 26
        }
        guard letters.count <= maxLetters else { throw Invalid(description: "port \(port) maps to `\(letters)`, longer than \(maxLetters) letters") }
        return letters + (digit > 0 ? String(digit) : "")
    }

    /// a, b, …, z, aa, … in order.
    static func sequence(count: Int) -> [String] {
        (0..<count).compactMap { try? name(of: 2000 + $0 * 10, base: 2000) }
    }
}
