#if canImport(Glibc)
import Glibc
#endif

/// The three passes uWSGI runs over option values after every file and the
/// command line are loaded, in this order: `$(ENV)`, `@(file)` / `@(exec://cmd)`,
/// then `%(placeholder)` (the first entry with that key; `%(a + 1)` math).
/// Unresolvable references stay verbatim.
struct LatePasses {
    var environment: [String: String]
    /// Run `@(exec://...)` commands. The emperor turns this off: it must never
    /// block on a user's script (the instance itself runs them).
    var allowExec: Bool
    var workingDirectory: String
    /// How long an `@(exec://)` command may run (`exec-timeout`) before it is killed.
    var execTimeoutSeconds = LatePasses.defaultExecTimeoutSeconds
    /// Commands that failed since the loader last looked (it reports them with their origin).
    let failures = ExecFailures()

    static let defaultExecTimeoutSeconds = 10

    final class ExecFailures {
        var messages: [String] = []
        func take() -> [String] {
            defer { messages = [] }
            return messages
        }
    }

    // MARK: $(NAME)

    func substituteEnvironment(_ text: String) -> String {
        replaceGroups(in: text, opener: "$") { name in
            // 2.1-dev forms: $(NAME:-default) for unset-or-empty, $(NAME-default) for unset.
            if let r = Substring(name).range(of: ":-") {
                let key = String(name[..<r.lowerBound])
                let fallback = String(name[r.upperBound...])
                if let v = environment[key], !v.isEmpty { return v }
                return fallback
            }
            if let dash = name.firstIndex(of: "-"), dash != name.startIndex {
                let key = String(name[..<dash])
                if isEnvironmentName(key) && !isEnvironmentName(name) {
                    return environment[key] ?? String(name[name.index(after: dash)...])
                }
            }
            return environment[name]
        }
    }

