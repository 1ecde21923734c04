import PythonGlue
import Shared

/// One-line errors for what would otherwise fail in every worker.
enum Preflight {
    static func check(_ s: ZergSettings) -> String? {
        if let dir = s.chdir, !FileSystem.isDirectory(dir) {
            return "chdir \(dir): no such directory"
        }
        if let file = s.wsgiFile {
            let path = file.hasPrefix("/") || s.chdir == nil ? file : FileSystem.joined(s.chdir!, file)
            if !FileSystem.exists(path) { return "wsgi-file \(file): no such file" }
        }
        if let home = s.home {
            guard FileSystem.isDirectory(home) else { return "home \(home): no such directory (it should be a virtualenv)" }
            let isVenv = FileSystem.exists(FileSystem.joined(home, "pyvenv.cfg"))
            let isPrefix = FileSystem.isDirectory(FileSystem.joined(home, "lib/python3.11"))
            if !isVenv && !isPrefix {
                return "home \(home): not a virtualenv (no pyvenv.cfg) nor a Python installation (no lib/python3.11)"
            }
            if isVenv, let venv = venvPythonVersion(FileSystem.joined(home, "pyvenv.cfg")), venv != embeddedPythonVersion {
                return "home \(home): a virtualenv of Python \(venv), but this zerg embeds Python \(embeddedPythonVersion) "
                    + "(recreate it with /usr/bin/python\(embeddedPythonVersion) -m venv)"
            }
        }
        return nil
    }

    /// major.minor of the libpython this binary embeds.
    static var embeddedPythonVersion: String {
        majorMinor(String(cString: pg_version())) ?? "3.11"
    }

    /// major.minor of the Python a virtualenv was made with (`version` or
    /// `version_info` in its pyvenv.cfg); nil when it does not say.
    static func venvPythonVersion(_ cfg: String) -> String? {
        guard let text = try? FileSystem.readText(cfg) else { return nil }
        for line in text.split(separator: "\n") {
            guard let (key, value) = String(line).splitOnce("=") else { continue }
            if ["version", "version_info"].contains(key.trimmed()) { return majorMinor(value.trimmed()) }
        }
        return nil
    }

    static func majorMinor(_ version: String) -> String? {
        let parts = version.prefix { $0.isNumber || $0 == "." }.split(separator: ".")
        return parts.count >= 2 ? "\(parts[0]).\(parts[1])" : nil
    }
}
