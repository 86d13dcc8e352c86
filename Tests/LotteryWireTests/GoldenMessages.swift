import LotteryCore
import LotteryWire

/// One fixed message per kind (and per shape of a TASK's spec), every optional field set somewhere, for the golden
/// bytes of protocol v1 (`GoldenBytesTests`). Small blobs: the bytes are committed in `GoldenBytes.swift`.
enum GoldenMessages {
    static let dataset = WireMessage.DatasetRef(id: "mnist", checksum: "0123456789abcdef")
    static let progress = [WireMessage.TrialProgress(taskID: 17, trialID: "t1", round: 3, iteration: 2_400)]

    /// Every key of a spec that is not a branch, one-shot or synthetic: conv layers, explicit seeds, SGD, late
    /// rewinding, a target density, per-kind rates, a criterion, controls.
    static var fullSpec: TrialSpec {
        var spec = TrialSpec()
        spec.dataset = "cifar10"
        spec.model.layers = [.conv(8), .pool, .fc(20)]
        spec.model.initializer = .heNormal
        spec.train.optimizer = .sgd
        spec.train.lr = 0.05
        spec.train.momentum = 0.8
        spec.train.batch = 32
        spec.train.iterations = 400
        spec.train.evalEvery = 50
        spec.data.validation = 1_000
        spec.seed = 3
        spec.seeds.initialization = 11
        spec.seeds.order = 12
        spec.seeds.split = 13
        spec.prune.strategy = .globalMagnitude
        spec.prune.targetDensity = 0.25
        spec.prune.criterion = .magnitudeIncrease
        spec.prune.kindRates = .init(conv: 0.15, fc: 0.25, output: nil)
        spec.reinit = .rewind(iteration: 100)
        spec.controls = [.reinitRandom, .pruneRandom]
        spec.controlsSeeds = 2
        return spec
    }

    /// Explicit per-layer rates and the one-shot schedule with its densities.
    static var oneShotSpec: TrialSpec {
        var spec = TrialSpec()
        spec.model.layers = [.fc(30)]
        spec.prune.rates = [0.3, 0.1]
        spec.prune.schedule = .oneshot
        spec.prune.densities = [0.5, 0.2]
        spec.prune.rounds = 2
        spec.reinit = .signedConstant
        return spec
    }

    static var branchSpec: TrialSpec {
        var parent = TrialSpec()
        parent.model.layers = [.fc(30)]
        parent.controls = [.reinitRandom]
        parent.controlsSeeds = 2
        return parent.branch(.reinitRandom, round: 2, index: 1)
    }

    static var syntheticSpec: TrialSpec {
        var spec = TrialSpec()
        spec.synthetic = .init(roundMilliseconds: 250)
        spec.prune.rounds = 3
        return spec
    }

    static let metrics = RoundMetrics(
        trialID: "t1", round: 2, density: 0.64, layerDensities: [0.64, 0.81], keptCounts: [640, 81],
        earlyStopIteration: 300, valLossAtES: 0.25, valAccAtES: 0.875, testAccAtES: 0.8125, testAccFinal: 0.75,
        trainAccFinal: 0.9375, seconds: 1.5,
        curve: [
            EvalPoint(iteration: 0, valLoss: 2.25, valAcc: 0.125, testAcc: 0.0625),
            EvalPoint(iteration: 300, valLoss: 0.25, valAcc: 0.875, testAcc: 0.8125),
        ],
        layers: [
            LayerSummary(positiveAtInit: 0.5, positiveAfter: 0.375, meanAbsAtInit: 0.03125, meanAbsAfter: 0.0625)
        ],
        supermaskTestAcc: 0.5, supermaskSignedConstantTestAcc: 0.625)

    /// Name (stable, used as the key of the golden table) and message.
    static var all: [(name: String, message: WireMessage)] {
        [
            (
                "hello",
                .hello(
                    .init(
                        workerName: "node-7", host: "node-7.cluster", instanceID: "5f3a9c0e", cores: 32, slots: 30,
                        cpuKind: "x86_64 / 8c1f", buildID: "lth 0.1.0", datasets: [dataset], running: progress))
            ),
            ("ready", .ready(.init(credit: 3))),
            ("task", .task(.init(taskID: 17, trialID: "t1", spec: fullSpec, dataset: dataset))),
            (
                "task-resumed-oneshot",
                .task(
                    .init(
                        taskID: 19, trialID: "t2", spec: oneShotSpec, startRound: 1, dataset: dataset,
                        resumeMask: [1, 2, 3]))
            ),
            (
                "task-branch",
                .task(
                    .init(
                        taskID: 20, trialID: "t3", spec: branchSpec, dataset: dataset, parentMask: [4, 5]))
            ),
            (
                "task-synthetic",
                .task(
                    .init(
                        taskID: 21, trialID: "t4", spec: syntheticSpec,
                        dataset: .init(id: "mnist", checksum: "synthetic")))
            ),
            ("heartbeat", .heartbeat(.init(progress: progress))),
            (
                "round-result",
                .roundResult(
                    .init(
                        taskID: 17, metrics: metrics, mask: [9, 8, 7], nextMask: [6, 5], maskParent: 0xFEDC_BA98_7654_3210,
                        nextMaskParent: 0xFF))
            ),
            ("ack", .ack(.init(taskID: 17, trialID: "t1", round: 5, status: .duplicate))),
            ("trial-done", .trialDone(.init(taskID: 17, trialID: "t1", lastRound: 12))),
            ("trial-failed", .trialFailed(.init(taskID: 18, trialID: "t1", round: 2, error: "loss is NaN"))),
            (
                "give-back",
                .giveBack(
                    .init(
                        trials: [.init(taskID: 17, trialID: "t1", lastRound: 4), .init(taskID: 18, trialID: "t2", lastRound: nil)],
                        reason: "SIGTERM"))
            ),
            ("reject", .reject(.init(code: .unknownWorker, message: "say HELLO first"))),
            ("shutdown", .shutdown(.init(mode: .drain, reason: "SIGINT"))),
            ("data-request", .dataRequest(.init(datasetID: "mnist", offset: 1_024, length: 512))),
            (
                "data-chunk",
                .dataChunk(
                    .init(datasetID: "mnist", offset: 1_024, totalSize: 1_027, checksum: "abcd", bytes: [1, 2, 3]))
            ),
            ("cancel", .cancel(.init(taskID: 17, trialID: "t1", reason: "reassigned"))),
        ]
    }
}
