public import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Something a test needs from the machine that the package cannot make itself: the built executables, network
/// namespaces, numpy, a tmpfs mount.
///
/// A test that needs one carries the trait ``Testing/Trait/requires(_:)`` and calls ``check()`` first:
/// - where the prerequisite is there, the test runs;
/// - where it is missing, the test is **skipped**, and `swift test` prints the reason (what is missing, what
///   installs it) instead of counting a test that did nothing as passed;
/// - under `CI=true` (CI, `CI=true scripts/test`) a missing prerequisite is a **failure**: scripts/setup installs
///   every one, so a missing one is a broken machine or a broken setup, never a reason to pass. The test runs and
///   ``check()`` fails it with the reason.
///
/// Thread-safety: immutable.
public struct Prerequisite: Sendable {
    /// What is needed, for people ("network namespaces").
    public let name: String
    /// `nil` when it is there; else why it is missing and what to do.
    public let missing: String?

    /// - Parameters:
    ///   - name: what is needed, for people.
    ///   - missing: `nil` when it is there; else why not and what installs it.
    public init(_ name: String, missing: String?) {
        self.name = name
        self.missing = missing
    }

    /// Whether this run is CI's: the environment variable `CI` is `true` (or `1`).
    public static var isCI: Bool {
        guard let value = getenv("CI") else { return false }
        return ["true", "1"].contains(String(cString: value).lowercased())
    }

    /// Whether a test that needs it runs: when it is there, and under CI always (to fail in ``check()``).
    public var testRuns: Bool { missing == nil || Self.isCI }

    /// The line `swift test` prints for a skipped test.
    public var skipReason: String { "needs \(name): \(missing ?? "present")" }

    /// Fails the calling test when the prerequisite is missing (reached only under `CI=true`, where the test is
    /// not skipped).
    ///
    /// - Throws: ``Missing``, which fails the test with what is missing.
    public func check() throws {
        if let missing { throw Missing(name: name, reason: missing) }
    }

    /// A prerequisite missing under `CI=true`: the test's failure.
    public struct Missing: Error, CustomStringConvertible {
        public var name: String
        public var reason: String
        public var description: String { "CI=true and \(name) is missing: \(reason)" }
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test only where `prerequisite` is there (or under `CI=true`, where its absence fails the test);
    /// elsewhere the test is skipped and the reason printed.
    public static func requires(_ prerequisite: Prerequisite) -> Self {
        .enabled(if: prerequisite.testRuns, Comment(rawValue: prerequisite.skipReason))
    }
}

extension Prerequisite {
    /// Runs `arguments` (the first is looked up on `PATH`), output discarded; its exit status, or nil if it could
    /// not start.
    public static func status(_ arguments: [String]) -> Int32? {
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0) }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        guard posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ) == 0 else { return nil }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// `python3` with numpy (scripts/setup installs python3-numpy).
    public static let numpy = Prerequisite(
        "numpy",
        missing: status(["python3", "-c", "import numpy"]) == 0
            ? nil : "`python3 -c 'import numpy'` fails (apt-get install python3-numpy, or pip install numpy)")

    /// `python3` whose sqlite3 is ≥ 3.35 (`ALTER TABLE … DROP COLUMN`, to make old-schema databases).
    public static let pythonSQLiteDropColumn = Prerequisite(
        "python3 with sqlite3 ≥ 3.35",
        missing: status(["python3", "-c", "import sqlite3,sys; sys.exit(sqlite3.sqlite_version_info < (3, 35))"]) == 0
            ? nil : "python3 is missing or its sqlite3 is older than 3.35 (apt-get install python3)")
}
