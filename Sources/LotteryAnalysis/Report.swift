import Foundation
import LotteryResults
import LotteryCore
import MaskCodec

/// Knobs of ``Report/write(directory:options:)``; the defaults suit LeNet sweeps of 100+ trials.
public struct ReportOptions: Sendable {
    /// Most points drawn per learning curve (curves are downsampled evenly, first and last point kept).
    public var maxPointsPerCurve = 60
    /// Densities (fractions) whose nearest rounds get learning curves (the paper's Figure 3).
    public var curveDensities = [1.0, 0.51, 0.21, 0.07, 0.036, 0.019]
    /// Densities whose nearest rounds get input-pixel heatmaps.
    public var pixelDensities = [1.0, 0.21, 0.07, 0.019]
    /// Most configurations that get heatmaps (the first ones, in file order).
    public var maxPixelConfigurations = 4
    /// Rounds the whole sweep will record (its spec's expansion, control branches included), for the progress line of
    /// a running or interrupted sweep; `nil`: the registered trials' counts.
    public var expectedRounds: Int?

    public init() {}
}

/// What ``Report/write(directory:options:)`` read and wrote.
public struct ReportSummary: Sendable {
    public var trials: Int
    public var configurations: Int
    public var roundRows: Int
    public var masksRead: Int
    /// Mask files that rounds.csv promised but the folder does not hold.
    public var missingMasks: [String]
    /// Paths of the files written.
    public var files: [String]
    /// How far the sweep had got, read from results.db (``SweepStatus/progressLine``), when the folder has one.
    public var progress: String? = nil
}

/// `lth report`: structural analysis of a results folder, and its self-contained HTML report.
public enum Report {
    /// Reads `directory` (from `lth sweep` or `lth train --out`) and writes `structure.csv`, `similarity.csv`,
    /// `consensus.csv`, `pixels.csv` and `report.html` into it (columns: docs/report.md).
    ///
    /// - Throws: ``ReportError`` naming the file for a missing or malformed CSV, an unreadable mask file, or
    ///   an output that cannot be written.
    ///
    /// A folder with `results.db` (a sweep, running, interrupted or finished) first gets its CSVs rebuilt from it,
    /// read-only on the database (``ResultsReader``), so the report shows every round recorded so far, and the
    /// summary says how far the sweep had got.
    public static func write(directory: String, options: ReportOptions = ReportOptions()) throws(ReportError)
        -> ReportSummary
    {
        var status: SweepStatus?
        let database = (directory as NSString).appendingPathComponent("results.db")
        if FileManager.default.fileExists(atPath: database) {
            do {
                let reader = try ResultsReader.open(directory: URL(fileURLWithPath: directory, isDirectory: true))
                try reader.exportCSVs()
                status = try reader.status(expectedRounds: options.expectedRounds)
            } catch {
                throw ReportError(path: database, "\(error)")
            }
        }
        let folder = try ResultsFolder(directory: directory)
        let analysis = try MaskAnalysis(folder: folder)
        let outputs: [(String, CSVWriter)] = [
            ("structure.csv", analysis.structure), ("similarity.csv", analysis.similarity),
            ("consensus.csv", analysis.consensus), ("pixels.csv", analysis.pixels),
        ]
        var files: [String] = []
        for (name, writer) in outputs {
            let path = (directory as NSString).appendingPathComponent(name)
            try writer.write(to: path)
            files.append(path)
        }
        let html = ReportPage(folder: folder, analysis: analysis, options: options, status: status).html()
        let path = (directory as NSString).appendingPathComponent("report.html")
        do {
            try html.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw ReportError(path: path, "cannot write the report: \(error.localizedDescription)")
        }
        files.append(path)
        return ReportSummary(
            trials: folder.trials.count, configurations: folder.configurations.count, roundRows: folder.rounds.count,
            masksRead: analysis.masksRead, missingMasks: analysis.missingMasks, files: files,
            progress: status.map { "sweep '\($0.sweep)' \($0.progressLine)" })
    }
}
