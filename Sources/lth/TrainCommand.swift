import ArgumentParser
import Foundation
import LotteryCore

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

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one key, e.g. --set train.lr=6e-4 (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Option(help: ArgumentHelp("Results folder (default: results/train-<trial_id>).", valueName: "DIR"))
    var out: String?

    @OptionGroup var data: DataDirOption

    func run() throws {
        let spec = try buildSpec()
        let splits: DataSplits
        do { splits = try DataStore.splits(for: spec, directory: data.directory) } catch {
            throw ValidationError("\(error)\n(data directory \(data.directory); fetch with `lth data fetch \(spec.dataset)`)")
        }
        let trialID = spec.trialID
        let folder = out ?? "results/train-\(trialID)"
        try runIMP(spec: spec, splits: splits, folder: folder)
    }

    // MARK: IMP (issue 3)

    /// Runs every round of the trial and its control branches, appending to the result files as rounds finish.
    func runIMP(spec: TrialSpec, splits: DataSplits, folder: String) throws {
        let runner: IMPRunner
        do { runner = try IMPRunner(spec: spec, data: splits) } catch {
            throw ValidationError("\(specFile.map { "\($0): " } ?? "")\(error)")
        }
        let files = try TrialFiles(directory: folder, layerCount: runner.widths.count - 1)
        try files.writeText(spec.canonicalText + "\n", to: "trial.txt")

        let plan = runner.plan
        let iterations = spec.train.iterations
        let branchesPerRound = spec.controls.count * spec.controlsSeeds
        let totalIterations = (plan.lastRound + 1 + plan.lastRound * branchesPerRound) * iterations
        var doneIterations = 0
        let started = Date()
        let line = ProgressLine()
        printError(
            "trial \(spec.trialID): \(spec.dataset), layers \(spec.model.layers), rounds 0...\(plan.lastRound) "
                + "down to \(percent(plan.density(round: plan.lastRound))), \(iterations) iterations each, "
                + "\(branchesPerRound) control run(s) per pruned round → \(folder)")

        func show(_ p: IMPProgress, label: String) {
            let done = doneIterations + p.iteration
            let elapsed = Date().timeIntervalSince(started)
            let eta = done > 0 ? elapsed / Double(done) * Double(totalIterations - done) : .nan
            let eval = p.lastEval.map {
                String(format: " · val loss %.4f · test acc %.2f%%", $0.valLoss, $0.testAcc * 100)
            } ?? ""
            let isEval = p.lastEval?.iteration == p.iteration
            line.update(
                "\(label) round \(p.round)/\(p.lastRound) · \(p.iteration)/\(p.iterations) · "
                    + "density \(percent(p.density))\(eval) · ETA \(formatDuration(eta))",
                force: isEval && !line.isTerminal)
        }

        try runner.run(progress: { show($0, label: $0.replaying ? "replay" : "IMP") }) { outcome in
            let m = outcome.metrics
            doneIterations += iterations
            try files.append(spec: spec, metrics: m)
            try files.writeMask(outcome.mask, round: m.round)
            line.finish()
            say(
                "round \(pad(m.round, 2))  density \(percent(m.density))  early stop \(pad(m.earlyStopIteration, 6))"
                    + String(format: "  test acc @es %.4f  final %.4f", m.testAccAtES, m.testAccFinal)
                    + "  (\(formatDuration(m.seconds)))")
            guard m.round > 0 else { return }
            for kind in spec.controls {
                for index in 0..<spec.controlsSeeds {
                    // A branch is its own one-round trial on the parent's mask; the mask is not stored again.
                    let branch = spec.branch(kind, round: m.round, index: index)
                    let result = try runner.runBranch(spec: branch, mask: outcome.mask) {
                        show($0, label: kind.rawValue)
                    }
                    doneIterations += iterations
                    try files.append(spec: branch, metrics: result.metrics)
                    line.finish()
                    let b = result.metrics
                    say(
                        "    \(kind.rawValue) #\(index)  early stop \(pad(b.earlyStopIteration, 6))"
                            + String(format: "  test acc @es %.4f  final %.4f", b.testAccAtES, b.testAccFinal))
                }
            }
        }
        say("done in \(formatDuration(Date().timeIntervalSince(started))); wrote \(folder): rounds.csv, curves.csv, masks/")
    }

    /// Defaults, then the file, then `--set`s, then cross-key validation.
    func buildSpec() throws -> TrialSpec {
        var spec = TrialSpec()
        if let specFile {
            do { try SpecFile.apply(path: specFile, to: &spec) } catch let error as SpecFileError {
                throw ValidationError(error.description)
            }
        }
        for assignment in overrides {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw ValidationError("--set \(assignment): expected key=value")
            }
            let key = String(assignment[..<equals]).trimmingCharacters(in: .whitespaces)
            let value = SpecValue.parse(String(assignment[assignment.index(after: equals)...]))
            do { try spec.set(key, to: value) } catch { throw ValidationError("--set \(assignment): \(error)") }
        }
        do { try spec.validate() } catch { throw ValidationError("\(specFile.map { "\($0): " } ?? "")\(error)") }
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
