import LotteryCore
import Testing

/// Two Gaussian blobs in 20 dimensions (means ±0.5 on every feature, σ = 1), labels 0/1.
private func blobs(count: Int, seed: Int) -> Dataset {
    var rng = LotteryRNG(seed: seed)
    var images: [Float] = []
    var labels: [UInt8] = []
    for i in 0..<count {
        let label = UInt8(i % 2)
        let mean = label == 0 ? -0.5 : 0.5
        for _ in 0..<20 { images.append(Float(mean + rng.gaussian())) }
        labels.append(label)
    }
    return Dataset(images: images, labels: labels, features: 20, classes: 2)
}

private let tinyData = DataSplits(
    train: blobs(count: 400, seed: 1), validation: blobs(count: 100, seed: 2), test: blobs(count: 200, seed: 3))

/// A small trial: 20-16-8-2, 60 iterations of batch 20 per round, 3 pruning rounds at 30/30/20%.
private func tinySpec(reinit: ReinitRule = .rewind(iteration: 0), strategy: PruneStrategy = .layerwiseMagnitude)
    -> TrialSpec
{
    var spec = TrialSpec()
    spec.model.layers = [16, 8]
    spec.train.batch = 20
    spec.train.iterations = 60
    spec.train.evalEvery = 20
    spec.train.lr = 1e-2
    spec.data.validation = 100
    spec.seed = 42
    spec.prune.strategy = strategy
    spec.prune.rates = strategy == .globalMagnitude ? [0.3] : [0.3, 0.3, 0.2]
    spec.prune.rounds = 3
    spec.reinit = reinit
    return spec
}

private func runAll(_ runner: IMPRunner, startRound: Int = 0, startMask: [LayerMask]? = nil) throws -> [RoundOutcome] {
    var outcomes: [RoundOutcome] = []
    try runner.run(startRound: startRound, startMask: startMask) { outcomes.append($0) }
    return outcomes
}

/// Metrics without the wall-clock field, for bit-identity comparisons.
private func timeless(_ m: RoundMetrics) -> RoundMetrics {
    var copy = m
    copy.seconds = 0
    return copy
}

private func bits(_ model: MLP) -> [[UInt32]] {
    model.layers.flatMap { [$0.weight.data.map(\.bitPattern), $0.bias.map(\.bitPattern)] }
}

/// A random mask with the given kept fraction.
private func randomMasks(widths: [Int], keep: Double, seed: Int) -> [LayerMask] {
    var rng = LotteryRNG(seed: seed)
    return zip(widths, widths.dropFirst()).map { rows, cols in
        LayerMask(rows: rows, cols: cols, kept: (0..<(rows * cols)).map { _ in rng.uniform() < keep })
    }
}

