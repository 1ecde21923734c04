import Shared

/// Renders the option registry as the Markdown of docs/options.md.
enum OptionReference {
    static func markdown() -> String {
        var out = """
            # Options

            Generated from the option registry (`Sources/Shared/Config/OptionTable.swift`) by
            `emperor --options-markdown`; a test keeps this file and the registry in step.

            Status: **yes** = implemented; **later** = parsed and checked now, acted on by a program
            that a later issue builds; **no effect** = accepted so uWSGI files load unchanged;
            **rejected** = an error that says why.

            | option | aliases | type | default | used by | status | what it does | difference from uWSGI |
            |---|---|---|---|---|---|---|---|

            """
        for spec in OptionTable.all {
            let status: String
            switch spec.support {
            case .supported: status = "yes"
            case .planned(let why): status = "later (\(why))"
            case .noEffect(let why): status = "no effect: \(why)"
            case .unsupported(let why): status = "rejected: \(why)"
            }
            let cells = [
                "`\(spec.name)`", spec.aliases.map { "`\($0)`" }.joined(separator: ", "),
                spec.type.rawValue + (spec.isList ? " (repeatable)" : ""), spec.defaultValue.map { "`\($0)`" } ?? "",
                spec.roles.names.joined(separator: ", "), status, spec.doc, spec.difference,
            ]
            out += "| " + cells.map { $0.replacingAll("|", with: "\\|") }.joined(separator: " | ") + " |\n"
        }
        out += """

            ## uWSGI options not offered

            Every other option of uWSGI 2.0 (its core and the plugins a Python site uses), by
            where uWSGI declares it. In a config they are named once at start (`uWSGI options
            not offered here, ignored: ...`) and refused under `strict`; any other unknown key
            is a placeholder, as in uWSGI.


            """
        let bySource = Dictionary(grouping: UWSGIOptionCatalogue.all.filter { OptionTable.spec($0.name) == nil }, by: \.source)
        for source in bySource.keys.sorted() {
            out += "- **\(source)**: " + bySource[source]!.map { "`\($0.name)`" }.joined(separator: ", ") + "\n"
        }
        return out
    }
}
