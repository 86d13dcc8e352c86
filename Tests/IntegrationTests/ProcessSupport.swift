import Foundation
import TestPrerequisites
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The built `lth`, `lth-worker`, `lth-coordinator`: `.build/<config>/` is the folder of the test bundle
/// (`.build/<config>/LotteryTicketsPackageTests.xctest`). A test that starts them carries
/// `.requires(.binaries)` (skipped where they are not built; a failure under `CI=true`) and calls
/// ``require()`` first.
enum Binaries {
    static var folder: URL? {
        var candidates: [URL] = []
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append(URL(fileURLWithPath: bundle.bundlePath).deletingLastPathComponent())
        }
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        candidates.append(me.deletingLastPathComponent())
        return candidates.first { folder in
            ["lth", "lth-worker", "lth-coordinator"].allSatisfy {
                FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent($0).path)
            }
        }
    }

    /// The folder.
    ///
    /// - Throws: the test's failure when they are not built (only reached under `CI=true`: elsewhere the trait
    ///   `.requires(.binaries)` skips the test).
    static func require(sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
        try Prerequisite.binaries.check()
        return try #require(folder, sourceLocation: sourceLocation)
    }
}

extension Prerequisite {
    /// `lth`, `lth-worker` and `lth-coordinator` built next to the test bundle.
    static let binaries = Prerequisite(
        "lth, lth-worker and lth-coordinator",
        missing: Binaries.folder == nil
            ? "not built next to the test bundle (swift build -c release; scripts/test builds them before the tests)"
            : nil)

    /// Network namespaces with a bridge inside (cluster/netns): root and iproute2. Asked of
    /// `cluster/netns/netns-up --check`, which makes and removes a probe namespace only.
    static let networkNamespaces: Prerequisite = {
        let script = packageRoot.appendingPathComponent("cluster/netns/netns-up").path
        let (status, output) = runCapturing(script, ["--check"])
        let reason = output.trimmingCharacters(in: .whitespacesAndNewlines)
        switch status {
        case 0: return Prerequisite("network namespaces", missing: nil)
        case 77: return Prerequisite("network namespaces", missing: reason)
        default:
            return Prerequisite(
                "network namespaces", missing: "netns-up --check ended with status \(status): \(reason)")
        }
    }()

    /// Mounting a tmpfs (root): probed by mounting and unmounting a 1 MiB one in a temporary folder.
    static let tmpfsMount: Prerequisite = {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("lth-tmpfs-probe-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let (status, output) = runCapturing("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", folder.path])
        guard status == 0 else {
            let reason = output.trimmingCharacters(in: .whitespacesAndNewlines)
            return Prerequisite("a tmpfs mount", missing: "`mount -t tmpfs` failed (needs root): \(reason)")
        }
        _ = runCapturing("/bin/umount", [folder.path])
        return Prerequisite("a tmpfs mount", missing: nil)
    }()
}

/// The package root (this file is Tests/IntegrationTests/ProcessSupport.swift).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Runs `executable` to its end; its exit status (-1 if it could not start) and its output and errors together.
func runCapturing(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    do { try process.run() } catch { return (-1, "\(error)") }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A child process with its output in a file; killed (SIGKILL) if still running when dropped.
final class Child {
    let process = Process()
    let log: URL

    init(_ binary: URL, _ arguments: [String], log: URL, environment: [String: String] = [:]) throws {
        self.log = log
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.executableURL = binary
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// Waits for the exit (at most `seconds`); returns the status, or nil on timeout.
    func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        guard !process.isRunning else { return nil }
        return process.terminationStatus
    }

    func terminate() {
        if process.isRunning { process.terminate() }
    }

    /// Waits until the output contains `text` (at most `seconds`).
    func waitForOutput(_ text: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if output.contains(text) { return true }
            usleep(50_000)
        }
        return false
    }
}

/// A TCP port free right now on 127.0.0.1 (bound to port 0, read, closed).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestFailure("bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Small MNIST-shaped IDX files (28×28 images, labels 0–9) whose pixels depend on the label, so a network learns
/// something in a few iterations. Deterministic.
func writeTinyMNIST(_ dataDirectory: URL, train: Int = 1_200, test: Int = 300) throws {
    let folder = dataDirectory.appendingPathComponent("mnist")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    func be32(_ value: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) } }
    func write(_ name: String, count: Int, seed: UInt64) throws {
        var state = seed
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        var images = be32(0x803) + be32(count) + be32(28) + be32(28)
        var labels = be32(0x801) + be32(count)
        for _ in 0..<count {
            let label = Int(next() % 10)
            labels.append(UInt8(label))
            for pixel in 0..<784 {
                let row = pixel / 28
                let on = row / 3 == label || (pixel % 28) / 3 == label
                // Mostly zero off the stroke, as in MNIST (about 24 % of pixels nonzero): the sparse-input path.
                images.append(on ? UInt8(150 + next() % 100) : next() % 20 == 0 ? UInt8(1 + next() % 40) : 0)
            }
        }
        try Data(images).write(to: folder.appendingPathComponent("\(name)-images-idx3-ubyte"))
        try Data(labels).write(to: folder.appendingPathComponent("\(name)-labels-idx1-ubyte"))
    }
    try write("train", count: train, seed: 1)
    try write("t10k", count: test, seed: 2)
}
