import Testing
@testable import Shared

/// The seed's two skeletons, read through the per-build symlinks exactly as the
/// emperor's instances read them.
@Suite struct SeedConfigTests {
    static let seed = fixturePath("seed")

    func load(_ build: String, _ file: String) throws -> Configuration {
        var loader = ConfigLoader(role: file == "vassal.ini" ? .vassal : .zerg, environment: [:])
        loader.context.currentDirectory = Self.seed
        return try loader.load(file: "deploy/builds/\(build)/\(file)")
    }

    @Test(arguments: [("a", 2000), ("b", 2010)])
    func vassalSkeleton(build: String, port: Int) throws {
        let config = try load(build, "vassal.ini")
        #expect(config.placeholder("build") == build)
        #expect(config.placeholder("port") == String(port))
        #expect(config.string("http") == ":\(port)")
        #expect(config.string("zerg-server") == "/var/run/uwsgi/\(build).sock")
        #expect(config.string("stats") == "/var/run/uwsgi/\(build)-vassal.stats")
        #expect(config.string("logto") == "\(Self.seed)/deploy/builds/\(build)/../../logs/vassal.\(build).log")
        #expect(config.int("http-timeout") == 15)
        #expect(config.int("workers") == 0)
        #expect(config.string("chmod-socket") == "666")
        #expect(config.bool("master"))
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        #expect(config.noEffectOptions.map(\.name) == ["thunder-lock", "master"])
    }

    @Test(arguments: ["a", "b"])
    func zergSkeleton(build: String) throws {
        let config = try load(build, "zerg.ini")
        let dir = "\(Self.seed)/deploy/builds/\(build)/"
        #expect(config.placeholder("build") == build)
        #expect(config.int("workers") == 14)
        #expect(config.int("cheaper") == 4)
        #expect(config.int("cheaper-initial") == 4)
        #expect(config.int("cheaper-overload") == 20)
        // Everything the seed's zerg.ini asks for is acted on, except what truly has no effect here.
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        #expect(config.noEffectOptions.map(\.name).sorted() == ["lazy-apps", "master", "thunder-lock"])
        #expect(config.plannedOptions.isEmpty, "\(config.plannedOptions)")
        #expect(config.int("cheaper-busyness-multiplier") == 5)
        #expect(config.int("cheaper-busyness-backlog-alert") == 33)
        #expect(config.string("cheaper-algo") == "busyness")
        #expect(config.size("buffer-size") == 32768)
        #expect(config.bool("lazy-apps"))
        // %d is the directory of the link, not of the skeleton it points to.
        #expect(config.string("wsgi-file") == dir + "hadjango/uwsgi/wsgi.py")
        #expect(config.strings("python-path") == [dir])
        #expect(config.string("home") == dir)
        #expect(config.strings("touch-workers-reload") == [dir + "hadjango/uwsgi/wsgi.py"])
        #expect(config.string("procname-master") == "uwsgi master <\(build)>")
        #expect(config.strings("env") == ["DJANGO_SETTINGS_MODULE=settings_local", "LANG=en_US.UTF-8", "PYTHONIOENCODING=utf-8"])
        #expect(config.strings("zerg") == ["/var/run/uwsgi/\(build).sock"])
        #expect(config.string("req-logger") == "file:\(dir)../../logs/uwsgi.\(build).req.log")
        // Request-log variables are not config placeholders: they survive verbatim.
        #expect(config.string("log-format")?.hasPrefix("%(worker_id) %(addr) - [%(ltime)]") == true)
        #expect(config.warnings.isEmpty, "\(config.warnings)")
    }
}

/// Path of a fixture in the source tree.
func fixturePath(_ name: String, file: StaticString = #filePath) -> String {
    FileSystem.directoryName("\(file)") + "/Fixtures/" + name
}
