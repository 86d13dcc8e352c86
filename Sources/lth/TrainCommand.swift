import ArgumentParser
import Foundation
import LotteryCore

/// `lth train`: one trial on this machine, results in the same layout a sweep writes.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train one trial locally and write rounds.csv and curves.csv.",
        discussion: """
            The spec is built from the defaults (the paper's LeNet-300-100 on MNIST), then SPEC.yaml (nested or \
            dotted keys), then each --set key=value in order, then checked. Keys: see TrialSpec.keys \
            (e.g. train.lr, train.iterations, model.layers, seed, prune.rounds, reinit).
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
        if spec.prune.rounds > 0 || spec.prune.targetDensity != nil {
            printError("note: iterative pruning arrives with the IMP issue; training the dense round 0 only")
        }
        let splits: DataSplits
        do { splits = try DataStore.splits(for: spec, directory: data.directory) } catch {
            throw ValidationError("\(error)\n(data directory \(data.directory); fetch with `lth data fetch \(spec.dataset)`)")
        }
        let trialID = spec.trialID
        let folder = out ?? "results/train-\(trialID)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        printError("trial \(trialID): \(spec.dataset), layers \(spec.model.layers), \(spec.train.optimizer.rawValue) lr \(spec.train.lr), \(spec.train.iterations) iterations → \(folder)")

        var model = MLP(spec: spec, features: splits.train.features, classes: splits.train.classes)
        let initial = model
        let trainer = Trainer(spec: spec, data: splits)
        let line = ProgressLine()
        let started = Date()
        let run = trainer.train(&model) { progress in
            let elapsed = Date().timeIntervalSince(started)
            let rate = Double(progress.iteration) / max(elapsed, 1e-9)
            let eta = Double(progress.iterations - progress.iteration) / max(rate, 1e-9)
            let accuracy = progress.lastEval.map { String(format: "val acc %.2f%%", $0.valAcc * 100) } ?? "val acc –"
            let isEval = progress.lastEval?.iteration == progress.iteration
            line.update("round 0: \(progress.iteration)/\(progress.iterations) · \(accuracy) · \(Int(rate)) it/s · ETA \(formatDuration(eta))",
                        force: isEval && !line.isTerminal)
        }
        line.finish()
        let metrics = RoundMetrics(trialID: trialID, round: 0, initial: initial, trained: model, run: run)
        let tables = ResultTables.render(spec: spec, rounds: [metrics])
        try tables.rounds.write(toFile: (folder as NSString).appendingPathComponent("rounds.csv"), atomically: true, encoding: .utf8)
        try tables.curves.write(toFile: (folder as NSString).appendingPathComponent("curves.csv"), atomically: true, encoding: .utf8)
        print(String(format: "round 0: early stop at %d (val loss %.4f, test acc %.2f%%), final test acc %.2f%%, train acc %.2f%%, %@",
                     run.earlyStop.iteration, run.earlyStop.valLoss, run.earlyStop.testAcc * 100, run.finalTestAccuracy * 100,
                     run.finalTrainAccuracy * 100, formatDuration(run.seconds)))
        print("wrote \(folder)/rounds.csv and \(folder)/curves.csv")
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
