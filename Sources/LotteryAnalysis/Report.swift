import Foundation
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
}

/// `lth report`: structural analysis of a results folder, and its self-contained HTML report.
public enum Report {
    /// Reads `directory` (from `lth sweep` or `lth train --out`) and writes `structure.csv`, `similarity.csv`,
    /// `consensus.csv`, `pixels.csv` and `report.html` into it (columns: docs/report.md).
    ///
    /// - Throws: ``ReportError`` naming the file for a missing or malformed CSV, an unreadable mask file, or
    ///   an output that cannot be written.
    public static func write(directory: String, options: ReportOptions = ReportOptions()) throws(ReportError)
        -> ReportSummary
    {
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
        let html = ReportPage(folder: folder, analysis: analysis, options: options).html()
        let path = (directory as NSString).appendingPathComponent("report.html")
        do {
            try html.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw ReportError(path: path, "cannot write the report: \(error.localizedDescription)")
        }
        files.append(path)
        return ReportSummary(
            trials: folder.trials.count, configurations: folder.configurations.count, roundRows: folder.rounds.count,
            masksRead: analysis.masksRead, missingMasks: analysis.missingMasks, files: files)
    }
}