@Suite("IMP loop: masks, reinit rules, resume, branches")
struct IMPRunnerTests {
    @Test func roundsFollowThePlanWithNestedMasks() throws {
        let runner = try IMPRunner(spec: tinySpec(), data: tinyData)
        let outcomes = try runAll(runner)
        #expect(outcomes.map(\.metrics.round) == [0, 1, 2, 3])
        #expect(outcomes[0].mask == runner.denseMasks && outcomes[0].metrics.density == 1)
        for r in 0..<3 {
            let next = try #require(outcomes[r].nextMask)
            #expect(next == outcomes[r + 1].mask)
            #expect(Pruning.isNested(next, in: outcomes[r].mask))
        }
        #expect(outcomes[3].nextMask == nil)
        #expect(outcomes.map { $0.metrics.keptCounts.reduce(0, +) } == runner.plan.keptTotals)
        #expect(outcomes.map(\.metrics.keptCounts) == runner.plan.keptPerLayer)
        // Kernel weights only: 20·16 + 16·8 + 8·2 = 464; biases are not counted, so round 1 density is exact.
        #expect(runner.plan.totalWeights == 464)
        #expect(outcomes[1].metrics.density == Double(runner.plan.keptTotals[1]) / 464)
        for outcome in outcomes {
            let m = outcome.metrics
            #expect(m.trialID == runner.spec.trialID)
            #expect(m.curve.map(\.iteration) == [20, 40, 60])
            let best = try #require(m.curve.min { $0.valLoss < $1.valLoss })
            #expect(
                m.earlyStopIteration == best.iteration && m.testAccAtES == best.testAcc && m.valLossAtES == best.valLoss
            )
            #expect(m.testAccFinal == m.curve.last!.testAcc)
            #expect(m.layers.count == 3)
        }
        // The blobs are separable: training works at every density here.
        #expect(outcomes.allSatisfy { $0.metrics.testAccAtES > 0.7 })
    }

    @Test func prunedWeightsAreZeroInEveryForwardPassAndBiasesAreNeverPruned() throws {
        let spec = tinySpec()
        let runner = try IMPRunner(spec: spec, data: tinyData)
        let theta0 = runner.initialNetwork
        let mask = randomMasks(widths: runner.architecture.widths!, keep: 0.4, seed: 9)
        var model = Reinit.startingNetwork(spec: spec, round: 1, mask: mask, theta0: theta0)
        for l in mask.indices { #expect(zip(model.layers[l].weight.data, mask[l].kept).allSatisfy { $1 || $0 == 0 }) }
        _ = Trainer(spec: spec, data: tinyData).train(&model)
        for l in mask.indices {
            // The optimizer never regrows a pruned weight.
            #expect(zip(model.layers[l].weight.data, mask[l].kept).allSatisfy { $1 || $0.bitPattern == 0 })
            // Biases are dense and trained (the mask has no entries for them); a dead ReLU unit's bias may
            // legitimately stay put, so ask for movement in every layer, not every unit.
            #expect(model.layers[l].bias.count == model.layers[l].outputs)
            #expect(zip(model.layers[l].bias, theta0.layers[l].bias).contains { $0 != $1 })
        }
        #expect(zip(model.layers[2].bias, theta0.layers[2].bias).allSatisfy { $0 != $1 })
        // Pruning a trained network never touches biases either: only kernel flags exist to flip.
        let next = Pruning.layerwiseMagnitude(
            weights: model.layers.map(\.weight.data), masks: mask, rates: [0.5, 0.5, 0.5])
        #expect(next.map(\.kept.count) == model.layers.map(\.weight.count))
        // Garbage in pruned kernel slots must not reach the forward pass.
        var dirty = model
        for l in dirty.layers.indices {
            for i in mask[l].kept.indices where !mask[l].kept[i] { dirty.layers[l].weight.data[i] = 1e3 }
        }
        let clean = Trainer.evaluate(model, on: tinyData.test)
        let polluted = Trainer.evaluate(dirty, on: tinyData.test)
        #expect(clean.loss == polluted.loss && clean.accuracy == polluted.accuracy)
    }

    @Test func rewindRestoresTheta0BitForBit() throws {
        let spec = tinySpec()
        let runner = try IMPRunner(spec: spec, data: tinyData)
        let theta0 = runner.initialNetwork
        let mask = randomMasks(widths: runner.architecture.widths!, keep: 0.5, seed: 3)
        var trained = theta0
        _ = Trainer(spec: spec, data: tinyData).train(&trained)
        let start = Reinit.startingNetwork(spec: spec, round: 2, mask: mask, theta0: theta0, trained: trained)
        for l in mask.indices {
            let expected = zip(theta0.layers[l].weight.data, mask[l].kept).map {
                $1 ? $0.bitPattern : Float(0).bitPattern
            }
            #expect(start.layers[l].weight.data.map(\.bitPattern) == expected)
            #expect(start.layers[l].bias.map(\.bitPattern) == theta0.layers[l].bias.map(\.bitPattern))
        }
        // And the runner uses it: round r's start summary equals θ₀ ⊙ mask_r's.
        let outcomes = try runAll(runner)
        for outcome in outcomes.dropFirst() {
            let reference = Reinit.startingNetwork(
                spec: spec, round: outcome.metrics.round, mask: outcome.mask, theta0: theta0)
            for l in outcome.mask.indices {
                let kept = zip(reference.layers[l].weight.data, outcome.mask[l].kept).filter(\.1).map(\.0)
                let meanAbs = kept.reduce(0.0) { $0 + Double(abs($1)) } / Double(kept.count)
                #expect(outcome.metrics.layers[l].meanAbsAtInit == meanAbs)
            }
        }
    }

    @Test func randomReinitDiffersFromTheta0AndIsSeedDetermined() throws {
        let spec = tinySpec(reinit: .random)
        let runner = try IMPRunner(spec: spec, data: tinyData)
        let theta0 = runner.initialNetwork
        let mask = runner.denseMasks
        let a = Reinit.startingNetwork(spec: spec, round: 1, mask: mask, theta0: theta0)
        let again = Reinit.startingNetwork(spec: spec, round: 1, mask: mask, theta0: theta0)
        let round2 = Reinit.startingNetwork(spec: spec, round: 2, mask: mask, theta0: theta0)
        var otherSeed = spec
        otherSeed.seed = 43
        let other = Reinit.startingNetwork(spec: otherSeed, round: 1, mask: mask, theta0: theta0)
        #expect(bits(a) == bits(again))
        #expect(a.layers[0].weight.data != theta0.layers[0].weight.data)
        #expect(a.layers[0].weight.data != round2.layers[0].weight.data)
        #expect(a.layers[0].weight.data != other.layers[0].weight.data)
        #expect(a.layers.allSatisfy { $0.bias.allSatisfy { $0 == 0 } })
        // Same distribution: the std of the first layer is close to Glorot's √(2/(20+16)).
        let w = a.layers[0].weight.data.map(Double.init)
        let std = (w.reduce(0) { $0 + $1 * $1 } / Double(w.count)).squareRoot()
        #expect(abs(std - (2.0 / 36).squareRoot()) < 0.03)
    }

    @Test func signedConstantKeepsSignsOfTheta0AtLayerStd() throws {
        let spec = tinySpec(reinit: .signedConstant)
        let runner = try IMPRunner(spec: spec, data: tinyData)
        let theta0 = runner.initialNetwork
        let mask = randomMasks(widths: runner.architecture.widths!, keep: 0.5, seed: 5)
        let start = Reinit.startingNetwork(spec: spec, round: 1, mask: mask, theta0: theta0)
        for l in mask.indices {
            let layer = theta0.layers[l]
            let sigma = Float(MLP.initStd(fanIn: layer.inputs, fanOut: layer.outputs, initializer: .glorotNormal))
            for i in mask[l].kept.indices {
                let expected: Float = mask[l].kept[i] ? (layer.weight.data[i] < 0 ? -sigma : sigma) : 0
                #expect(start.layers[l].weight.data[i] == expected)
            }
        }
    }

    @Test func lateRewindingUsesTheDenseRunsWeightsAtIterationK() throws {
        let spec = tinySpec(reinit: .rewind(iteration: 25))
        let runner = try IMPRunner(spec: spec, data: tinyData)
        let theta0 = runner.initialNetwork
        var dense = theta0
        let run = Trainer(spec: spec, data: tinyData).train(&dense, snapshotAt: 25)
        let snapshot = try #require(run.snapshot)
        // Recomputed by re-running 25 iterations: bit-identical to the snapshot of the full dense run.
        let recomputed = runner.denseRunWeights(at: 25, from: theta0)
        #expect(bits(recomputed) == bits(snapshot))
        #expect(bits(recomputed) != bits(theta0) && bits(recomputed) != bits(dense))
        // The runner's round 1 starts from snapshot ⊙ mask (kernels) and the snapshot's biases.
        let outcomes = try runAll(runner)
        let mask = outcomes[1].mask
        let start = Reinit.startingNetwork(spec: spec, round: 1, mask: mask, theta0: theta0, rewindPoint: snapshot)
        for l in mask.indices {
            let expected = zip(snapshot.layers[l].weight.data, mask[l].kept).map { $1 ? $0 : 0 }
            #expect(start.layers[l].weight.data == expected)
            #expect(start.layers[l].bias == snapshot.layers[l].bias)
        }
        var retrained = start
        let round1 = Trainer(spec: spec, data: tinyData).train(&retrained)
        #expect(round1.curve == outcomes[1].metrics.curve)
    }

    @Test(arguments: [
        (ReinitRule.rewind(iteration: 0), PruneStrategy.layerwiseMagnitude),
        (.rewind(iteration: 25), .layerwiseMagnitude),
        (.random, .random),
        (.none, .globalMagnitude),
        (.signedConstant, .layerwiseMagnitude),
    ])
    func resumeFromRecordedMaskIsBitIdentical(reinit: ReinitRule, strategy: PruneStrategy) throws {
        let runner = try IMPRunner(spec: tinySpec(reinit: reinit, strategy: strategy), data: tinyData)
        let full = try runAll(runner)
        #expect(full.count == 4)
        for r in 1...3 {
            let resumed = try runAll(runner, startRound: r, startMask: full[r - 1].nextMask)
            #expect(resumed.map { timeless($0.metrics) } == full[r...].map { timeless($0.metrics) }, "resume at \(r)")
            #expect(resumed.map(\.mask) == full[r...].map(\.mask))
            #expect(resumed.map(\.nextMask) == full[r...].map(\.nextMask))
        }
    }

    @Test func resumeRejectsMasksThatDoNotFit() throws {
        let runner = try IMPRunner(spec: tinySpec(), data: tinyData)
        #expect(throws: IMPError.self) { try runAll(runner, startRound: 1, startMask: nil) }
        #expect(throws: IMPError.self) { try runAll(runner, startRound: 1, startMask: runner.denseMasks) }
        #expect(throws: IMPError.self) { try runAll(runner, startRound: 4, startMask: runner.denseMasks) }
        let wrongShape = [LayerMask(rows: 2, cols: 2, fill: true)]
        #expect(throws: IMPError.self) { try runAll(runner, startRound: 1, startMask: wrongShape) }
        // reinit none replays: a mask with the right count but from another run is detected.
        let none = try IMPRunner(spec: tinySpec(reinit: .none), data: tinyData)
        var otherSeed = tinySpec(reinit: .none)
        otherSeed.seed = 7
        let foreign = try #require(try runAll(try IMPRunner(spec: otherSeed, data: tinyData))[0].nextMask)
        #expect(throws: IMPError.self) { try runAll(none, startRound: 1, startMask: foreign) }
    }

    @Test func randomPruningThroughTheRunnerMatchesMagnitudeCounts() throws {
        let magnitude = try runAll(try IMPRunner(spec: tinySpec(), data: tinyData))
        let random = try runAll(try IMPRunner(spec: tinySpec(strategy: .random), data: tinyData))
        #expect(magnitude.map(\.metrics.keptCounts) == random.map(\.metrics.keptCounts))
        #expect(magnitude[1].mask != random[1].mask)
    }

    @Test func branchTrainsParentMaskFromItsOwnSeed() throws {
        let spec = tinySpec()
        let runner = try IMPRunner(spec: spec, data: tinyData)
        let outcomes = try runAll(runner)
        let mask = outcomes[2].mask
        let b0 = spec.branch(.reinitRandom, round: 2, index: 0)
        let b1 = spec.branch(.reinitRandom, round: 2, index: 1)
        let first = try runner.runBranch(spec: b0, mask: mask)
        let again = try runner.runBranch(spec: b0, mask: mask)
        let second = try runner.runBranch(spec: b1, mask: mask)
        #expect(first.metrics.trialID == b0.trialID && first.metrics.trialID != spec.trialID)
        #expect(first.metrics.round == 0 && first.nextMask == nil && first.mask == mask)
        #expect(first.metrics.density == outcomes[2].metrics.density)
        #expect(timeless(first.metrics) == timeless(again.metrics))
        // A worker that only has the branch spec (a separately scheduled task) gets the same numbers.
        let alone = try IMPRunner(spec: b0, data: tinyData).runBranch(spec: b0, mask: mask)
        #expect(timeless(alone.metrics) == timeless(first.metrics))
        #expect(first.metrics.layers != second.metrics.layers)
        #expect(first.metrics.layers != outcomes[2].metrics.layers)
        #expect(Reinit.branchInitSeed(b0) != Reinit.branchInitSeed(b1))
        #expect(
            Reinit.branchInitSeed(b0) != spec.initSeed
                && Reinit.branchInitSeed(b0) != Reinit.randomInitSeed(spec, round: 2))
    }

    /// A throwing progress callback stops the run mid-round (a worker's CANCEL or drain): the error comes out, the
    /// interrupted round is never reported, and resuming from the last reported round gives exactly the outcomes
    /// of an uninterrupted run.
    @Test func throwingProgressStopsMidRoundAndTheResumeIsExact() throws {
        struct Stop: Error {}
        var spec = tinySpec()
        spec.train.iterations = 300
        spec.train.evalEvery = 150
        let runner = try IMPRunner(spec: spec, data: tinyData)
        let full = try runAll(runner)
        var reported: [RoundOutcome] = []
        var calls: [(round: Int, iteration: Int)] = []
        #expect(throws: Stop.self) {
            try runner.run(
                progress: { p in
                    calls.append((p.round, p.iteration))
                    if p.round == 1 && p.iteration == 200 { throw Stop() }
                },
                onRound: { reported.append($0) })
        }
        #expect(reported.count == 1 && reported.first?.metrics.round == 0)
        #expect(calls.last.map { $0.round == 1 && $0.iteration == 200 } == true, "stopped at once, mid-round")
        let resumed = try runAll(runner, startRound: 1, startMask: reported[0].nextMask)
        #expect(resumed.map { timeless($0.metrics) } == full.dropFirst().map { timeless($0.metrics) })

        // Trainer alone: the error propagates and the model is left as it came in.
        var model = runner.initialNetwork
        let before = bits(model)
        #expect(throws: Stop.self) {
            _ = try Trainer(spec: spec, data: tinyData).train(&model) { p in if p.iteration == 100 { throw Stop() } }
        }
        #expect(bits(model) == before)
    }
}
