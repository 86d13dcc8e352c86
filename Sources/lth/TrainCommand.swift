import ArgumentParser
import Foundation
import LotteryCore

/// `lth train SPEC.yaml [--set key=value …] --out DIR`: one whole IMP trial on this machine.
///
/// Runs every round of the trial (and its control branches after each round) with a progress line, and writes
/// `rounds.csv`, `curves.csv` and `masks/round-NN.bits` into DIR — the layout of a sweep's results folder
/// (docs/imp.md).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Run one IMP trial locally and write rounds.csv, curves.csv and masks/.",
        discussion: """
            Example: lth train paper.yaml --set train.iterations=5000 --set prune.rounds=12 --out results/t1
            Keys: \(TrialSpec.keys.map(\.name).joined(separator: ", "))
            """
    )

    @Argument(help: "YAML trial spec (dotted or nested keys); missing keys take the paper's defaults.")
    var spec: String

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one key, e.g. --set reinit=random (repeatable).", valueName: "key=value"))
    var overrides: [String] = []

    @Option(help: ArgumentHelp("Output directory (created).", valueName: "DIR"))
    var out: String

    @Option(name: .customLong("data-dir"), help: ArgumentHelp("Data directory (default: $LTH_DATA_DIR, else ./data).", valueName: "DIR"))
    var dataDir: String?

    func run() throws {
        let trial: TrialSpec
        do { trial = try loadTrainSpec(path: spec, overrides: overrides) } catch let error as TrainInputError {
            throw ValidationError(error.description)
        }
        let directory = dataDir ?? DataStore.defaultDirectory()
        let data: DataSplits
        do { data = try DataStore.splits(for: trial, directory: directory) } catch {
            throw ValidationError("\(error)\n(data directory \(directory); fetch it with `lth data fetch \(trial.dataset)`)")
        }
        let runner: IMPRunner
        do { runner = try IMPRunner(spec: trial, data: data) } catch { throw ValidationError("\(spec): \(error)") }
        let files = try TrialFiles(directory: out, layerCount: runner.widths.count - 1)
        try Data((trial.canonicalText + "\n").utf8).write(to: URL(fileURLWithPath: out).appendingPathComponent("trial.txt"))

        let plan = runner.plan
        let iterations = trial.train.iterations
        let branchesPerRound = trial.controls.count * trial.controlsSeeds
        let totalIterations = (plan.lastRound + 1) * iterations + plan.lastRound * branchesPerRound * iterations
        var doneIterations = 0
        let started = Date()
        let line = TrainProgress()
        say("trial \(trial.trialID): rounds 0...\(plan.lastRound) down to density \(percent(plan.density(round: plan.lastRound))), \(iterations) iterations each, \(branchesPerRound) control run(s) per pruned round")

        func show(_ p: IMPProgress, label: String) {
            let done = doneIterations + p.iteration
            let elapsed = Date().timeIntervalSince(started)
            let eta = done > 0 ? elapsed / Double(done) * Double(totalIterations - done) : .nan
            let eval = p.lastEval.map { String(format: "  val loss %.4f  test acc %.4f", $0.valLoss, $0.testAcc) } ?? ""
            line.update(
                "\(label) round \(p.round)/\(p.lastRound)  iter \(p.iteration)/\(p.iterations)  density \(percent(p.density))\(eval)  ETA \(duration(eta))",
                force: p.iteration == p.iterations)
        }

        try runner.run(progress: { show($0, label: $0.replaying ? "replay" : "IMP") }) { outcome in
            let m = outcome.metrics
            doneIterations += iterations
            try files.append(spec: trial, metrics: m)
            try files.writeMask(outcome.mask, round: m.round)
            line.finish()
            say("round \(pad(m.round, 2))  density \(percent(m.density))  early stop \(pad(m.earlyStopIteration, 6))"
                + String(format: "  test acc @es %.4f  final %.4f", m.testAccAtES, m.testAccFinal) + "  (\(duration(m.seconds)))")
            guard m.round > 0 else { return }
            for kind in trial.controls {
                for index in 0..<trial.controlsSeeds {
                    let branch = trial.branch(kind, round: m.round, index: index)
                    let result = try runner.runBranch(spec: branch, mask: outcome.mask) { show($0, label: kind.rawValue) }
                    doneIterations += iterations
                    try files.append(spec: branch, metrics: result.metrics)
                    line.finish()
                    say("    \(kind.rawValue) #\(index)  early stop \(pad(result.metrics.earlyStopIteration, 6))"
                        + String(format: "  test acc @es %.4f  final %.4f", result.metrics.testAccAtES, result.metrics.testAccFinal))
                }
            }
        }
        say("done in \(duration(Date().timeIntervalSince(started))); wrote \(out)/rounds.csv, curves.csv, masks/")
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

private func duration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    if seconds < 60 { return String(format: "%.1f s", seconds) }
    let total = Int(seconds.rounded())
    if total < 3600 { return String(format: "%d min %02d s", total / 60, total % 60) }
    return String(format: "%d h %02d min", total / 3600, total % 3600 / 60)
}

/// A status line on stderr, rewritten in place on a terminal; elsewhere one line per forced update.
private final class TrainProgress {
    let isTerminal = isatty(STDERR_FILENO) == 1
    private var last = Date.distantPast
    private var drawn = false

    func update(_ text: String, force: Bool) {
        if isTerminal {
            guard force || Date().timeIntervalSince(last) >= 0.1 else { return }
            last = Date()
            FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
            drawn = true
        } else if force {
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }

    func finish() {
        if isTerminal, drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        drawn = false
    }
}
