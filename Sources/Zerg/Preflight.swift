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
        }
        return nil
    }
}