    private func isEnvironmentName(_ s: String) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
    }

    // MARK: @(source)

    func substituteSources(_ text: String) -> String {
        replaceGroups(in: text, opener: "@") { source in
            var content: String?
            if source.hasPrefix("exec://") {
                guard allowExec else { return nil }
                switch Self.runCommand(String(source.dropFirst("exec://".count)), cwd: workingDirectory, timeoutSeconds: execTimeoutSeconds) {
                case .success(let out): content = out
                case .failure(let why):
                    failures.messages.append("`@(\(source))`: \(why.description)")
                    return nil
                }
            } else if source.hasPrefix("fd://") || source.contains("://") {
                return nil
            } else {
                content = try? FileSystem.readText(source.hasPrefix("/") ? source : FileSystem.joined(workingDirectory, source))
            }
            guard var value = content else { return nil }
            if value.hasSuffix("\n") || value.hasSuffix("\r") { value.removeLast() }
            return value
        }
    }

    struct CommandFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `/bin/sh -c command` (in its own process group) and returns its
    /// stdout; a command still running after `timeoutSeconds` is killed with
    /// everything it started.
    static func runCommand(_ command: String, cwd: String, timeoutSeconds: Int) -> Result<String, CommandFailure> {
        let readEnd: FileDescriptor, writeEnd: FileDescriptor
        do {
            (readEnd, writeEnd) = try Pipe.make()
        } catch {
            return .failure(CommandFailure(description: "cannot run: \(error)"))
        }
        let devNull = try? FileDescriptor.open("/dev/null", O_RDONLY)
        defer { devNull?.close() }
        let spec = ChildProcess.Spec(
            executable: "/bin/sh", arguments: ["sh", "-c", command], environment: Host.environment().filter { !SystemdNotify.childHidden.contains($0.key) },
            workingDirectory: cwd, fdMap: [(devNull ?? .standardInput, 0), (writeEnd, 1), (.standardError, 2)])
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(spec)
        } catch {
            writeEnd.close()
            readEnd.close()
            return .failure(CommandFailure(description: "cannot run: \(error)"))
        }
        writeEnd.close()
        var out: [UInt8] = []
        let deadline = Host.monotonicNanoseconds() + UInt64(max(1, timeoutSeconds)) * 1_000_000_000
        var timedOut = false
        reading: while out.count <= 1 << 20 {
            let now = Host.monotonicNanoseconds()
            guard now < deadline, (try? readEnd.wait(timeoutMs: Int32(clamping: (deadline - now) / 1_000_000 + 1))) == true else {
                timedOut = Host.monotonicNanoseconds() >= deadline
                break
            }
            switch try? readEnd.readAvailable(max: 65536) {
            case .completed(let chunk)? where !chunk.isEmpty: out += chunk
            case .wouldBlock?: continue
            default: break reading
            }
        }
        // Closed before waiting: a command still writing gets EPIPE instead of blocking us both.
        readEnd.close()
        let tooLong = out.count > 1 << 20
        if timedOut || tooLong { ChildProcess.signalGroup(pid, SIGKILL) }
        let left = Int64(deadline) - Int64(Host.monotonicNanoseconds())
        let status = ChildProcess.wait(pid, timeoutMs: Int32(clamping: max(0, left) / 1_000_000))
        if tooLong { return .failure(CommandFailure(description: "more than 1 MiB of output; killed")) }
        if timedOut || status == nil { return .failure(CommandFailure(description: "no answer within \(timeoutSeconds) s (exec-timeout); killed")) }
        guard let status, status.isSuccess else {
            return .failure(CommandFailure(description: "the command \(status.map { "\($0)" } ?? "could not be waited for")"))
        }
        return .success(String(decoding: out, as: UTF8.self))
    }

    // MARK: %(name)

    /// Substitutes placeholders; `lookup` gives the (resolved) value of the first
    /// entry with a key. Also returns the keys referenced, so they are not reported as unknown.
    func substitutePlaceholders(_ text: String, lookup: (String) -> String?) -> (String, [String]) {
        var referenced: [String] = []
        let out = replaceGroups(in: text, opener: "%") { expression in
            let tokens = expression.split(separator: " ").map(String.init)
            if tokens.count <= 1 {
                referenced.append(expression)
                return lookup(expression)
            }
            return Self.evaluateMath(tokens, lookup: { key in
                let value = lookup(key)
                if value != nil { referenced.append(key) }
                return value
            })
        }
        return (out, referenced)
    }

    /// uWSGI's placeholder math: a left-to-right pipeline where juxtaposition
    /// concatenates and `+ - * /` apply integer math; `++`/`--` add/subtract 1.
    static func evaluateMath(_ tokens: [String], lookup: (String) -> String?) -> String? {
        var accumulator = ""
        var pendingOperator: String?
        for token in tokens {
            switch token {
            case "+", "-", "*", "/":
                pendingOperator = token
                continue
            case "++", "--":
                guard let n = Int(accumulator) else { return nil }
                accumulator = String(token == "++" ? n &+ 1 : n &- 1)
                continue
            default:
                break
            }
            let operand = lookup(token) ?? token
            if let op = pendingOperator {
                guard let a = Int(accumulator), let b = Int(operand) else { return nil }
                switch op {
                case "+": accumulator = String(a &+ b)
                case "-": accumulator = String(a &- b)
                case "*": accumulator = String(a &* b)
                default:
                    guard b != 0 else { return nil }
                    accumulator = String(a / b)
                }
                pendingOperator = nil
            } else {
                accumulator += operand
            }
        }
        return accumulator
    }

    // MARK: scanning

    /// Replaces every `X(...)` group (nested parentheses tracked) with what
    /// `resolve` returns for its inside; nil keeps the group verbatim.
    func replaceGroups(in text: String, opener: Character, resolve: (String) -> String?) -> String {
        guard text.contains(opener) else { return text }
        let chars = Array(text)
        var out = ""
        var i = 0
        while i < chars.count {
            if chars[i] == opener, i + 1 < chars.count, chars[i + 1] == "(" {
                var depth = 0
                var j = i + 1
                var end: Int?
                while j < chars.count {
                    if chars[j] == "(" { depth += 1 }
                    if chars[j] == ")" {
                        depth -= 1
                        if depth == 0 { end = j; break }
                    }
                    j += 1
                }
                if let end {
                    let inside = String(chars[(i + 2)..<end])
                    if let value = resolve(inside) {
                        out += value
                    } else {
                        out += String(chars[i...end])
                    }
                    i = end + 1
                    continue
                }
            }
            out.append(chars[i])
            i += 1
        }
        return out
    }
}
