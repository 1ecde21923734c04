#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Shared
@testable import ZergCore

/// uWSGI's cron lines: parsed, refused with file:line, and matched against local time.
@Suite struct CronJobTests {

    static func time(min: Int32, hour: Int32, mday: Int32 = 1, mon: Int32 = 0, wday: Int32 = 0) -> tm {
        var t = tm()
        t.tm_min = min
        t.tm_hour = hour
        t.tm_mday = mday
        t.tm_mon = mon
        t.tm_wday = wday
        return t
    }

    @Test func linesMatchTheirMinutes() throws {
        var problems: [ConfigDiagnostic] = []
        let config = try ConfigLoader(role: .zerg).load(arguments: [
            "--cron", "30 2 -1 -1 -1 /usr/bin/backup --all", "--unique-cron", "-5 -1 -1 -1 -1 echo five",
            "--cron2", "minute=0,hour=-6,unique=1 echo six", "--cron", "1 2 3 nope", "--cron2", "minit=3 echo typo",
        ])
        let jobs = CronJob.all(in: config, problems: &problems)
        #expect(jobs.map(\.command) == ["/usr/bin/backup --all", "echo five", "echo six"])
        #expect(jobs.map(\.unique) == [false, true, true])
        #expect(problems.count == 2 && problems[0].description.contains("expected `MIN HOUR") && problems[1].description.contains("minit"))
        #expect(jobs[0].due(Self.time(min: 30, hour: 2)) && !jobs[0].due(Self.time(min: 31, hour: 2)) && !jobs[0].due(Self.time(min: 30, hour: 3)))
        #expect(jobs[1].due(Self.time(min: 55, hour: 7)) && !jobs[1].due(Self.time(min: 56, hour: 7)))
        #expect(jobs[2].due(Self.time(min: 0, hour: 12)) && !jobs[2].due(Self.time(min: 0, hour: 13)) && !jobs[2].due(Self.time(min: 1, hour: 12)))
    }
}
