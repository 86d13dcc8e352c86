import Foundation
import TestPrerequisites
import Testing
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// The multi-host test bed (cluster/netns): a coordinator and three workers in their own network namespaces,
/// CURVE over 10.213.0.0/24, and one worker host cut off mid-sweep. Skipped (with the reason printed) where network
/// namespaces cannot be created (not root, no `ip netns`: `netns-up --check` exits 77); a failure under `CI=true`.
@Suite(.serialized) struct MultiHostTests {
    static let netns: URL = {
        // Tests/IntegrationTests/MultiHostTests.swift → the package root.
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("cluster/netns")
    }()

    /// Runs a test-bed script; returns its status and output.
    @discardableResult
    static func script(_ name: String, _ arguments: [String], log: URL) throws -> (status: Int32, output: String) {
        let child = try Child(netns.appendingPathComponent(name), arguments, log: log)
        let status = child.wait(seconds: 60) ?? -1
        return (status, child.output)
    }

    /// In namespaces lth-c (coordinator, CURVE, binding 10.213.0.1) and lth-w1…w3 (one worker each): a synthetic
    /// sweep of 6 trials × 4 rounds of 300 ms. When w2 has recorded round 1 of a trial, its host is cut off
    /// (`netns-cut lth-w2`, a silent link loss). The sweep still completes: every trial × round is recorded exactly
    /// once, and the cut trial's later rounds come from another worker.
    @Test(.requires(.binaries), .requires(.networkNamespaces)) func sweepSurvivesAHostCutOff() throws {
        let bin = try Binaries.require()
        try Prerequisite.networkNamespaces.check()
        try withTemporaryDirectory { dir in
            let up = try Self.script("netns-up", ["3"], log: dir.appendingPathComponent("netns-up.log"))
            defer { _ = try? Self.script("netns-down", [], log: dir.appendingPathComponent("netns-down.log")) }
            try #require(up.status == 0, "netns-up 3 failed: \(up.output)")

            // Keys: the coordinator's pair and an allow-list with one key per worker (its identity).
            let serverKeys = dir.appendingPathComponent("keys-c")
            try FileManager.default.createDirectory(
                at: serverKeys.appendingPathComponent("workers"), withIntermediateDirectories: true)
            let server = try CurveKeyPair.generate()
            _ = try server.save(directory: serverKeys.path, name: "server")
            var workerKeys: [URL] = []
            for k in 1...3 {
                let folder = dir.appendingPathComponent("keys-w\(k)")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                let pair = try CurveKeyPair.generate()
                _ = try pair.save(directory: folder.path, name: "worker")
                _ = try pair.save(directory: serverKeys.appendingPathComponent("workers").path, name: "w\(k)")
                try FileManager.default.copyItem(
                    atPath: serverKeys.appendingPathComponent("server.key").path,
                    toPath: folder.appendingPathComponent("server.key").path)
                // The allow-list holds only public keys.
                try FileManager.default.removeItem(
                    at: serverKeys.appendingPathComponent("workers/w\(k).key_secret"))
                workerKeys.append(folder)
            }

            let spec = dir.appendingPathComponent("multihost.yaml")
            try """
            name: multihost
            base:
              synthetic:
                round_ms: 300
              prune:
                rounds: 3
            seeds: 6

            """.write(to: spec, atomically: true, encoding: .utf8)
            let out = dir.appendingPathComponent("out")
            let run = Self.netns.appendingPathComponent("netns-run")
            let coordinator = try Child(
                run,
                [
                    "lth-c", bin.appendingPathComponent("lth-coordinator").path, spec.path, "--bind",
                    "tcp://10.213.0.1:5555", "--out", out.path, "--keys", serverKeys.path, "--heartbeat-ms", "200",
                ],
                log: dir.appendingPathComponent("coordinator.log"))
            var workers: [Child] = []
            defer { for worker in workers { worker.terminate() } }
            for k in 1...3 {
                workers.append(
                    try Child(
                        run,
                        [
                            "lth-w\(k)", bin.appendingPathComponent("lth-worker").path, "--connect",
                            "tcp://10.213.0.1:5555", "--keys", workerKeys[k - 1].path, "--name", "w\(k)", "--slots",
                            "1", "--heartbeat-ms", "200", "--data-dir", dir.appendingPathComponent("cache-w\(k)").path,
                        ],
                        log: dir.appendingPathComponent("worker-\(k).log")))
            }

            // Cut w2 off as soon as it has recorded round 1 of a trial (so rounds 2 and 3 are still to come).
            var cutTrial: String? = nil
            let deadline = Date().addingTimeInterval(30)
            while cutTrial == nil, Date() < deadline, coordinator.process.isRunning {
                for line in coordinator.output.split(separator: "\n") {
                    guard let range = line.range(of: "round 1 of "), line.contains(" recorded from w2:") else {
                        continue
                    }
                    cutTrial = line[range.upperBound...].split(separator: " ").first.map(String.init)
                    break
                }
                if cutTrial == nil { usleep(20_000) }
            }
            let trial = try #require(cutTrial, "w2 never recorded a round 1: \(coordinator.output)")
            let cut = try Self.script("netns-cut", ["lth-w2"], log: dir.appendingPathComponent("netns-cut.log"))
            try #require(cut.status == 0, "netns-cut: \(cut.output)")

            let status = coordinator.wait(seconds: 40)
            #expect(status == 0, "lth-coordinator: \(coordinator.output)")
            let rows = try readCSV(out.appendingPathComponent("rounds.csv"))
            #expect(rows.count == 24, "6 trials × 4 rounds")
            let keys = rows.map { "\($0["trial_id"]!)#\($0["round"]!)" }
            #expect(Set(keys).count == 24, "every trial × round exactly once")
            let cutRows = rows.filter { $0["trial_id"] == trial }.sorted { Int($0["round"]!)! < Int($1["round"]!)! }
            #expect(cutRows.map { $0["round"]! } == ["0", "1", "2", "3"])
            #expect(cutRows.first { $0["round"] == "1" }?["worker"] == "w2")
            #expect(
                cutRows.filter { Int($0["round"]!)! >= 2 }.allSatisfy { $0["worker"] == "w1" || $0["worker"] == "w3" },
                "the cut trial resumed on another host: \(cutRows.map { $0["worker"] ?? "?" })")
            #expect(coordinator.output.contains("worker w2 left"), "the coordinator noticed the cut")
        }
    }
}
