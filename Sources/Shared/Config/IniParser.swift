/// Reads uWSGI ini text into config entries.
///
/// The rules are uWSGI's: magic variables are substituted first, then each
/// line is trimmed; `[name]` opens a section; lines starting with `;` or `#`
/// are comments; `key = value` splits at the first `=`; a bare `key` has an
/// empty value (true for booleans). There are no inline comments, quotes,
/// escapes or continuation lines. Only the requested section is kept.
enum IniParser {
    struct Line {
        let number: Int
        let key: String
        let value: String
    }

    struct Result {
        var lines: [Line] = []
        var sectionFound = false
    }

    static func parse(
        _ text: String, section: String, file: MagicVariables, top: MagicVariables, context: MagicContext,
        displayPath: String, warn: (ConfigDiagnostic) -> Void
    ) -> Result {
        var result = Result()
        var current = ""
        var number = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            let origin = Origin.file(path: displayPath, line: number)
            let substituted = MagicSubstitution.apply(
                String(rawLine), file: file, top: top, context: context,
                warn: { warn(ConfigDiagnostic(origin, $0)) })
            let line = substituted.trimmed(" \t\r")
            if line.isEmpty || line.hasPrefix(";") || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") {
                // uWSGI takes everything after "[" minus the last character.
                current = String(line.dropFirst().dropLast())
                if current == section { result.sectionFound = true }
                continue
            }
            guard current == section else { continue }
            if let (key, value) = line.splitOnce("=") {
                result.lines.append(Line(number: number, key: key.trimmed(" \t"), value: value.trimmed(" \t")))
            } else {
                result.lines.append(Line(number: number, key: line, value: ""))
            }
        }
        return result
    }
}
