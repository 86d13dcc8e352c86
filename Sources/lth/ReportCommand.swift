import ArgumentParser
import Foundation
import LotteryAnalysis
import LotteryResults

/// `lth report DIR`: structure.csv, similarity.csv, consensus.csv, pixels.csv and report.html for a results folder.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Analyse a results folder's masks and write structure/similarity CSVs and report.html.",
        discussion: """
            DIR is a folder written by `lth sweep` or `lth train --out DIR` (rounds.csv, curves.csv, \
            trials.csv, masks/), finished or not: with results.db (a sweep still running, or interrupted) the CSVs \
            are first rebuilt from it, read-only, and the summary says how far the sweep had got. Writes DIR/structure.csv, DIR/similarity.csv, DIR/consensus.csv, \
            DIR/pixels.csv and DIR/report.html (one self-contained file; opens offline). Columns: docs/report.md.
            """
    )

    @Argument(help: "The results folder.")
    var directory: String

    @Flag(
        help:
            "First write a synthetic LeNet-300-100 sweep into DIR (which must not hold rounds.csv yet), to preview the report."
    )
    var demo = false

    @Option(help: "With --demo: seeds per configuration (3 configurations).")
    var demoSeeds = 3

    @Option(help: "With --demo: pruning rounds after round 0.")
    var demoRounds = 18

    @Option(help: "Most points drawn per learning curve.")
    var maxCurvePoints = 60

    func run() throws {
        if demo {
            let rounds = (directory as NSString).appendingPathComponent(ResultsCSV.roundsFileName)
            guard !FileManager.default.fileExists(atPath: rounds) else {
                throw ValidationError("--demo: \(rounds) exists; give an empty or new folder")
            }
            let sweep = SyntheticResults(
                configurations: [
                    ["prune.strategy": "layerwise-magnitude"],
                    ["prune.strategy": "layerwise-magnitude", "reinit": "random"],
                    ["prune.strategy": "random"],
                ],
                seeds: Array(1...max(1, demoSeeds)), rounds: max(1, demoRounds),
                shapes: [[784, 300], [300, 100], [100, 10]], controls: true,
                iterations: 50_000, evaluations: 100)
            let written = try sweep.write(to: directory)
            print(
                "Wrote a synthetic sweep: \(written.mainTrials.count) trials, \(written.controlTrials.count) control branches, \(written.maskFiles) masks"
            )
        }
        var options = ReportOptions()
        options.maxPointsPerCurve = maxCurvePoints
        if let reader = try? ResultsReader.open(directory: URL(fileURLWithPath: directory, isDirectory: true)) {
            options.expectedRounds = SweepExpectation.rounds(reader)
        }
        let start = Date()
        let summary = try Report.write(directory: directory, options: options)
        if let progress = summary.progress { print(progress) }
        print(
            "Read \(summary.trials) trials in \(summary.configurations) configurations, \(summary.roundRows) rounds, \(summary.masksRead) masks (\(String(format: "%.1f", Date().timeIntervalSince(start))) s)"
        )
        if !summary.missingMasks.isEmpty {
            print("Missing \(summary.missingMasks.count) mask files, e.g. \(summary.missingMasks[0])")
        }
        for file in summary.files { print("wrote \(file)") }
    }
}
