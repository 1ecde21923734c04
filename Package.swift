// swift-tools-version:6.0
import PackageDescription

// No Swift package dependencies: everything below is this repository's own code,
// plus the C library (glibc) reached through the small CSupport shim.
// Linux only (epoll, signalfd, inotify, SO_PEERCRED, memfd): no other platform is declared.
// The HTTP hot path crosses from Zerg into Shared: let the optimizer
// specialize generics across that module boundary (release builds).
// Release builds also leave out the run-time exclusivity checks (debug builds,
// which the tests run, keep them): each access to a class's stored property
// cost a call and a thread-local lookup. Measured (hello, Connection: close,
// through the vassal, 6 paired rounds): 31.1k req/s against 29.4k; the
// vassal's CPU per request 10.5 µs against 11.5, the workers' 23.5 against 25.0.
let optimized: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization", "-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "hadjango",
    products: [
        .executable(name: "emperor", targets: ["Emperor"]),
        .executable(name: "zerg", targets: ["Zerg"]),
        .executable(name: "vassal", targets: ["Vassal"]),
        .executable(name: "hactl", targets: ["Hactl"]),
        .library(name: "Shared", targets: ["Shared"]),
    ],
    targets: [
        // C glue for what Swift cannot call directly: Linux calls Glibc's module
        // hides (epoll, signalfd, accept4, memfd, pidfd, execveat...), the packed
        // epoll_event, CMSG and W* macros, variadic prctl, shared-memory atomics,
        // the build id, the fork+exec child.
        .target(name: "CSupport"),
        // Syscall wrappers, the uWSGI ini language, logging, JSON, the handoff and
        // control protocols: used by every process.
        .target(name: "Shared", dependencies: ["CSupport"], swiftSettings: optimized),
        // The zerg's pure logic (cheaper algorithms, CPU slots, the scoreboard):
        // a library so unit tests reach it without starting a process.
        .target(name: "ZergCore", dependencies: ["Shared"], swiftSettings: optimized),
        // The vassal's pure logic (the state handed over on re-exec).
        .target(name: "VassalCore", dependencies: ["Shared"], swiftSettings: optimized),
        // The emperor's pure logic: each build's history and the deploy events (the dashboard's data).
        .target(name: "EmperorCore", dependencies: ["Shared"]),
        .executableTarget(name: "Emperor", dependencies: ["Shared", "EmperorCore"]),
        // Owns a build's port; hands accepted connections to zerg workers.
        .executableTarget(name: "Vassal", dependencies: ["Shared", "VassalCore"], swiftSettings: optimized),
        // The deploy CLI: builds a, b, c…, live/stage switching, nginx.
        .executableTarget(name: "Hactl", dependencies: ["Shared", "EmperorCore"]),
        // Debian's CPython 3.11, linked through pkg-config (package python3-dev).
        .systemLibrary(name: "CPython", pkgConfig: "python3-embed", providers: [.apt(["python3-dev"])]),
        // C glue for the interpreter: macros Swift cannot call, and the native
        // `_hadjango` module the WSGI layer uses to reach the worker.
        .target(name: "PythonGlue", dependencies: ["CPython"]),
        .executableTarget(name: "Zerg", dependencies: ["Shared", "ZergCore", "PythonGlue"], swiftSettings: optimized),
        // Fixtures are read from the source tree (they include symlinks, which
        // resource copying would flatten).
        .testTarget(name: "SharedTests", dependencies: ["Shared"], exclude: ["Fixtures"]),
        // Pure logic, no process started: cheaper, CPU slots, scoreboard, vassal state, history.
        .testTarget(name: "CoreTests", dependencies: ["Shared", "ZergCore", "VassalCore", "EmperorCore"]),
        .testTarget(name: "EmperorTests", dependencies: ["Shared", "Emperor", "Zerg"], exclude: ["Support/instance.py"]),
        .testTarget(name: "ZergTests", dependencies: ["Shared", "Zerg"], exclude: ["Support/apps.py", "Support/broken_app.py"]),
        // Real vassal, zerg and emperor processes: handoff, reloads and swaps under load.
        .testTarget(name: "HandoffTests", dependencies: ["Shared", "Vassal", "Zerg", "Emperor", "Hactl"]),
    ]
)
