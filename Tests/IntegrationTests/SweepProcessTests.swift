import Foundation
import LotteryWire
import TestPrerequisites
import Testing
import ZeroMQ

/// Real processes over real sockets: `lth sweep`, `lth-coordinator`, `lth-worker`, `lth train`.
@Suite(.serialized) struct SweepProcessTests {
    /// `lth sweep` with 2 worker processes (CURVE over tcp loopback) on tiny MNIST-shaped data: every trial × round
    /// (control branches included) appears once in rounds.csv, and the numbers equal those of `lth train` on the same
    /// trial spec.
    @Test(.requires(.binaries)) func sweepWithTwoWorkersMatchesLthTrain() throws {
        let bin = try Binaries.require()
        try withTemporaryDirectory { dir in
            let data = dir.appendingPathComponent("data")
            try writeTinyMNIST(data)
            let base = """
                dataset: mnist
                model:
                  layers: [40, 20]
                train:
                  iterations: 60
                  eval_every: 30
                data:
                  validation: 200
                prune:
                  rounds: 2
                controls: [reinit-random]
                """
            let indented = base.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
            let spec = dir.appendingPathComponent("tiny.yaml")
            try "name: tiny\nbase:\n\(indented)\ngrid:\n  reinit: [rewind, random]\nseeds: 1\n".write(
                to: spec, atomically: true, encoding: .utf8)
            let out = dir.appendingPathComponent("out")
            let sweep = try Child(
                bin.appendingPathComponent("lth"),
                [
                    "sweep", spec.path, "--workers", "2", "--out", out.path, "--data-dir", data.path, "--heartbeat-ms",
                    "200",
                ],
                log: dir.appendingPathComponent("sweep.log"))
            let status = sweep.wait(seconds: 240)
            #expect(status == 0, "lth sweep: \(sweep.output)")
            let rows = try readCSV(out.appendingPathComponent("rounds.csv"))
            // 2 trials × 3 rounds, plus a reinit-random control branch (one round) of each pruned round.
            #expect(rows.count == 10)
            #expect(Set(rows.map { "\($0["trial_id"]!)#\($0["round"]!)" }).count == 10)
            #expect(rows.filter { $0["branch.kind"] == "reinit-random" }.count == 4)
            #expect(Set(rows.map { $0["worker"]! }).isSubset(of: ["worker/worker-1", "worker/worker-2"]))

            for reinit in ["rewind", "random"] {
                let trialSpec = dir.appendingPathComponent("trial-\(reinit).yaml")
                try "\(base)\nreinit: \(reinit)\nseed: 0\n".write(to: trialSpec, atomically: true, encoding: .utf8)
                let trainOut = dir.appendingPathComponent("train-\(reinit)")
                let train = try Child(
                    bin.appendingPathComponent("lth"),
                    ["train", trialSpec.path, "--out", trainOut.path, "--data-dir", data.path],
                    log: dir.appendingPathComponent("train-\(reinit).log"))
                #expect(train.wait(seconds: 240) == 0, "lth train: \(train.output)")
                let trainRows = try readCSV(trainOut.appendingPathComponent("rounds.csv"))
                #expect(trainRows.count == 5)
                for trainRow in trainRows {
                    let match = rows.first {
                        $0["trial_id"] == trainRow["trial_id"] && $0["round"] == trainRow["round"]
                    }
                    guard let match else {
                        Issue.record(
                            "lth train's trial \(trainRow["trial_id"] ?? "?") round \(trainRow["round"] ?? "?") is not in the sweep"
                        )
                        continue
                    }
                    let skipped: Set<String> = ["seconds", "worker", "host"]
                    let columns = Set(trainRow.keys).intersection(match.keys).filter {
                        !skipped.contains($0) && !$0.hasSuffix("_at")
                    }
                    #expect(columns.contains("test_acc_at_es") && columns.contains("density"))
                    #expect(Set(trainRow.keys) == Set(match.keys), "lth train and lth sweep write the same columns")
                    for column in columns.sorted() {
                        // Both go through the same store and CSV writer: the text must match, digit for digit.
                        #expect(
                            match[column] == trainRow[column],
                            "\(reinit) round \(trainRow["round"]!) column \(column): \(match[column]!) vs \(trainRow[column]!)"
                        )
                    }
                }
            }
        }
    }

    /// A sweep of tiny trials (a [784, 30, 10, 10] network, 40 iterations per round by default) on `writeTinyMNIST` data.
    /// (Real training on purpose: these tests exercise the worker's dataset path; SyntheticSweepTests covers `synthetic.round_ms`.)
    static func tinySweep(_ dir: URL, rounds: Int, seeds: Int, iterations: Int = 40) throws -> URL {
        let spec = dir.appendingPathComponent("small.yaml")
        let text = """
            name: small
            base:
              dataset: mnist
              model:
                layers: [30, 10]
              train:
                iterations: \(iterations)
                eval_every: 20
              data:
                validation: 100
              prune:
                rounds: \(rounds)
            seeds: \(seeds)

            """
        try text.write(to: spec, atomically: true, encoding: .utf8)
        return spec
    }

    /// A worker started before the coordinator connects once it is up; a worker started mid-sweep gets work.
    @Test(.requires(.binaries)) func workersStartedBeforeTheCoordinatorAndMidSweepBothWork() throws {
        let bin = try Binaries.require()
        try withTemporaryDirectory { dir in
            // Rounds long enough (≈ 0.5 s in release) that the late worker joins while trials are still queued: with
            // 600 iterations the early worker could finish the sweep before the late one connected (seen in release).
            let spec = try Self.tinySweep(dir, rounds: 3, seeds: 3, iterations: 2000)
            let data = dir.appendingPathComponent("data")
            try writeTinyMNIST(data, train: 600, test: 100)
            let endpoint = "tcp://127.0.0.1:\(try freePort())"
            func worker(_ index: Int) throws -> Child {
                try Child(
                    bin.appendingPathComponent("lth-worker"),
                    [
                        "--connect", endpoint, "--name", "w\(index)", "--slots", "1", "--heartbeat-ms", "200",
                        "--data-dir", dir.appendingPathComponent("cache-\(index)").path,
                    ],
                    log: dir.appendingPathComponent("worker-\(index).log"))
            }
            let early = try worker(1)
            usleep(500_000)
            let out = dir.appendingPathComponent("out")
            let coordinator = try Child(
                bin.appendingPathComponent("lth-coordinator"),
                [
                    spec.path, "--bind", endpoint, "--out", out.path, "--heartbeat-ms", "200", "--data-dir", data.path,
                ],
                log: dir.appendingPathComponent("coordinator.log"))
            #expect(coordinator.waitForOutput("round 0 of", seconds: 30), "\(coordinator.output)")
            let late = try worker(2)
            let status = coordinator.wait(seconds: 240)  // generous: a bound against hangs, not a timing test
            #expect(
                status == 0, "coordinator: \(coordinator.output)\nworker 1: \(early.output)\nworker 2: \(late.output)")
            let rows = try readCSV(out.appendingPathComponent("rounds.csv"))
            #expect(rows.count == 12)
            #expect(Set(rows.map { "\($0["trial_id"]!)#\($0["round"]!)" }).count == 12)
            #expect(
                Set(rows.map { $0["worker"]! }) == ["w1", "w2"],
                "both workers recorded rounds\ncoordinator: \(coordinator.output)\nworker 2: \(late.output)")
            #expect(early.wait(seconds: 15) == 0 && late.wait(seconds: 15) == 0, "workers exit 0 after SHUTDOWN")
        }
    }

    /// A peer speaking garbage and another protocol version is answered with REJECT while the sweep completes.
    @Test(.requires(.binaries)) func hostilePeerIsRejectedWhileTheSweepCompletes() throws {
        let bin = try Binaries.require()
        try withTemporaryDirectory { dir in
            let spec = try Self.tinySweep(dir, rounds: 2, seeds: 2)
            let data = dir.appendingPathComponent("data")
            try writeTinyMNIST(data, train: 600, test: 100)
            let endpoint = "tcp://127.0.0.1:\(try freePort())"
            let out = dir.appendingPathComponent("out")
            let coordinator = try Child(
                bin.appendingPathComponent("lth-coordinator"),
                [spec.path, "--bind", endpoint, "--out", out.path, "--heartbeat-ms", "200", "--data-dir", data.path],
                log: dir.appendingPathComponent("coordinator.log"))
            let worker = try Child(
                bin.appendingPathComponent("lth-worker"),
                [
                    "--connect", endpoint, "--name", "honest", "--heartbeat-ms", "200", "--data-dir",
                    dir.appendingPathComponent("cache").path,
                ],
                log: dir.appendingPathComponent("worker.log"))
            #expect(coordinator.waitForOutput("listening on", seconds: 20), "\(coordinator.output)")
            let context = try ZMQContext()
            let hostile = try FakeWorker(context: context, endpoint: endpoint, name: "hostile")
            hostile.heartbeats = false
            var codes: [WireMessage.RejectCode] = []
            for frames in [
                [[UInt8](repeating: 0x41, count: 64)],
                [Wire.header(.hello, version: 7), Array("{\"x\":1}".utf8)],
                [Wire.header(.roundResult), Array("{\"blobs\":[],\"message\":{\"task_id\":-1}}".utf8)],
                [Array("LTW1".utf8)],
            ] {
                try hostile.sendRaw(frames)
                do {
                    codes.append(
                        try hostile.wait(seconds: 10) {
                            if case .reject(let r) = $0 { return r.code } else { return nil }
                        })
                } catch {
                    Issue.record("\(error)\ncoordinator: \(coordinator.output)")
                    return
                }
            }
            #expect(codes == [.badMessage, .versionMismatch, .badMessage, .badMessage])
            #expect(coordinator.wait(seconds: 240) == 0, "\(coordinator.output)")
            #expect(coordinator.output.contains("rejected a message from unregistered peer"))
            let rows = try readCSV(out.appendingPathComponent("rounds.csv"))
            #expect(rows.count == 6 && Set(rows.map { $0["worker"]! }) == ["honest"])
            #expect(worker.wait(seconds: 15) == 0)
            // `lth status` lists the refusals: the other version once, the three bad messages as one line and a count.
            let (code, json) = try WatchSweepProcessTests.lth(
                bin, ["status", out.path, "--json"], in: dir, name: "s.json")
            #expect(code == 0, "\(json)")
            let events = WatchSweepProcessTests.json(json)?["events"] as? [[String: Any]] ?? []
            let refused = events.filter { $0["kind"] as? String == "peer-refused" }.map {
                $0["message"] as? String ?? ""
            }
            #expect(refused.filter { $0.contains("speaks protocol version \(Wire.version)") }.count == 1, "\(refused)")
            #expect(refused.filter { $0.contains("again 2 time(s)") }.count == 1, "\(refused)")
            #expect(refused.count == 3, "\(refused)")
        }
    }
}
