// swift-tools-version:6.0
import PackageDescription

// No Swift package dependencies: everything below is this repository's own code,
// plus the C library (glibc) reached through the small CSupport shim.
// The HTTP hot path crosses from Zerg into Shared: let the optimizer
// specialize generics across that module boundary (release builds).
let optimized: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "hadjango",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "emperor", targets: ["Emperor"]),
        .executable(name: "zerg", targets: ["Zerg"]),
        .executable(name: "vassal", targets: ["Vassal"]),
        .executable(name: "hactl", targets: ["Hactl"]),
        .library(name: "Shared", targets: ["Shared"]),
    ],
    targets: [
        // C glue for what Swift cannot call directly: variadic prctl, the packed
        // epoll_event, signalfd, sockaddr building, and the fork+exec child path.
        .target(name: "CSupport"),
        // Syscall wrappers, the uWSGI ini language, logging, JSON: used by every process.
        .target(name: "Shared", dependencies: ["CSupport"], swiftSettings: optimized),
        .executableTarget(name: "Emperor", dependencies: ["Shared", "CSupport"]),
        // Owns a build's port; hands accepted connections to zerg workers.
        .executableTarget(name: "Vassal", dependencies: ["Shared", "CSupport"], swiftSettings: optimized),
        // The deploy CLI: builds a, b, c…, live/stage switching, nginx.
        .executableTarget(name: "Hactl", dependencies: ["Shared", "CSupport"]),
        // Debian's CPython 3.11, linked through pkg-config (package python3-dev).
        .systemLibrary(name: "CPython", pkgConfig: "python3-embed", providers: [.apt(["python3-dev"])]),
        // C glue for the interpreter: macros Swift cannot call, and the native
        // `_hadjango` module the WSGI layer uses to reach the worker.
        .target(name: "PythonGlue", dependencies: ["CPython"]),
        .executableTarget(name: "Zerg", dependencies: ["Shared", "CSupport", "PythonGlue"], swiftSettings: optimized),
        // Fixtures are read from the source tree (they include symlinks, which
        // resource copying would flatten).
        .testTarget(name: "SharedTests", dependencies: ["Shared"], exclude: ["Fixtures"]),
        .testTarget(name: "EmperorTests", dependencies: ["Shared", "Emperor", "Zerg"], exclude: ["Support/instance.py"]),
        .testTarget(name: "ZergTests", dependencies: ["Shared", "Zerg"], exclude: ["Support/apps.py", "Support/broken_app.py"]),
        // Real vassal, zerg and emperor processes: handoff, reloads and swaps under load.
        .testTarget(name: "HandoffTests", dependencies: ["Shared", "Vassal", "Zerg", "Emperor", "Hactl"]),
    ]
)
