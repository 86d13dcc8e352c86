import Foundation
import LotteryAnalysis
import LotteryCore
import MaskCodec
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Runs `body` with a fresh temporary directory that is removed afterwards.
@discardableResult
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let path = NSTemporaryDirectory() + "lth-analysis-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// The fixture sweep: 2 configurations × 2 seeds × 4 rounds (0…3), a LeNet-shaped first layer (784 inputs) on a
/// small network, one random-reinit control branch per trial and pruned round.
let fixture = SyntheticResults(
    configurations: [["prune.strategy": "layerwise-magnitude"], ["prune.strategy": "random"]], seeds: [1, 2], rounds: 3,
    shapes: [[784, 12], [12, 6], [6, 3]], rate: 0.5, controls: true, iterations: 1000, evaluations: 80)

/// What an XHTML report holds, per `<figure id>`: markers per series, cell widths of heatmaps.
final class ReportScan: NSObject, XMLParserDelegate {
    var figure: String?
    var series: String?
    var markers: [String: [String: Int]] = [:]
    var cellWidth: [String: Double] = [:]
    var elements = 0
    var svgCount = 0
    var scripts = 0
    var externalReferences = 0

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        elements += 1
        if name == "figure" { figure = attributes["id"] }
        if name == "svg" { svgCount += 1 }
        if name == "script" { scripts += 1 }
        for key in ["href", "src", "xlink:href"] where attributes[key] != nil { externalReferences += 1 }
        if name == "g", attributes["class"] == "series" { series = attributes["data-series"] }
        if name == "circle", attributes["class"] == "marker", let figure, let series {
            markers[figure, default: [:]][series, default: 0] += 1
        }
        if name == "rect", attributes["class"] == "cell", let figure,
            let width = attributes["width"].flatMap(Double.init)
        {
            cellWidth[figure, default: 0] += width
        }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "figure" { figure = nil }
        if name == "g" { series = nil }
    }
}

func scan(_ path: String) throws -> ReportScan {
    let data = try #require(FileManager.default.contents(atPath: path))
    let parser = XMLParser(data: data)
    let scan = ReportScan()
    parser.delegate = scan
    let parsed = parser.parse()
    #expect(parsed, "report.html is not well-formed XML: \(String(describing: parser.parserError))")
    return scan
}

@Suite struct ReportTests {
    static let structureColumns = [
        "trial_id", "configuration", "seed", "round", "layer", "rows", "cols", "weights", "kept", "density",
        "effective_kept", "effective_density", "network_density", "network_effective_density",
        "out_degree_min", "out_degree_mean", "out_degree_max", "out_degree_gini",
        "in_degree_min", "in_degree_mean", "in_degree_max", "in_degree_gini",
        "rows_without_out", "cols_without_in", "zombie_units", "inactive_units", "dead_units", "inactive_inputs",
        "positive_at_init", "positive_after", "mean_abs_at_init", "mean_abs_after", "kind", "input_units",
        "input_units_without_out",
    ]
    static let similarityColumns = [
        "kind", "configuration_a", "configuration_b", "trial_a", "trial_b", "seed_a", "seed_b", "round_a", "round_b",
        "layer", "weights", "kept_a", "kept_b", "density_a", "density_b", "intersection", "union", "jaccard",
        "expected_intersection", "overlap_over_chance", "chance_jaccard", "jaccard_over_chance",
    ]

