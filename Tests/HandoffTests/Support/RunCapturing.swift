import Foundation

/// Runs a program to its end (stdin /dev/null) and returns its exit status and
/// what it printed on stdout, and on stderr too unless `discardErrors`.
/// For programs that exit by themselves: daemonizing ones (nginx) keep the
/// pipe open, so they are started with `ChildProcess` instead.
func runCapturing(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                  discardErrors: Bool = false) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    if let environment { p.environment = environment }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = discardErrors ? FileHandle.nullDevice : out
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
