import Foundation
import LotteryCore
import LotteryResults
import Testing

/// Issue 15, "One results library": the column names of trials.csv, rounds.csv and curves.csv are written once, in
/// `ResultsColumn`; every other module names them through it.
@Suite("Results columns: one definition")
struct ColumnLiteralTests {
    /// The package root, from this file's path (`Tests/LotteryResultsTests/…`).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Modules that read or write the results CSVs. (LotteryCore, LotteryWire and LotteryWorker never touch a CSV;
    /// their `CodingKeys` and log metadata use some of the same words for other things.)
    static let modules = ["LotteryAnalysis", "LotteryCoordinator", "lth", "lth-coordinator"]

    /// Literals equal to a column name that are not column names, with why.
    static let allowed: [String: Set<String>] = [
        "Sources/lth/SweepCommand.swift": ["worker"],  // the name of the local workers' CURVE key pair
        "Sources/lth/BenchTrainCommand.swift": ["density", "round"],  // fields of `lth bench train`'s own output
        "Sources/lth/StatusCommand.swift": ["status"],  // the subcommand's name
    ]

    /// Every column name of the three files that is not a hyperparameter key (those are LotteryCore's
    /// `TrialSpec.keys`, the spec vocabulary), and the per-layer group prefixes.
    static var resultColumns: Set<String> {
        let all = ResultsCSV.trialsHeader + ResultsCSV.roundsHeader(layerCount: 0) + ResultsCSV.curvesHeader
        return Set(all).subtracting(TrialSpec.columnNames).subtracting(TrialSpec.branchColumns)
    }

    static func literals(in line: Substring) -> [String] {
        var found: [String] = []
        var current: String?
        var escaped = false
        for character in line {
            if var text = current {
                if escaped {
                    escaped = false
                    text.append(character)
                } else if character == "\\" {
                    escaped = true
                    text.append(character)
                } else if character == "\"" {
                    found.append(text)
                    current = nil
                    continue
                } else {
                    text.append(character)
                }
                current = text
            } else if character == "\"" {
                current = ""
            }
        }
        return found
    }

    /// `(file, line, literal)` of every column name written as a literal outside LotteryResults.
    static func offenders() throws -> [String] {
        let names = resultColumns
        let groups = ResultsColumn.LayerGroup.allCases.map { "\($0.rawValue)_l" }
        var offenders: [String] = []
        for module in modules {
            let folder = root.appendingPathComponent("Sources/\(module)")
            guard let walker = FileManager.default.enumerator(atPath: folder.path) else { continue }
            for case let relative as String in walker where relative.hasSuffix(".swift") {
                let path = "Sources/\(module)/\(relative)"
                let text = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let trimmed = line.drop(while: { $0 == " " })
                    if trimmed.hasPrefix("//") { continue }
                    for literal in literals(in: line) where !(allowed[path]?.contains(literal) ?? false) {
                        if names.contains(literal) || groups.contains(where: { literal.hasPrefix($0) }) {
                            offenders.append("\(path):\(number + 1): \"\(literal)\"")
                        }
                    }
                }
            }
        }
        return offenders
    }

    @Test func noColumnNameIsALiteralOutsideTheResultsLibrary() throws {
        #expect(FileManager.default.fileExists(atPath: Self.root.appendingPathComponent("Package.swift").path))
        #expect(Self.resultColumns.contains(ResultsColumn.trialID))
        #expect(Self.resultColumns.contains(ResultsColumn.testAccAtES))
        let offenders = try Self.offenders()
        #expect(offenders.isEmpty, "column names as literals (use ResultsColumn): \(offenders)")
    }

    /// The scanner itself finds a literal (else the test above would pass on any input).
    @Test func theScannerSeesLiteralsAndSkipsEscapes() {
        #expect(
            Self.literals(in: #"let a = table.column("test_acc_at_es") ?? x["b\"c"]"#) == ["test_acc_at_es", #"b\"c"#])
        #expect(Self.literals(in: "no literal here").isEmpty)
    }

    /// The spec columns the readers name through `ResultsColumn` are real spec keys, so restating them there
    /// cannot drift from LotteryCore's `TrialSpec.keys`.
    @Test func specColumnsNamedByTheLibraryAreSpecKeys() {
        let restated = [
            ResultsColumn.dataset, ResultsColumn.modelLayers, ResultsColumn.seed, ResultsColumn.seedsInit,
            ResultsColumn.seedsOrder, ResultsColumn.seedsSplit, ResultsColumn.controls, ResultsColumn.controlsSeeds,
            ResultsColumn.pruneStrategy, ResultsColumn.reinit,
        ]
        for name in restated { #expect(TrialSpec.columnNames.contains(name), "\(name) is not a spec column") }
        #expect(ResultsCSV.trialsHeader.contains(ResultsColumn.branchKind))
    }

    /// Every header the library writes is made of its own constants, in the documented order.
    @Test func headersAreBuiltFromTheConstants() {
        let rounds = ResultsCSV.roundsHeader(layerCount: 2)
        let leading = rounds.firstIndex(of: ResultsColumn.round)!
        #expect(rounds[0] == ResultsColumn.trialID)
        #expect(
            Array(rounds[leading...leading + 3]) == [
                ResultsColumn.round, ResultsColumn.density, ResultsColumn.perLayer(.density, 0),
                ResultsColumn.perLayer(.density, 1),
            ])
        #expect(
            rounds.suffix(3) == [
                ResultsColumn.supermaskTestAcc, ResultsColumn.supermaskSignedConstantTestAcc, ResultsColumn.specVersion,
            ])
        #expect(
            ResultsCSV.curvesHeader == [
                ResultsColumn.trialID, ResultsColumn.round, ResultsColumn.iteration, ResultsColumn.valLoss,
                ResultsColumn.valAcc, ResultsColumn.testAcc,
            ])
        #expect(ResultsCSV.trialsHeader.suffix(2) == [ResultsColumn.expectedRounds, ResultsColumn.specVersion])
    }
}