    @Test func reportOfAFixtureSweep() throws {
        try withTemporaryDirectory { directory in
            let written = try fixture.write(to: directory)
            #expect(written.mainTrials.count == 4)
            #expect(written.controlTrials.count == 12)
            let summary = try Report.write(directory: directory)
            #expect(summary.masksRead == 16)
            #expect(summary.missingMasks.isEmpty)
            #expect(summary.configurations == 4)

            // structure.csv: one row per main trial × round × layer, documented columns.
            let structure = try CSVTable(contentsOf: directory + "/structure.csv")
            #expect(structure.header == Self.structureColumns)
            #expect(structure.rows.count == 4 * 4 * 3)
            let density = try #require(structure.column("effective_density"))
            let round = try #require(structure.column("round"))
            for row in structure.rows where row[round] == "0" { #expect(row[density] == "1.0") }
            #expect(structure.rows.allSatisfy { $0[structure.column("mean_abs_after")!] != "" })

            // similarity.csv: seed pairs, consecutive rounds, configuration pairs; 3 layers + "all" each.
            let similarity = try CSVTable(contentsOf: directory + "/similarity.csv")
            #expect(similarity.header == Self.similarityColumns)
            let kind = try #require(similarity.column("kind"))
            #expect(similarity.rows.filter { $0[kind] == "seeds" }.count == 2 * 4 * 1 * 4)
            #expect(similarity.rows.filter { $0[kind] == "rounds" }.count == 4 * 3 * 4)
            #expect(similarity.rows.filter { $0[kind] == "configurations" }.count == 1 * 2 * 4 * 4)
            // Magnitude masks share their important pixels across seeds: more similar than chance at round 3.
            let ratio = try #require(similarity.column("overlap_over_chance"))
            let layer = try #require(similarity.column("layer"))
            let configuration = try #require(similarity.column("configuration_a"))
            let magnitudeRound3 = similarity.rows.first {
                $0[kind] == "seeds" && $0[layer] == "0" && $0[similarity.column("round_a")!] == "3"
                    && $0[configuration] == "prune.strategy=layerwise-magnitude"
            }
            let magnitudeRow = try #require(magnitudeRound3)
            #expect((Double(magnitudeRow[ratio]) ?? 0) > 1.5)

            let consensus = try CSVTable(contentsOf: directory + "/consensus.csv")
            #expect(consensus.header == ["configuration", "round", "layer", "seeds", "kept_by", "weights", "fraction"])
            #expect(consensus.rows.count == 2 * 4 * 4 * 3)  // configs × rounds × (3 layers + all) × (0…2 seeds)
            let pixels = try CSVTable(contentsOf: directory + "/pixels.csv")
            #expect(pixels.rows.count == 2 * 4 * 784)

            // report.html: well-formed XML, self-contained, every chart holds its points.
            let report = try scan(directory + "/report.html")
            #expect(report.scripts == 0)
            #expect(report.externalReferences == 0)
            let rounds = try CSVTable(contentsOf: directory + "/rounds.csv")
            var expected: [String: Set<String>] = [:]  // configuration name → IMP rounds with rows
            for row in rounds.rows {
                let strategy = row[rounds.column("prune.strategy")!]
                let branch = row[rounds.column("branch.kind")!]
                let name = "prune.strategy=\(strategy)" + (branch.isEmpty ? "" : " · random reinit (control)")
                let maskRound =
                    branch.isEmpty ? row[rounds.column("round")!] : row[rounds.column("branch.parent_round")!]
                expected[name, default: []].insert(maskRound)
            }
            #expect(expected.count == 4)
            for figure in ["chart-accuracy", "chart-early-stop"] {
                let series = try #require(report.markers[figure])
                #expect(series.count == 4)
                for (name, rounds) in expected { #expect(series[name] == rounds.count, "\(figure) \(name)") }
            }
            // Jaccard/chance: one point per round with two seeds, per main configuration.
            #expect(report.markers["chart-similarity"]?["prune.strategy=layerwise-magnitude"] == 4)
            #expect(report.markers["chart-similarity"]?["prune.strategy=random"] == 4)
            // Learning curves: 80 evaluations per round, downsampled to at most 60 points per line.
            let curves = try #require(report.markers["chart-curves-0"])
            #expect(!curves.isEmpty && curves.count <= 6)
            #expect(curves.values.allSatisfy { $0 == 60 })
            // Pixel maps: 28 × 28 cells of width 6 per heatmap, merged runs included.
            let maps = report.cellWidth.filter { $0.key.hasPrefix("chart-pixels-") }
            #expect(!maps.isEmpty)
            #expect(maps.values.allSatisfy { abs($0 - 784 * 6) < 1e-6 })
        }
    }

    /// An MLP on CIFAR-10 reads 3×32×32 rows: its pixel map is 32×32, each pixel's channels added up.
    @Test func cifarMLPGetsA32By32PixelMapOverItsChannels() throws {
        try withTemporaryDirectory { directory in
            let cifar = SyntheticResults(
                configurations: [["dataset": "cifar10"]], seeds: [1, 2], rounds: 1, shapes: [[3072, 4], [4, 10]])
            _ = try cifar.write(to: directory)
            _ = try Report.write(directory: directory)
            let pixels = try CSVTable(contentsOf: directory + "/pixels.csv")
            let roundZero = pixels.rows.filter { $0[pixels.column("round")!] == "0" }
            #expect(roundZero.count == 1024)
            // Round 0 is dense: every pixel keeps 3 channels × 4 outgoing weights.
            #expect(roundZero.allSatisfy { Double($0[pixels.column("kept_out_mean")!]) == 12 })
            #expect(roundZero.map { Int($0[pixels.column("row")!])! }.max() == 31)
        }
    }

    @Test func singleTrialFolderWithoutSummariesOrTrialsCSV() throws {
        try withTemporaryDirectory { directory in
            let single = SyntheticResults(
                configurations: [[:]], seeds: [7], rounds: 2, shapes: [[16, 4], [4, 2]], weightSummaries: false)
            _ = try single.write(to: directory)
            try FileManager.default.removeItem(atPath: directory + "/trials.csv")
            let summary = try Report.write(directory: directory)
            #expect(summary.configurations == 1)
            #expect(summary.masksRead == 3)
            let structure = try CSVTable(contentsOf: directory + "/structure.csv")
            #expect(structure.rows.count == 3 * 2)
            #expect(structure.rows.allSatisfy { $0[structure.column("positive_at_init")!] == "" })
            let report = try scan(directory + "/report.html")
            #expect(report.markers["chart-accuracy"]?["winning ticket"] == 3)
            #expect(report.markers["chart-similarity"] == nil)  // one seed: no pairs
        }
    }

    @Test func missingLastMaskIsReportedNotFatal() throws {
        try withTemporaryDirectory { directory in
            let written = try fixture.write(to: directory)
            let trial = written.mainTrials[0]
            try FileManager.default.removeItem(atPath: directory + "/masks/\(trial)/round-03.ltmask")
            let summary = try Report.write(directory: directory)
            #expect(summary.masksRead == 15)
            #expect(summary.missingMasks == [directory + "/masks/\(trial)/round-03.ltmask"])
        }
    }

    @Test func deltaFileWithoutItsParentNamesTheFile() throws {
        try withTemporaryDirectory { directory in
            let written = try fixture.write(to: directory)
            // Find a stored delta file (random masks are smaller as deltas) and remove its parent.
            var delta: (path: String, parent: String)?
            for trial in written.mainTrials {
                for round in 1...3 where delta == nil {
                    let path = directory + "/masks/\(trial)/round-0\(round).ltmask"
                    let bytes = try #require(FileManager.default.contents(atPath: path))
                    if try MaskFile.info([UInt8](bytes)).isDelta {
                        delta = (path, directory + "/masks/\(trial)/round-0\(round - 1).ltmask")
                    }
                }
            }
            let (round2, parent) = try #require(delta, "the fixture should exercise delta files")
            try FileManager.default.removeItem(atPath: parent)
            #expect {
                try Report.write(directory: directory)
            } throws: { error in
                (error as? ReportError)?.path == round2
            }
        }
    }

    @Test func missingRoundsCSVSaysWhatToGive() throws {
        try withTemporaryDirectory { directory in
            #expect {
                try Report.write(directory: directory)
            } throws: { error in
                String(describing: error).contains("rounds.csv") && String(describing: error).contains("lth sweep")
            }
        }
    }

    @Test func logAxisTicksRunFromOneHundredToOne() {
        let axis = PlotAxis(label: "percent", scale: .log, values: [100, 1.9], reversed: true)
        #expect(axis.lower == 1 && axis.upper == 100)
        #expect(axis.ticks().map(\.label) == ["1", "2", "5", "10", "20", "50", "100"])
        #expect(axis.position(100, length: 200) == 0)
        #expect(axis.position(1, length: 200) == 200)
        let linear = PlotAxis(label: "iteration", values: [0, 50_000])
        #expect(linear.ticks().map(\.label) == ["0", "10000", "20000", "30000", "40000", "50000"])
    }
}
