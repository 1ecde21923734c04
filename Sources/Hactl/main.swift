#if canImport(Glibc)
import Glibc
#endif
import Shared

// hactl: the build lifecycle of the seed's Fabric tasks, as one command.

let usage = """
    usage: hactl [--deploy DIR] [--status HOST:PORT] [--live HOST:PORT] [--nginx-reload CMD]
                 [--base-port N] [--timeout SECONDS] COMMAND [ARGS]

      find-free-build                  the first unused build name (a, b, …, z, aa, …)
      port NAME | build PORT           the name ↔ port mapping (a = 2000, b = 2010, b3 = 2013)
      create NAME --from SRC [--hook CMD]
                                       lay out deploy/builds/NAME: copy SRC, run the hook there,
                                       nginx snippets, shared media, .DEPLOY_TAG, vassal.ini
      activate NAME                    link zerg.ini; return once every worker serves
      warmup [NAME] [--path P]… [--requests N] [--concurrency C]
                                       requests to the build's port (default: the stage build)
      stage NAME [--path P]…           activate, warm up, point _stage at it, reload nginx
      swap-live [NAME]                 _live ↔ _stage (or _live → NAME), reload nginx, check it routes
      deactivate NAME | stop NAME | rm NAME
      make-incremental NAME --from BASIS
                                       hard-link files equal to the basis build's
      status                           builds, ports, live/stage, states, workers, deploy tags
      top [--interval SECONDS] [--once]
                                       a row per build, redrawn each second: req/s, p50/p99, 5xx/s,
                                       queue, workers busy/ready, RSS, last event (the emperor's status page)

    Defaults come from HACTL_DEPLOY (./deploy), HACTL_STATUS (127.0.0.1:9999, the emperor's
    `status`), HACTL_LIVE (nginx's live address, to verify swaps), HACTL_NGINX_RELOAD
    (`nginx -s reload`), HACTL_BASE_PORT (2000).
    """

var args = Array(CommandLine.arguments.dropFirst())
let env = Host.environment()
var deployDir = env["HACTL_DEPLOY"] ?? "deploy"
var status = env["HACTL_STATUS"] ?? "127.0.0.1:9999"
var live = env["HACTL_LIVE"]
var reload = env["HACTL_NGINX_RELOAD"] ?? "nginx -s reload"
var basePort = Int(env["HACTL_BASE_PORT"] ?? env["DEMO_BASE_PORT"] ?? "") ?? 2000
var timeout = 60

@MainActor func fail(_ message: String, code: Int32 = 1) -> Never {
    let line = "hactl: \(message)\n"
    try? FileDescriptor.standardError.writeAll(line)
    exit(code)
}

/// Takes `--name VALUE` (repeatable) out of args.
@MainActor func take(_ name: String) -> [String] {
    var values: [String] = []
    while let i = args.firstIndex(of: name) {
        guard i + 1 < args.count else { fail("\(name) needs a value", code: 2) }
        values.append(args[i + 1])
        args.removeSubrange(i...(i + 1))
    }
    return values
}

if args.isEmpty || args.contains("--help") || args.contains("-h") {
    print(usage)
    exit(args.isEmpty ? 2 : 0)
}
deployDir = take("--deploy").last ?? deployDir
status = take("--status").last ?? status
live = take("--live").last ?? live
reload = take("--nginx-reload").last ?? reload
if let b = take("--base-port").last {
    guard let n = Int(b) else { fail("--base-port \(b): not a number", code: 2) }
    basePort = n
}
if let t = take("--timeout").last {
    guard let n = Int(t) else { fail("--timeout \(t): not a number", code: 2) }
    timeout = n
}

func address(_ text: String?) -> (host: String, port: Int)? {
    guard let text, case .tcp(let host, let port)? = ListenAddress(parsing: text) else { return nil }
    return (host.isEmpty ? "127.0.0.1" : host, port)
}

let deploy = Deploy(root: FileSystem.absolute(deployDir), basePort: basePort, status: address(status),
                    nginxReload: reload, liveURL: address(live))
var commands = Commands(deploy: deploy)
commands.timeoutSeconds = timeout
let command = args.removeFirst()

@MainActor func one(_ what: String) -> String {
    guard args.count == 1 else { fail("\(command) takes one \(what)", code: 2) }
    return args[0]
}

do {
    switch command {
    case "find-free-build": print(commands.findFreeBuild())
    case "port": print(try BuildName.port(of: one("build name"), base: basePort))
    case "build":
        let text = one("port")
        guard let port = Int(text) else { fail("`\(text)` is not a port number", code: 2) }
        print(try BuildName.name(of: port, base: basePort))
    case "create":
        guard let from = take("--from").last else { fail("create needs --from SRC", code: 2) }
        let hook = take("--hook").last
        try commands.create(one("build name"), from: from, hook: hook)
    case "activate": try commands.activate(one("build name"))
    case "warmup":
        let paths = take("--path")
        let n = Int(take("--requests").last ?? "20") ?? 20
        let c = Int(take("--concurrency").last ?? "4") ?? 4
        guard let name = args.first ?? deploy.stage else { fail("warmup: no build given and no _stage link", code: 2) }
        try commands.warmup(name, paths: paths.isEmpty ? ["/"] : paths, requests: max(1, n), concurrency: max(1, c))
    case "stage":
        let paths = take("--path")
        try commands.stage(one("build name"), warmPaths: paths.isEmpty ? ["/"] : paths)
    case "swap-live": try commands.swapLive(args.first)
    case "deactivate": try commands.deactivate(one("build name"))
    case "stop": try commands.stop(one("build name"))
    case "rm": try commands.rm(one("build name"))
    case "make-incremental":
        guard let basis = take("--from").last else { fail("make-incremental needs --from BASIS", code: 2) }
        try commands.makeIncremental(one("build name"), basis: basis)
    case "status": commands.statusTable()
    case "top":
        let seconds = Double(take("--interval").last ?? "1") ?? 1
        let once = args.contains("--once")
        args.removeAll { $0 == "--once" }
        guard args.isEmpty else { fail("top takes --interval SECONDS and --once only", code: 2) }
        guard let status = deploy.status else { fail("top needs the emperor's status page: --status HOST:PORT", code: 2) }
        Top(status: status).run(intervalMs: max(100, Int(seconds * 1000)), once: once)
    default: fail("unknown command `\(command)` (hactl --help lists them)", code: 2)
    }
} catch {
    fail("\(error)")
}
