// swift-tools-version: 6.1
// LotteryTickets: Lottery Ticket Hypothesis experiments at cluster scale.
// Module graph and data flow: see README.md ("Architecture") and docs/.
import PackageDescription

// Settings shared by every non-system target (the swift-nio / swift-log habit).
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let yams = Target.Dependency.product(name: "Yams", package: "Yams")

var targets: [Target] = [
    // C shims: one system-library target per C library, each imported by exactly one Swift target.
    .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(name: "CZeroMQ", providers: [.apt(["libzmq3-dev"])]),
    .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
    // syncfs(2) for the results store's group commit.
    .systemLibrary(name: "CLinux"),
    // AVX2 kernels (Adam, bias + ReLU, sparse and sparse-input products), chosen at run time, bit-identical to the
    // portable Swift loops. Always optimised: at -O0 (a debug build, plain `swift test`) the sparse-input products
    // would be ~10x slower than OpenBLAS's sgemm, which is optimised whatever the build.
    .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2"])]),

    // Libraries, lowest first. Imports go one way: executables → coordinator/worker/analysis → results/wire/zeromq/core.
    .target(name: "LotteryCore", dependencies: ["CBLAS", "CKernels"]),
    .target(name: "MaskCodec"),
    .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
    .target(name: "LotteryWire", dependencies: ["LotteryCore", "MaskCodec"]),
    // The YAML spec file reader (file:line errors): one trial's spec for `lth train`, the document the coordinator's
    // sweep grid reads. Its own target so that reading a spec needs neither the coordinator nor YAML in the core.
    .target(name: "LotterySpecFile", dependencies: ["LotteryCore", yams]),
    // results.db, the mask files, the CSV export and the one list of its column names: used by the coordinator,
    // `lth train`/`status`/`export` and the analysis.
    .target(name: "LotteryResults", dependencies: ["LotteryCore", "MaskCodec", "CSQLite", "CLinux", logging]),
    .target(
        name: "LotteryCoordinator",
        dependencies: ["LotteryWire", "ZeroMQ", "LotteryResults", "LotterySpecFile", yams, logging]),
    .target(name: "LotteryWorker", dependencies: ["LotteryWire", "ZeroMQ", "LotteryCore", logging]),
    .target(name: "LotteryAnalysis", dependencies: ["LotteryResults", "MaskCodec", "LotteryCore"]),
    // What the three executables share: signal handling, the OpenBLAS kernel restart. No library depends on it.
    .target(name: "LotteryCLI"),
    // What `lth-coordinator` and `lth sweep` share: their common options, defined once (an ArgumentParser
    // OptionGroup), and the steps before the coordinator starts. No library depends on it.
    .target(name: "LotterySweepCLI", dependencies: ["LotteryCoordinator", argumentParser, logging]),

    // Executables: argument parsing and wiring only.
    .executableTarget(
        name: "lth",
        dependencies: [
            "LotteryCore", "MaskCodec", "ZeroMQ", "LotteryWire", "LotteryResults", "LotterySpecFile", "LotteryCoordinator",
            "LotteryWorker", "LotteryAnalysis", "LotteryCLI", "LotterySweepCLI", argumentParser, logging, yams,
        ]
    ),
    .executableTarget(
        name: "lth-coordinator",
        dependencies: ["LotteryCoordinator", "LotteryResults", "LotteryCLI", "LotterySweepCLI", argumentParser, logging]
    ),
    .executableTarget(
        name: "lth-worker", dependencies: ["LotteryWorker", "LotteryCore", "LotteryCLI", argumentParser, logging]),

    // Tests: one target per library, plus integration tests that start real processes.
    // What tests need from the machine (binaries, network namespaces, numpy): skipped with the reason where missing,
    // a failure under CI=true. Only test targets depend on it.
    .target(name: "TestPrerequisites", path: "Tests/TestPrerequisites"),
    .testTarget(name: "LotteryCoreTests", dependencies: ["LotteryCore", "CKernels"], exclude: ["Fixtures"]),
    .testTarget(name: "MaskCodecTests", dependencies: ["MaskCodec", "TestPrerequisites"]),
    .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
    .testTarget(name: "LotteryWireTests", dependencies: ["LotteryWire", "LotteryCore", "MaskCodec"]),
    .testTarget(
        name: "LotteryResultsTests", dependencies: ["LotteryResults", "LotteryCore", "MaskCodec", "TestPrerequisites"]),
    .testTarget(
        name: "LotteryCoordinatorTests",
        dependencies: ["LotteryCoordinator", "LotterySpecFile", "LotteryResults", "LotteryWire", "LotteryCore"]),
    .testTarget(name: "LotteryWorkerTests", dependencies: ["LotteryWorker", "LotteryWire", "ZeroMQ", "LotteryCore", "MaskCodec"]),
    .testTarget(name: "LotteryAnalysisTests", dependencies: ["LotteryAnalysis", "LotteryResults", "MaskCodec", "LotteryCore"]),
    .testTarget(
        name: "IntegrationTests",
        dependencies: [
            "LotteryCore", "LotteryResults", "LotteryCoordinator", "LotteryWire", "MaskCodec", "ZeroMQ",
            "TestPrerequisites", logging,
        ]
    ),
]

for index in targets.indices where targets[index].type != .system {
    targets[index].swiftSettings = (targets[index].swiftSettings ?? []) + swiftSettings
}

let package = Package(
    name: "LotteryTickets",
    // macOS 15: the standard library's `Mutex` (Synchronization), the package's one lock type, needs it.
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lth", targets: ["lth"]),
        .executable(name: "lth-coordinator", targets: ["lth-coordinator"]),
        .executable(name: "lth-worker", targets: ["lth-worker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: targets
)
