import Foundation
import Testing
@testable import Shared

/// uWSGI's process names on every program: `ps` tells the emperor, each
/// build's vassal, and its zerg master and workers apart.
@Suite(.serialized) struct ProcessNamesTests {
    /// What `ps` shows for `pid` (its rewritten argv).
    static func title(_ pid: pid_t) -> String {
        ((try? FileSystem.readFile("/proc/\(pid)/cmdline")).map { String(decoding: $0, as: UTF8.self) } ?? "")
            .trimmingCharacters(in: CharacterSet(charactersIn: "\0"))
    }

    static func descendants(of pid: pid_t) -> [pid_t] {
        let children = ChildProcess.children(of: pid)
        return children + children.flatMap { descendants(of: $0) }
    }

    @Test func everyProcessIsNamed() throws {
        let dir = try TestDirectory("procname-test")
        let port = try BuildsSetup.freePort()
        try FileManager.default.createDirectory(atPath: dir.file("builds/a"), withIntermediateDirectories: true)
        try dir.write("builds/a/vassal.ini", "[uwsgi]\nbuild = a\nhttp = 127.0.0.1:\(port)\nzerg-server = \(dir.file("a.sock"))\nauto-procname = true\nprocname-prefix-spaced = shop\n")
        try dir.write("builds/a/zerg.ini", "[uwsgi]\nbuild = a\nzerg = \(dir.file("a.sock"))\nwsgi-file = \(TestProcess.appsPath)\nprocesses = 1\n"
                      + "procname-master = zerg master <%(build)>\nprocname = zerg worker <%(build)>\nprocname-append = [x]\n")
        let emperor = try TestProcess("emperor", ["--emperor", dir.file("builds/*/*.ini"), "--emperor-procname", "the emperor",
                                                  "--procname-prefix-spaced", "shop"], log: dir.file("emperor.log"), cwd: dir.path)
        defer {
            emperor.stopEmperor()
            dir.remove()
        }
        #expect(waitUntil(20) { (try? HTTPClient.once(port: port, "/v/pid"))?.status == 200 }, "\(emperor.log())")
        #expect(Self.title(emperor.pid) == "shop the emperor")
        let titles = Set(Self.descendants(of: emperor.pid).map(Self.title))
        #expect(titles.contains("shop vassal a"), "\(titles)")
        #expect(titles.contains("zerg master <a>[x]") && titles.contains("zerg worker <a>[x]"), "\(titles)")
    }
}
