import ArgumentParser
import Foundation
import Logging
import LotterySpecFile
import LotteryResults
import LotteryCore
import LotteryWire
import MaskCodec

/// `lth train`: one trial on this machine, results in the same layout a sweep writes.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Run one IMP trial locally and write rounds.csv, curves.csv and masks/.",
        discussion: """
            The spec is built from the defaults (the paper's LeNet-300-100 on MNIST), then SPEC.yaml (nested or \
            dotted keys), then each --set key=value in order, then checked. Keys: see TrialSpec.keys \
            (e.g. train.lr, train.iterations, model.layers, seed, prune.rounds, reinit). Every round of the trial \
            runs, then each control branch (controls, controls_seeds) of that round.
            """
    )

    @Argument(help: ArgumentHelp("Trial spec YAML file.", valueName: "SPEC.yaml"))
    var specFile: String?

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("Override one key, e.g. --set train.lr=6e-4 (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Option(help: ArgumentHelp("Results folder (default: results/train-<trial_id>).", valueName: "DIR"))
    var out: String?

    @OptionGroup var data: DataDirOption

    @Option(
        help:
            "Threads for a network with convolutions (default: one per core; LeNet trains on one). The numbers do not depend on it."
    )
    var threads: Int?

    func run() throws {
        let spec = try buildSpec()
        let splits: DataSplits
        do { splits = try DataStore.splits(for: spec, directory: data.directory) } catch {
            throw ValidationError(
                "\(error)\n(data directory \(data.directory); fetch with `lth data fetch \(spec.dataset)`)")
        }
        let trialID = spec.trialID
        let folder = out ?? "results/train-\(trialID)"
        try runIMP(spec: spec, splits: splits, folder: folder)
    }

    // MARK: IMP (issue 3)

    /// Runs every round of the trial and its control branches, recording each result as it finishes.
    ///
    /// Output goes through the sweep's ``ResultsStore`` (results.db, masks/<trial_id>/round-NN.ltmask, then
    /// trials.csv, rounds.csv, curves.csv), so one trial here and in a sweep give the same files. Running the
    /// same trial again on the same folder resumes after the last recorded round.
    func runIMP(spec: TrialSpec, splits: DataSplits, folder: String) throws {
        let runner: IMPRunner
        let threadCount = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        do { runner = try IMPRunner(spec: spec, data: splits, threads: threadCount) } catch {
            throw ValidationError("\(specFile.map { "\($0): " } ?? "")\(error)")
        }
        let trialID = spec.trialID
        let plan = runner.plan
        let store = try ResultsStore.openOrCreate(
            directory: URL(fileURLWithPath: folder), sweepName: "train", specText: Self.yaml(spec),
            fingerprint: trialID, logger: Logger(label: "lth.train"))
        try? Data(Self.yaml(spec).utf8).write(to: URL(fileURLWithPath: folder).appendingPathComponent("trial.yaml"))
        try store.registerTrials([(id: trialID, spec: spec, expectedRounds: runner.lastRound + 1)])
        let recovered = try store.recoveredState()
        let recordedBranches = Set(recovered.trials.filter { $0.lastRecordedRound != nil }.map(\.id))
        let host = ProcessInfo.processInfo.hostName
        if recovered.done.contains(trialID) {
            try store.exportCSVs()
            say("trial \(trialID) is already complete in \(folder); nothing to do (delete the folder to run it again)")
            return
        }
        let startRound = (recovered.lastRecordedRound[trialID] ?? -1) + 1
        var previousMask: Mask? = nil
        var startMask: [LayerMask]? = nil
        if startRound > 0 {
            guard let next = try store.nextMask(trialID: trialID, round: startRound - 1) else {
                throw ValidationError(
                    "\(folder): round \(startRound - 1) is recorded without its masks; use another --out")
            }
            startMask = next.layerMasks
            previousMask = try MaskFile.load(
                path: store.directory.appendingPathComponent(
                    ResultsStore.maskRelativePath(trialID: trialID, round: startRound - 1)
                ).path)
            say("resuming trial \(trialID) at round \(startRound) from \(folder)")
        }
        try store.markRunning(trialID: trialID, worker: "local", host: host)

        let iterations = spec.train.iterations
        let branchesPerRound = spec.controls.count * spec.controlsSeeds
        let roundsLeft = runner.lastRound + 1 - startRound
        // One-shot branches re-train the dense round 0 first: two rounds' iterations each.
        let oneShotRuns = startRound == 0 ? 2 * (runner.oneShotPlan?.count ?? 0) : 0
        let totalIterations = (roundsLeft + roundsLeft * branchesPerRound + oneShotRuns) * iterations
        var doneIterations = 0
        let started = Date()
        let line = ProgressLine()
        printError(
            "trial \(trialID): \(spec.dataset), layers \(spec.model.layers), rounds \(startRound)...\(runner.lastRound) "
                + "down to \(percent(plan.density(round: runner.lastRound))), \(iterations) iterations each, "
                + (runner.oneShotPlan.map { "\($0.count) one-shot densities" }
                    ?? "\(branchesPerRound) control run(s) per pruned round") + " → \(folder)")

        func show(_ p: IMPProgress, label: String) {
            let done = doneIterations + p.iteration
            let elapsed = Date().timeIntervalSince(started)
            let eta = done > 0 ? elapsed / Double(done) * Double(max(0, totalIterations - done)) : .nan
            let eval =
                p.lastEval.map {
                    String(format: " · val loss %.4f · test acc %.2f%%", $0.valLoss, $0.testAcc * 100)
                } ?? ""
            let isEval = p.lastEval?.iteration == p.iteration
            line.update(
                "\(label) round \(p.round)/\(p.lastRound) · \(p.iteration)/\(p.iterations) · "
                    + "density \(percent(p.density))\(eval) · ETA \(formatDuration(eta))",
                force: isEval && !line.isTerminal)
        }

        func record(_ spec: TrialSpec, _ outcome: RoundOutcome, mask: [UInt8], next: [UInt8]?) throws {
            let result = RecordedRound(
                trialID: spec.trialID, round: outcome.metrics.round, spec: spec, metrics: outcome.metrics,
                maskBytes: mask, nextMaskBytes: next, worker: "local", host: host)
            try store.record(result)
        }

        try runner.run(
            startRound: startRound, startMask: startMask,
            progress: {
                show($0, label: $0.replaying ? "replay" : "IMP")
            }
        ) { outcome in
            let m = outcome.metrics
            doneIterations += iterations
            // Stored like a sweep stores it: round 0 self-contained, later rounds a delta on round r−1.
            let mask = Mask(outcome.mask)
            try record(
                spec, outcome, mask: MaskFile.encode(mask, parent: previousMask),
                next: outcome.nextMask.map { MaskFile.encode(Mask($0)) })
            previousMask = mask
            line.finish()
            say(
                "round \(pad(m.round, 2))  density \(percent(m.density))  early stop \(pad(m.earlyStopIteration, 6))"
                    + String(format: "  test acc @es %.4f  final %.4f", m.testAccAtES, m.testAccFinal)
                    + "  (\(formatDuration(m.seconds)))")
            // Control branches of rounds ≥ 1, or the one-shot densities of round 0 (RoundEstimate.branches).
            for branch in RoundEstimate.branches(of: spec, round: m.round) {
                // A branch is its own one-round trial on the parent's mask (prune-random: on a random mask with its
                // per-layer counts; oneshot: on its own density's mask), stored self-contained.
                let kind = branch.branch!.kind
                let index = branch.branch!.index
                doneIterations += iterations * (kind == .oneshot ? 2 : 1)
                guard !recordedBranches.contains(branch.trialID) else { continue }
                let result = try runner.runBranch(spec: branch, mask: outcome.mask) {
                    show($0, label: kind.rawValue)
                }
                // prune-random and oneshot train their own masks: store the mask the branch trained with.
                let branchMask = result.mask == outcome.mask ? mask : Mask(result.mask)
                try record(branch, result, mask: MaskFile.encode(branchMask), next: nil)
                try store.markDone(trialID: branch.trialID)
                line.finish()
                let b = result.metrics
                say(
                    "    \(kind.rawValue) #\(index)  density \(percent(b.density))  early stop \(pad(b.earlyStopIteration, 6))"
                        + String(format: "  test acc @es %.4f  final %.4f", b.testAccAtES, b.testAccFinal))
            }
            try store.exportCSVs()
        }
        try store.markDone(trialID: trialID)
        try store.exportCSVs()
        say(
            "done in \(formatDuration(Date().timeIntervalSince(started))); wrote \(folder): rounds.csv, curves.csv, "
                + "trials.csv, masks/\(trialID)/ (then: lth report \(folder))")
    }

    /// The spec as `key: value` lines (every key, defaults resolved): `lth train trial.yaml` runs it again.
    /// The `model` name is written as a comment: every key it sets is there explicitly.
    static func yaml(_ spec: TrialSpec) -> String {
        spec.columns.map { column -> String in
            let text = column.value.description
            if column.key == "model" { return "# model: \(text)" }
            let plain = text.isEmpty || text.hasPrefix("[") || Double(text) != nil || !text.contains(": ")
            return "\(column.key): \(plain ? text : "\"\(text)\"")"
        }.joined(separator: "\n") + "\n"
    }

    /// Defaults, then the file, then `--set`s, then cross-key validation.
    func buildSpec() throws -> TrialSpec {
        var parsed: [(String, SpecValue)] = []
        for assignment in overrides {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw ValidationError("--set \(assignment): expected key=value")
            }
            let key = String(assignment[..<equals]).trimmingCharacters(in: .whitespaces)
            parsed.append((key, SpecValue.parse(String(assignment[assignment.index(after: equals)...]))))
        }
        if let specFile {
            do { return try loadTrialSpec(path: specFile, overrides: parsed) } catch {
                throw ValidationError(error.description)
            }
        }
        var spec = TrialSpec()
        for (key, value) in TrialSpec.presetsFirst(parsed, key: \.0) {
            do { try spec.set(key, to: value) } catch { throw ValidationError("--set \(key): \(error.message)") }
        }
        do { try spec.validate() } catch { throw ValidationError("--set: \(error)") }
        return spec
    }
}

/// Writes one line to stdout unbuffered, so round lines appear as they happen (also under nohup).
private func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

private func pad(_ value: Int, _ width: Int) -> String {
    let text = String(value)
    return String(repeating: " ", count: max(0, width - text.count)) + text
}

private func percent(_ fraction: Double) -> String { String(format: "%.2f%%", fraction * 100) }
