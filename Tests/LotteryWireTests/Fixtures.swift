import Foundation
import LotteryCore
import LotteryWire
import Testing

/// Realistic sample messages, one or more per type, built from a fixed seed.
enum Fixtures {
    static func bytes(_ count: Int, seed: Int) -> [UInt8] {
        var rng = LotteryRNG(seed: seed, stream: "fixture-bytes")
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    static let dataset = WireMessage.DatasetRef(
        id: "mnist", checksum: "9fb629c4189551a2d022fa330f9573f3a1c7d3a11ee2b1e3d1f4a0c8e7b6a5d4")

    static var spec: TrialSpec {
        var spec = TrialSpec()
        spec.seed = 7
        spec.train.iterations = 5_000
        spec.prune.rounds = 12
        return spec
    }

    /// A round of LeNet-300-100 as IMP would report it: 51 evaluation points, three weight layers.
    static func metrics(round: Int) -> RoundMetrics {
        var rng = LotteryRNG(seed: round, stream: "fixture-metrics")
        var curve: [EvalPoint] = []
        for step in 0...50 {
            let t = Double(step)
            let noise: Double = 0.05 * rng.uniform()
            let loss: Double = 2.3 * exp(-t / 10) + noise
            let learned: Double = 1 - exp(-t / 8)
            curve.append(
                EvalPoint(
                    iteration: step * 100, valLoss: loss, valAcc: 0.1 + 0.88 * learned, testAcc: 0.1 + 0.875 * learned))
        }
        let keep = pow(0.8, Double(round))
        let kept = [Int(235_200 * keep), Int(30_000 * keep), Int(1_000 * pow(0.9, Double(round)))]
        let layers = (0..<3).map { _ in
            LayerSummary(
                positiveAtInit: 0.5 + 0.01 * rng.gaussian(), positiveAfter: 0.49 + 0.01 * rng.gaussian(),
                meanAbsAtInit: 0.04 + 0.001 * rng.uniform(), meanAbsAfter: 0.06 + 0.001 * rng.uniform())
        }
        return RoundMetrics(
            trialID: spec.trialID, round: round, density: Double(kept.reduce(0, +)) / 266_200,
            layerDensities: [Double(kept[0]) / 235_200, Double(kept[1]) / 30_000, Double(kept[2]) / 1_000],
            keptCounts: kept, earlyStopIteration: 3_400, valLossAtES: 0.0612, valAccAtES: 0.9812,
            testAccAtES: 0.9797, testAccFinal: 0.9788, trainAccFinal: 0.9991, seconds: 41.25, curve: curve,
            layers: layers,
            // Supermask accuracies (protocol version 2) on some rounds; absent on round 0, as from an older store.
            supermaskTestAcc: round == 0 ? nil : 0.1 + 0.7 * rng.uniform(),
            supermaskSignedConstantTestAcc: round == 0 ? nil : 0.1 + 0.8 * rng.uniform())
    }

    static var branchSpec: TrialSpec { spec.branch(.reinitRandom, round: 3, index: 0) }

    /// Every message type at least once, with blobs where the type carries them.
    static var all: [WireMessage] {
        let trial = spec.trialID
        let progress = [
            WireMessage.TrialProgress(taskID: 17, trialID: trial, round: 3, iteration: 2_400),
            WireMessage.TrialProgress(taskID: 18, trialID: branchSpec.trialID, round: 0, iteration: 0),
        ]
        return [
            .hello(
                .init(
                    workerName: "node-07.cluster/1", host: "node-07.cluster", instanceID: "5f3a9c0e11d24b7a", cores: 32,
                    slots: 30, cpuKind: "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz / flags 8c1f03e2",
                    buildID: "lth 0.1.0 (1d7d323)", datasets: [dataset], running: progress)),
            .hello(
                .init(
                    workerName: "laptop", host: "laptop", instanceID: "1", cores: 2, slots: 1, cpuKind: "arm64",
                    buildID: "dev")),
            .ready(.init(credit: 3)),
            .ready(.init(credit: 0)),
            .task(.init(taskID: 17, trialID: trial, spec: spec, dataset: dataset)),
            .task(
                .init(
                    taskID: 19, trialID: trial, spec: spec, startRound: 4, dataset: dataset,
                    resumeMask: bytes(9_000, seed: 1))),
            .task(
                .init(
                    taskID: 18, trialID: branchSpec.trialID, spec: branchSpec, dataset: dataset,
                    parentMask: bytes(12_345, seed: 2))),
            .heartbeat(.init(progress: progress)),
            .heartbeat(.init()),
            .roundResult(
                .init(
                    taskID: 17, metrics: metrics(round: 0), mask: bytes(600, seed: 3),
                    nextMask: bytes(30_000, seed: 4))),
            .roundResult(
                .init(
                    taskID: 17, metrics: metrics(round: 5), mask: bytes(20_000, seed: 5),
                    nextMask: bytes(18_000, seed: 6), maskParent: 0xFEDC_BA98_7654_3210,
                    nextMaskParent: 0x0000_0000_0000_00FF)),
            .roundResult(.init(taskID: 17, metrics: metrics(round: 12), mask: bytes(4_000, seed: 7))),
            .ack(.init(taskID: 17, trialID: trial, round: 5)),
            .ack(.init(taskID: 17, trialID: trial, round: 5, status: .duplicate)),
            .trialDone(.init(taskID: 17, trialID: trial, lastRound: 12)),
            .trialFailed(.init(taskID: 18, trialID: trial, round: 2, error: "loss is NaN at iteration 1,200")),
            .trialFailed(.init(taskID: 18, trialID: trial, error: "dataset mnist: checksum mismatch")),
            .giveBack(
                .init(
                    trials: [
                        .init(taskID: 17, trialID: trial, lastRound: 4),
                        .init(taskID: 18, trialID: "b", lastRound: nil),
                    ],
                    reason: "SIGTERM")),
            .reject(.init(code: .versionMismatch, message: "peer speaks protocol version 2, this build speaks 1")),
            .reject(.init(code: .unknownWorker, message: "say HELLO first")),
            .shutdown(.init(mode: .finish, reason: "sweep complete: 240 trials")),
            .shutdown(.init(mode: .drain, reason: "coordinator stopping (SIGINT)")),
            .dataRequest(.init(datasetID: "mnist", offset: 3 << 20)),
            .dataRequest(.init(datasetID: "mnist", offset: 0, length: 1)),
            .dataChunk(
                .init(
                    datasetID: "mnist", offset: 1 << 20, totalSize: 11_594_722,
                    checksum: dataset.checksum, bytes: bytes(Wire.maxChunkBytes, seed: 8))),
            .dataChunk(.init(datasetID: "empty", offset: 0, totalSize: 0, checksum: "e3b0c442", bytes: [])),
            .cancel(.init(taskID: 17, trialID: trial, reason: "reassigned after 3 missed heartbeats")),
        ]
    }

    /// The samples as test arguments that print as `HELLO #0` rather than as kilobytes of blob.
    static var samples: [Sample] {
        var seen: [MessageType: Int] = [:]
        return all.map { message in
            let index = seen[message.type, default: 0]
            seen[message.type] = index + 1
            return Sample(name: "\(message.type) #\(index)", message: message)
        }
    }
}

struct Sample: Sendable, CustomTestStringConvertible {
    var name: String
    var message: WireMessage
    var testDescription: String { name }
}
