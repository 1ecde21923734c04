import Testing
@testable import Shared

/// uWSGI's ini rules, one behaviour per test.
@Suite struct IniLanguageTests {
    func load(_ dir: TempDirectory, _ args: [String], env: [String: String] = [:], role: ProcessRole = .zerg) throws -> Configuration {
        var loader = ConfigLoader(role: role, environment: env)
        loader.context.currentDirectory = dir.path
        loader.context.hostname = "testhost"
        return try loader.load(arguments: args)
    }

    func loadText(_ text: String, env: [String: String] = [:]) throws -> Configuration {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try dir.write("app.ini", text)
        return try load(dir, ["app.ini"], env: env)
    }

    func expectError(_ text: String, contains needle: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try loadText(text)
            Issue.record("expected an error containing \(needle)", sourceLocation: sourceLocation)
        } catch {
            #expect("\(error)".contains(needle), "\(error)", sourceLocation: sourceLocation)
        }
    }

    /// uWSGI's config logic: conditions keep or drop the options up to
    /// `endif`, loops repeat them up to `endfor`, `%(_)` is the datum.
    @Test func ifBlocksKeepOrDropOptions() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try dir.write("present.txt", "x")
        try dir.write("sub/keep", "x")
        let text = """
            [uwsgi]
            if-env = STAGE
            env = STAGE_IS=%(_)
            endif =
            if-env = STAGE=production
            processes = 8
            else =
            processes = 2
            endif
            if-not-env = MISSING
            env = NO_MISSING=1
            end-if =
            if-env = MISSING
            env = NEVER=1
            endif =
            if-exists = \(dir.path)/present.txt
            env = FOUND=%(_)
            endif =
            if-not-exists = \(dir.path)/absent
            env = ABSENT=1
            endif =
            if-dir = \(dir.path)/sub
            env = DIR=1
            endif =
            if-file = \(dir.path)/sub
            env = NOT_A_FILE=1
            endif =
            if-opt = processes
            env = PROCS=%(_)
            endif =
            if-not-opt = harakiri
            harakiri = 30
            endif =
            if-hostname = testhost
            env = HOST=%(_)
            endif =
            if-not-hostname = testhost
            env = ELSEWHERE=1
            endif =
            """
        try dir.write("app.ini", text)
        let staging = try load(dir, ["app.ini"], env: ["STAGE": "staging"])
        #expect(staging.strings("env") == ["STAGE_IS=staging", "NO_MISSING=1", "FOUND=\(dir.path)/present.txt", "ABSENT=1", "DIR=1", "PROCS=2", "HOST=testhost"])
        #expect(staging.int("processes") == 2 && staging.int("harakiri") == 30)
        let production = try load(dir, ["app.ini"], env: ["STAGE": "production", "MISSING": ""])
        #expect(production.int("processes") == 8)
        #expect(production.strings("env").contains("NEVER=1") && !production.strings("env").contains("NO_MISSING=1"))
    }

    @Test func forBlocksRepeatOptions() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try dir.write("apps/a.py", "")
        try dir.write("apps/b.py", "")
        try dir.write("lines.txt", "one\ntwo\n")
        try dir.write("app.ini", """
            [uwsgi]
            for = alpha beta
            env = ITEM_%(_)=1
            endfor =
            for-times = 3
            touch-reload = /tmp/touch-%(_)
            end-for
            for-glob = \(dir.path)/apps/*.py
            python-path = %(_)
            endfor
            for-readline = \(dir.path)/lines.txt
            env = LINE=%(_)
            end =
            env = AFTER=1
            """)
        let c = try load(dir, ["app.ini"])
        #expect(c.strings("env") == ["ITEM_alpha=1", "ITEM_beta=1", "LINE=one", "LINE=two", "AFTER=1"])
        #expect(c.strings("touch-reload") == ["/tmp/touch-1", "/tmp/touch-2", "/tmp/touch-3"])
        #expect(c.strings("python-path") == ["\(dir.path)/apps/a.py", "\(dir.path)/apps/b.py"])
        // On the command line too.
        let cli = try load(dir, ["--if-env", "X", "--processes", "3", "--endif", "--for", "a b", "--env", "K=%(_)", "--endfor"], env: ["X": "1"])
        #expect(cli.int("processes") == 3 && cli.strings("env") == ["K=a", "K=b"])
    }

    /// uWSGI's one-letter flags, as its quickstart and many scripts write them.
    @Test func uwsgiShortFlagsMapToTheirOptions() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        let c = try load(dir, ["-M", "-p", "4", "-w", "site.wsgi", "-H", "/srv/venv", "-b", "8192", "-t30", "-L", "-R", "100",
                               "-z", "5", "-C", "-i", "-T"])
        #expect(c.int("workers") == 4 && c.string("module") == "site.wsgi" && c.string("home") == "/srv/venv")
        #expect(c.size("buffer-size") == 8192 && c.int("harakiri") == 30 && c.bool("disable-logging"))
        #expect(c.int("max-requests") == 100 && c.int("socket-timeout") == 5 && c.string("chmod-socket") == "666")
        #expect(try load(dir, ["-C644"]).string("chmod-socket") == "644")
        #expect(try load(dir, ["-d", "/var/log/app.log"]).string("daemonize") == "/var/log/app.log")
        for (args, needle) in [(["-p"], "needs a value"), (["-Q"], "one-letter ones are uWSGI's"),
                               (["-ML"], "one at a time")] {
            do {
                _ = try load(dir, args)
                Issue.record("\(args) should be refused")
            } catch {
                #expect("\(error)".contains(needle), "\(args): \(error)")
            }
        }
    }

    /// uWSGI options we do not offer are named, not taken as placeholders in silence.
    @Test func uwsgiOptionsNotOfferedAreNamedAndRefusedUnderStrict() throws {
        let text = """
            [uwsgi]
            sharedarea = 4
            mule = tasks.py
            offload-threads = 2
            my-own-key = 1
            """
        let c = try loadText(text)
        #expect(c.notOfferedSummary == "uWSGI options not offered here, ignored: sharedarea (core), mule (core), offload-threads (core)")
        #expect(c.placeholder("my-own-key") == "1")
        expectError(text + "\nstrict = true\nset-placeholder = my-own-key=1\n", contains: "uWSGI option `sharedarea` (core) is not offered here")
        #expect(UWSGIOptionCatalogue.all.count > 1000 && UWSGIOptionCatalogue.source(of: "wsgi-file") == "python")
    }

    @Test func commentsBareKeysAndNoInlineComments() throws {
        let c = try loadText("""
            ; comment
            # another
              [uwsgi]
            master
            chdir = /srv ; not a comment
            callable =app=x
            lazy-apps = false
            """)
        #expect(c.bool("master"))
        #expect(c.string("chdir") == "/srv ; not a comment")
        #expect(c.string("callable") == "app=x")
        #expect(!c.bool("lazy-apps"))
        #expect(c.entries.count == 4)
    }

    @Test func noContinuationLines() throws {
        let c = try loadText("[uwsgi]\nchdir = /a \\\nmodule = x\n")
        #expect(c.string("chdir") == "/a \\")
        #expect(c.string("module") == "x")
    }

    @Test func onlyTheRequestedSectionCounts() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try dir.write("app.ini", """
            workers = 9
            [other]
            workers = 2
            [uwsgi]
            workers = 3
            [uwsgi]
            callable = again
            """)
        let c = try load(dir, ["--ini", "app.ini"])
        #expect(c.int("workers") == 3)
        #expect(c.string("callable") == "again")
        let other = try load(dir, ["app.ini:other"])
        #expect(other.int("workers") == 2)
        let missing = try load(dir, ["app.ini:nope"])
        #expect(missing.warnings.contains { $0.message.contains("no [nope] section") })
    }

    @Test func repeatedKeysAppendForListsAndLastWinsForScalars() throws {
        let c = try loadText("[uwsgi]\nenv = A=1\nworkers = 2\nenv = B=2\nworkers = 5\nprocesses = 7\n")
        #expect(c.strings("env") == ["A=1", "B=2"])
        #expect(c.int("workers") == 7)  // `processes` is an alias: same option
    }

    @Test func includesSpliceInPlaceWithTheirOwnMagicVariables() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try dir.write("common/base.ini", "[uwsgi]\nchdir = %d\nprocname = %s-%S\nworkers = 2\n[extra]\ncallable = fromextra\n")
        try dir.write("app.ini", "[uwsgi]\nworkers = 1\ninclude = common/base.ini\nmodule = m\nini = :extra\n")
        let c = try load(dir, ["app.ini"])
        #expect(c.entries.map(\.key) == ["workers", "chdir", "procname", "workers", "module", "callable"])
        #expect(c.int("workers") == 2)
        #expect(c.string("chdir") == dir.path + "/common/")
        #expect(c.string("procname") == "base.ini-app.ini")
        #expect(c.string("callable") == "fromextra")
    }

    @Test func includeCyclesAreReported() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try dir.write("loop.ini", "[uwsgi]\ninclude = loop.ini\n")
        #expect(throws: ConfigError.self) { try load(dir, ["loop.ini"]) }
        do { _ = try load(dir, ["loop.ini"]) } catch { #expect("\(error)".contains("nest deeper")) }
    }

    @Test func magicVariablesDescribeTheLinkNotItsTarget() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try dir.write("skel/template.ini", """
            [uwsgi]
            set-ph = p=%p
            set-ph = s=%s
            set-ph = n=%n
            set-ph = e=%e
            set-ph = d=%d
            set-ph = c=%c
            set-ph = zero=%0
            set-ph = last=%2
            set-ph = x=%x
            set-ph = o=%o
            set-ph = v=%v
            set-ph = h=%h
            set-ph = k=%k
            set-ph = u=%u
            set-ph = g=%g
            set-ph = pct=100%%
            set-ph = keep=%(p)
            set-ph = i=%i
            set-ph = j=%j
            set-ph = t=%t
            """)
        try dir.symlink("builds/a/vassal.ini", to: "../../skel/template.ini")
        let c = try load(dir, ["builds/a/vassal.ini"])
        let abs = dir.path + "/builds/a/vassal.ini"
        #expect(c.placeholder("p") == abs)
        #expect(c.placeholder("s") == "vassal.ini")
        #expect(c.placeholder("n") == "vassal")
        #expect(c.placeholder("e") == "ini")
        #expect(c.placeholder("d") == dir.path + "/builds/a/")
        #expect(c.placeholder("c") == "a")
        #expect(c.placeholder("zero") == "tmp")
        #expect(c.placeholder("last") == "builds")
        #expect(c.placeholder("x") == "")
        #expect(c.placeholder("o") == "builds/a/vassal.ini")
        #expect(c.placeholder("v") == dir.path)
        #expect(c.placeholder("h") == "testhost")
        #expect(c.placeholder("k") == String(Host.cpuCount))
        #expect(c.placeholder("u") == String(Host.uid))
        #expect(c.placeholder("g") == String(Host.gid))
        #expect(c.placeholder("pct") == "100%")
        #expect(c.placeholder("keep") == abs)  // %(p) refers to the placeholder p
        let inode = try FileSystem.status(abs, followSymlinks: false).inode
        #expect(c.placeholder("i") == String(inode))
        #expect(c.placeholder("j")?.isEmpty == false)
        #expect(Int64(c.placeholder("t") ?? "") ?? 0 > 1_700_000_000)
    }

    @Test func unknownMagicVariableIsDroppedWithAWarning() throws {
        let c = try loadText("[uwsgi]\nlog-format = %Y-%m\n")
        #expect(c.string("log-format") == "-")
        #expect(c.warnings.contains { $0.message.contains("unknown magic variable %Y") && "\($0.origin)".hasSuffix("app.ini:2") })
    }

    @Test func latePassesRunInOrder() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try dir.write("port.txt", "8123\n\n")
        try dir.write("app.ini", """
            [uwsgi]
            set-ph = home=$(HOME_DIR)
            set-ph = fallback=$(NOPE:-dflt)
            set-ph = unset=$(NOPE)
            set-ph = file=@(port.txt)
            set-ph = cmd=@(exec://printf 'x%%sy\\n\\n' 1)
            chdir = %(home)/srv
            http-socket = :%(port)
            port = 9000
            port = 9001
            set-ph = total=%(port + 10 * 2)
            set-ph = concat=%(port port)
            set-ph = incr=%(port ++)
            set-ph = unknown=%(nothing)
            """)
        let c = try load(dir, ["app.ini"], env: ["HOME_DIR": "/home/u"])
        #expect(c.string("chdir") == "/home/u/srv")
        #expect(c.placeholder("fallback") == "dflt")
        #expect(c.placeholder("unset") == "$(NOPE)")
        #expect(c.placeholder("file") == "8123\n")  // exactly one trailing newline removed
        #expect(c.placeholder("cmd") == "x1y\n")
        #expect(c.strings("http-socket") == [":9000"])  // first match, even when defined later
        #expect(c.placeholder("total") == "18020")  // ((9000 + 10) * 2)
        #expect(c.placeholder("concat") == "90009000")
        #expect(c.placeholder("incr") == "9001")
        #expect(c.placeholder("unknown") == "%(nothing)")
    }

    @Test func execIsSkippedWhenNotAllowed() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try dir.write("app.ini", "[uwsgi]\nworkers = @(exec://echo 3)\n")
        var loader = ConfigLoader(role: .zerg, environment: [:])
        loader.context.currentDirectory = dir.path
        loader.allowExec = false
        let c = try loader.load(file: "app.ini")
        #expect(c.string("workers") == "@(exec://echo 3)")  // left for the instance; not a type error
        loader.allowExec = true
        #expect(try loader.load(file: "app.ini").int("workers") == 3)
    }

    @Test func commandLineAndEnvironmentSetTheSameOptions() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try dir.write("app.ini", "[uwsgi]\nworkers = 2\n")
        let c = try load(dir, ["--master", "--thunder-lock", "--emperor", "a/*.ini", "--emperor=b/*.ini", "--ini", "app.ini", "--callable=app2", "--cheaper", "1"],
                         env: ["UWSGI_WORKERS": "6", "UWSGI_HARAKIRI": "30", "UWSGI_EMPEROR_FD": "3", "UWSGI_NOT_AN_OPTION": "x"])
        #expect(c.strings("emperor") == ["a/*.ini", "b/*.ini"])
        #expect(c.int("workers") == 2)  // the file comes after the environment
        #expect(c.int("harakiri") == 30)
        #expect(c.string("callable") == "app2")
        #expect(c.int("cheaper") == 1)
        #expect(c.bool("master") && c.bool("thunder-lock"))
        #expect(!c.has("not-an-option"))
    }

    @Test func commandLineErrorsAreClear() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        #expect(throws: ConfigError.self) { try load(dir, ["--wokers", "3"]) }
        do { _ = try load(dir, ["--wokers", "3"]) } catch { #expect("\(error)".contains("did you mean `--workers`?")) }
        do { _ = try load(dir, ["--workers"]) } catch { #expect("\(error)".contains("needs a value")) }
        do { _ = try load(dir, ["missing.ini"]) } catch { #expect("\(error)".contains("cannot read config missing.ini: No such file")) }
    }

    @Test func typosAreWarnedAndReferencedPlaceholdersAreNot() throws {
        let c = try loadText("[uwsgi]\nwokers = 4\nbuild = a\nprocname = %(build)\nmy_custom_thing = 1\n")
        #expect(c.warnings.count == 1)
        #expect(c.warnings.first?.description.hasSuffix("app.ini:2: unknown option `wokers`, kept as a placeholder (did you mean `workers`?)") == true)
        #expect(c.int("workers") == 1)  // default, untouched
    }

    @Test func strictMakesUnknownKeysErrors() throws {
        expectError("[uwsgi]\nstrict = true\nwokers = 4\n", contains: "app.ini:3: unknown option `wokers` (did you mean `workers`?)")
        let ok = try loadText("[uwsgi]\nstrict = true\nset-placeholder = build=a\nprocname = %(build)\n")
        #expect(ok.string("procname") == "a")
    }

    @Test func badValuesNameFileAndLine() throws {
        expectError("[uwsgi]\n\nworkers = many\n", contains: "app.ini:3: `workers = many`: expected a whole number")
        expectError("[uwsgi]\nlazy-apps = maybe\n", contains: "app.ini:2: `lazy-apps = maybe`: expected a boolean")
        expectError("[uwsgi]\nbuffer-size = 12q\n", contains: "app.ini:2: `buffer-size = 12q`: expected a size")
        expectError("[uwsgi]\nworkers = 99999999999999999999999\n", contains: "expected a whole number")
        expectError("[uwsgi]\nemperor-tyrant = true\n", contains: "app.ini:2: option `emperor-tyrant` is not supported")
        let c = try loadText("[uwsgi]\nbuffer-size = 64k\nharakiri =\n")
        #expect(c.size("buffer-size") == 65536)
        #expect(c.int("harakiri") == 1)  // an int option without a value is 1, as in uWSGI
    }

    @Test func noEffectOptionsAreSummarisedOnce() throws {
        let c = try loadText("[uwsgi]\nthunder-lock = true\nmaster = true\nplugin = python3\nplugins = python3\n")
        let summary = try #require(c.noEffectSummary)
        #expect(summary.hasPrefix("accepted, no effect: thunder-lock ("))
        #expect(c.noEffectOptions.map(\.name) == ["thunder-lock", "master", "plugins"])
    }

    @Test func foreignOptionsAreReported() throws {
        let dir = try TempDirectory()
        defer { dir.remove() }
        try dir.write("e.ini", "[uwsgi]\nemperor = x/*.ini\nharakiri = 3\n")
        let c = try load(dir, ["e.ini"], role: .emperor)
        #expect(c.warnings.map(\.message) == ["option `harakiri` is used by the zerg, not here; ignored"])
    }

    @Test func neverCrashesOnOddInput() throws {
        for text in ["", "[", "]", "=", "==", "[uwsgi", "%", "%(", "$(", "@(", "%(a", "[uwsgi]\n=x\n", "[uwsgi]\nset = \n", "[uwsgi]\n\u{0}\u{1}=\u{ff}"] {
            _ = try? loadText(text)
        }
    }

    @Test func editDistance() {
        #expect(EditDistance.between("wokers", "workers") == 1)
        #expect(EditDistance.between("", "abc") == 3)
        #expect(EditDistance.between("abc", "") == 3)
        #expect(EditDistance.between("kitten", "sitting") == 3)
        #expect(OptionTable.suggestion(for: "harakri") == "harakiri")
        #expect(OptionTable.suggestion(for: "zzzzzzzz") == nil)
    }
}
