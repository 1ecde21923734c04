import Foundation
import Testing
@testable import Shared

/// docs/options.md is generated from the option registry; it must match it.
@Test func optionReferenceIsUpToDate() throws {
    let root = FileSystem.directoryName(FileSystem.directoryName(FileSystem.directoryName("\(#filePath)")))
    let committed = try FileSystem.readText(root + "/docs/options.md")
    let (read, write) = try Pipe.make()
    var spec = ChildProcess.Spec(
        executable: EmperorHarness.emperorBinary, arguments: ["emperor", "--options-markdown"], environment: [:],
        fdMap: [(write, 1), (.standardError, 2)])
    spec.deathSignal = 0
    let pid = try ChildProcess.spawn(spec)
    write.close()
    let generated = String(decoding: try read.readToEnd(), as: UTF8.self)
    read.close()
    #expect(ChildProcess.wait(pid) == Shared.ExitStatus.exited(0))
    #expect(generated == committed, "run: .build/debug/emperor --options-markdown > docs/options.md")
    for spec in OptionTable.all { #expect(committed.contains("| `\(spec.name)` |")) }
}
