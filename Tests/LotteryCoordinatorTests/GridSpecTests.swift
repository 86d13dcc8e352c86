import Foundation
import LotteryCoordinator
import LotterySpecFile
import LotteryCore
import Testing

/// The repository root, found from this file's path (Tests/LotteryCoordinatorTests/…).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

@Suite("Sweep spec: YAML grid expansion and errors")
struct GridSpecTests {
    static let quick = """
        name: quick
        base:
          dataset: mnist
          train: {iterations: 2000, eval_every: 200}
          prune: {rounds: 5}
        grid:
          reinit: [rewind, random]
          prune.strategy: [layerwise-magnitude, global-magnitude, random]
          train.lr: [1.2e-3, 6e-4]
        seeds: 2
        """

    @Test func expansionOrderCountsAndValues() throws {
        let plan = try parseSweep(text: Self.quick, file: "quick.yaml")
        #expect(plan.name == "quick")
        #expect(plan.trials.count == 2 * 3 * 2 * 2)
        #expect(plan.axes.map(\.key) == ["reinit", "prune.strategy", "train.lr"])
        #expect(plan.seeds == [0, 1])
        // Last axis fastest, seeds innermost.
        let first = plan.trials[0], second = plan.trials[1], third = plan.trials[2], last = plan.trials[23]
        #expect(
            first.axisValues.map(\.description) == [
                "reinit=rewind", "prune.strategy=layerwise-magnitude", "train.lr=0.0012",
            ])
        #expect(first.spec.seed == 0 && second.spec.seed == 1 && second.axisValues == first.axisValues)
        #expect(third.spec.train.lr == 6e-4 && third.spec.seed == 0)
        #expect(last.spec.reinit == .random && last.spec.prune.strategy == .random && last.spec.train.lr == 6e-4)
        #expect(last.spec.seed == 1)
        // Base applied everywhere.
        #expect(
            plan.trials.allSatisfy {
                $0.spec.train.iterations == 2000 && $0.spec.train.evalEvery == 200 && $0.spec.prune.rounds == 5
            })
        #expect(Set(plan.trials.map(\.id)).count == 24)
        #expect(plan.expectedRounds == 24 * 6)
        #expect(plan.expectedBranchTrials == 0)
    }

    @Test func idsAreStableAndMatchTheSpec() throws {
        let a = try parseSweep(text: Self.quick, file: "quick.yaml")
        let b = try parseSweep(text: Self.quick, file: "quick.yaml")
        #expect(a.trials.map(\.id) == b.trials.map(\.id))
        var spec = TrialSpec()
        spec.train.iterations = 2000
        spec.train.evalEvery = 200
        spec.prune.rounds = 5
        spec.seed = 1
        #expect(a.trials[1].id == spec.trialID)
        #expect(a.trials[1].id == a.trials[1].spec.trialID)
        // Same trials in another order and with comments: same fingerprint, different order.
        let reordered = """
            # comment
            name: quick
            seeds: [0, 1]
            grid:
              train.lr: [6e-4, 1.2e-3]
              reinit: [random, rewind]
              prune.strategy: [random, global-magnitude, layerwise-magnitude]
            base: {train.iterations: 2000, train.eval_every: 200, prune.rounds: 5}
            """
        let c = try parseSweep(text: reordered, file: "other.yaml")
        #expect(c.fingerprint == a.fingerprint)
        #expect(c.trials.map(\.id) != a.trials.map(\.id))
        let changed = try parseSweep(
            text: Self.quick.replacingOccurrences(of: "seeds: 2", with: "seeds: 3"), file: "q.yaml")
        #expect(changed.fingerprint != a.fingerprint)
    }

    @Test func seedsAsListCountOrAbsent() throws {
        let list = try parseSweep(text: "name: s\nseeds: [3, 7]\ngrid: {reinit: [rewind, random]}", file: "s.yaml")
        #expect(list.trials.map(\.spec.seed) == [3, 7, 3, 7])
        let count = try parseSweep(text: "name: s\nseeds: 4", file: "s.yaml")
        #expect(count.trials.map(\.spec.seed) == [0, 1, 2, 3])
        let absent = try parseSweep(text: "name: s\nbase: {seed: 9}", file: "s.yaml")
        #expect(absent.trials.map(\.spec.seed) == [9])
        let unnamed = try parseSweep(text: "grid: {reinit: [rewind]}", file: "dir/my-sweep.yaml")
        #expect(unnamed.name == "my-sweep")
    }

    @Test func nestedAndDottedBaseKeys() throws {
        let text = """
            name: nested
            base:
              train:
                lr: 6e-4
                optimizer: sgd
              prune.rounds: 3
              model: {layers: [64, 32], init: he-normal}
              seeds: {init: 11}
            """
        let spec = try #require(try parseSweep(text: text, file: "n.yaml").trials.first?.spec)
        #expect(spec.train.lr == 6e-4 && spec.train.optimizer == .sgd)
        #expect(spec.prune.rounds == 3)
        #expect(spec.model.layers == [64, 32] && spec.model.initializer == .heNormal)
        #expect(spec.seeds.initialization == 11)
    }

    @Test func listValuedAxes() throws {
        let text = """
            name: lists
            grid:
              model.layers: [[300, 100], [500, 300]]
              prune.rates: [[0.2, 0.2, 0.1], [0.3, 0.3, 0.15]]
            """
        let plan = try parseSweep(text: text, file: "l.yaml")
        #expect(plan.trials.count == 4)
        #expect(plan.trials.map(\.spec.model.layers) == [[300, 100], [300, 100], [500, 300], [500, 300]])
        #expect(plan.trials[1].spec.prune.rates == [0.3, 0.3, 0.15])
        #expect(plan.trials[1].axisValues[1].description == "prune.rates=[0.3, 0.3, 0.15]")
    }

    @Test func controlsCountBranchTrialsAndRounds() throws {
        let text = "name: c\nbase: {prune.rounds: 3, controls: [reinit-random], controls_seeds: 2}\nseeds: 2"
        let plan = try parseSweep(text: text, file: "c.yaml")
        #expect(plan.trials.count == 2)
        #expect(plan.expectedBranchTrials == 2 * 3 * 2)
        #expect(plan.expectedRounds == 2 * (4 + 6))
    }

    @Test func roundsFromTargetDensityReplayTheRounding() {
        var spec = TrialSpec()
        spec.prune.targetDensity = 0.012  // paper rates: round 19 is 1.49%, round 20 is 1.194%
        #expect(RoundEstimate.rounds(of: spec) == 21)
        spec.prune.targetDensity = 1
        #expect(RoundEstimate.rounds(of: spec) == 1)
        spec.prune.strategy = .globalMagnitude
        spec.prune.rates = [0.5]
        spec.prune.targetDensity = 0.25
        #expect(RoundEstimate.rounds(of: spec) == 3)
        spec.prune.rates = [0]
        #expect(RoundEstimate.rounds(of: spec) == RoundEstimate.maximumRounds + 1)
        #expect(RoundEstimate.rounds(of: TrialSpec().branch(.reinitRandom, round: 3, index: 0)) == 1)
    }

    /// (YAML text, expected line, expected text after "bad.yaml:LINE: ").
    static let errorCases: [(String, Int?, String)] = [
        (
            "name: x\ngrid:\n  reinit: [rewind]\n  prune.strategy:\n    - random\n    - magnitude\n", 6,
            "grid.prune.strategy: 'magnitude' is not one of layerwise-magnitude, global-magnitude, random"
        ),
        (
            "name: x\nbase: {train.lr: 1e-3}\ngrids:\n  reinit: [rewind]\n", 3,
            "grids: unknown section; allowed: name, description, base, grid, seeds"
        ),
        ("name: x\ntrain.lr: 1e-3\n", 2, "train.lr: unknown section (hyperparameters go under base: or grid:)"),
        (
            "name: x\nbase:\n  train:\n    learning_rate: 1\n", 4,
            "base.train.learning_rate: unknown key; did you mean train.optimizer"
        ),
        ("name: x\ngrid:\n  reinit: []\n", 3, "grid.reinit: empty axis"),
        ("name: x\ngrid:\n  train.lr: 1e-3\n", 3, "grid.train.lr: an axis must be a list of values"),
        (
            "name: x\ngrid:\n  reinit: [rewind, 'rewind:0']\n", 2,
            "grid: grid points 'reinit=rewind, seed=0' and 'reinit=rewind:0, seed=0' give the same trial"
        ),
        (
            "name: x\nbase: {train.iterations: 100}\ngrid:\n  train.eval_every: [50, 500]\n", 4,
            "grid.train.eval_every: 500 is more than train.iterations (100) (at grid point train.eval_every=500)"
        ),
        ("name: x\nbase:\n  train: [1, 2\n", 4, "YAML syntax:"),
        ("name: x\nbase:\n  seed: 1\n  seed: 2\n", 3, "seed: key set twice in the same map"),
        (
            "name: x\nbase:\n  train: {lr: 1e-3}\n  train.lr: 2e-3\n", 4,
            "base.train.lr: set twice (first on line 3); keep one"
        ),
        ("name: x\nseeds: [0, -1]\n", 2, "seeds: '-1' is not a seed"),
        ("name: x\nseeds: 0\n", 2, "seeds: a count must be ≥ 1"),
        ("name: x\nbase: {seed: 3}\nseeds: 2\n", 3, "seeds: base.seed is also set (line 2); keep one"),
        ("name: x\ngrid: {seed: [1, 2]}\n", 2, "grid.seed: give seeds at the top level"),
        ("name: ../up\n", 1, "name: '../up' is not a folder name"),
        ("- a\n- b\n", 1, "expected a YAML map of keys at the top level"),
    ]

    @Test(arguments: errorCases.indices)
    func specErrorsNameFileLineAndKey(index: Int) throws {
        let (yaml, line, expected) = Self.errorCases[index]
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("bad.yaml").path
            try yaml.write(toFile: path, atomically: true, encoding: .utf8)
            do {
                _ = try loadSweep(path: path)
                Issue.record("expected an error for case \(index)")
            } catch let error as SpecFileError {
                #expect(error.file == path)
                #expect(error.line == line, "case \(index): \(error)")
                let prefix = "\(path):\(line.map(String.init) ?? "?"): "
                #expect(error.description.hasPrefix(prefix + expected), "case \(index): \(error)")
                #expect(!error.description.contains("\n"))
            } catch {
                Issue.record("unexpected error type: \(error)")
            }
        }
    }

    @Test func missingFileSaysSo() {
        #expect {
            try loadSweep(path: "/nonexistent/dir/x.yaml")
        } throws: { error in
            String(describing: error).hasPrefix("/nonexistent/dir/x.yaml: cannot read the file")
        }
    }

    @Test func singleTrialFileWithOverrides() throws {
        try withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("trial.yaml").path
            try "train:\n  iterations: 300\n  eval_every: 100\nprune.strategy: random\nseed: 4\n".write(
                toFile: path, atomically: true, encoding: .utf8
            )
            let entries = try SpecFile.load(path: path)
            #expect(entries.map(\.key) == ["train.iterations", "train.eval_every", "prune.strategy", "seed"])
            #expect(entries.map(\.line) == [2, 3, 4, 5])
            let spec = try loadTrialSpec(path: path, overrides: [("train.lr", .double(6e-4))])
            #expect(
                spec.train.iterations == 300 && spec.prune.strategy == .random && spec.seed == 4
                    && spec.train.lr == 6e-4)

            #expect {
                try loadTrialSpec(path: path, overrides: [("train.eval_every", .int(1000))])
            } throws: { error in
                String(describing: error) == "--set: train.eval_every: 1000 is more than train.iterations (300)"
            }
            #expect {
                try loadTrialSpec(path: path, overrides: [("prune.strategy", .string("magnitude"))])
            } throws: { error in
                String(describing: error).hasPrefix("--set: prune.strategy: 'magnitude' is not one of")
            }
            try "train:\n  iterations: 300\n  eval_every: 1000\n".write(toFile: path, atomically: true, encoding: .utf8)
            #expect {
                try loadTrialSpec(path: path)
            } throws: { error in
                String(describing: error).hasPrefix("\(path):3: train.eval_every: 1000 is more than")
            }
            try Self.quick.write(toFile: path, atomically: true, encoding: .utf8)
            #expect {
                try loadTrialSpec(path: path)
            } throws: { error in
                String(describing: error).hasPrefix("\(path):1: name: this looks like a sweep file")
            }
        }
    }

    @Test func shippedSweepsLoad() throws {
        let quick = try loadSweep(path: repositoryRoot.appendingPathComponent("sweeps/quick.yaml").path)
        #expect(quick.name == "quick")
        #expect(quick.trials.count == 4)
        #expect(quick.trials.allSatisfy { $0.spec.dataset == "mnist" && $0.spec.model.layers == [300, 100] })
        let paper = try loadSweep(path: repositoryRoot.appendingPathComponent("sweeps/lenet300-paper.yaml").path)
        #expect(paper.trials.count == 2 * 2 * 5)
        #expect(paper.trials.allSatisfy { $0.spec.train.iterations == 50_000 && $0.spec.prune.rounds == 20 })
        #expect(paper.trials.allSatisfy { $0.spec.controls == [.reinitRandom] })
        #expect(paper.expectedBranchTrials == 20 * 20 * paper.trials[0].spec.controlsSeeds)
    }

    @Test func shippedConvSweepsLoadWithThePapersSettings() throws {
        let quick = try loadSweep(path: repositoryRoot.appendingPathComponent("sweeps/conv-quick.yaml").path)
        #expect(quick.trials.count == 4)
        #expect(quick.trials.allSatisfy { $0.spec.dataset == "fashion-mnist" && $0.spec.model.layers == ModelPreset.conv2.layers })
        // Explicit keys win over the preset: 800 iterations, not conv2's 20,000; the preset's lr stays.
        #expect(quick.trials.allSatisfy { $0.spec.train.iterations == 800 && $0.spec.train.lr == 2e-4 })
        #expect(quick.trials[0].spec.resolvedRates == [0.2, 0.2, 0.4, 0.4, 0.2])
        let paper = try loadSweep(path: repositoryRoot.appendingPathComponent("sweeps/conv-paper.yaml").path)
        #expect(paper.trials.count == 3 * 2 * 5)
        let conv6 = paper.trials.filter { $0.spec.model.layers == ModelPreset.conv6.layers }
        #expect(conv6.count == 10 && conv6.allSatisfy { $0.spec.train.iterations == 30_000 && $0.spec.train.lr == 3e-4 })
        #expect(conv6[0].spec.resolvedRates.first == 0.15 && conv6[0].spec.dataset == "cifar10")
        #expect(paper.trials.allSatisfy { $0.spec.train.evalEvery == 500 && $0.spec.prune.rounds == 20 })
    }

    @Test func presetOnAGridAxisLeavesTheBasesKeysInCharge() throws {
        let plan = try parseSweep(
            text: "name: p\nbase: {train: {iterations: 300}, model.init: he-normal}\ngrid:\n  model: [conv2, lenet300-100]\n",
            file: "p.yaml")
        #expect(plan.trials.count == 2)
        #expect(plan.trials.allSatisfy { $0.spec.train.iterations == 300 && $0.spec.model.initializer == .heNormal })
        #expect(plan.trials[0].spec.train.lr == 2e-4 && plan.trials[1].spec.train.lr == 1.2e-3)
    }

    @Test func misspelledPresetIsAFileLineError() {
        do {
            _ = try parseSweep(text: "name: p\nbase:\n  model: conv7\n", file: "p.yaml")
            Issue.record("accepted model: conv7")
        } catch {
            #expect(error.description.hasPrefix("p.yaml:3: base.model: 'conv7' is not one of lenet300-100, conv2"))
        }
    }

    @Test func docMentionsEveryKey() throws {
        let doc = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/sweep-spec.md"), encoding: .utf8)
        for key in TrialSpec.keys.map(\.name) {
            #expect(doc.contains("`\(key)`"), "docs/sweep-spec.md does not mention `\(key)`")
        }
    }
}
