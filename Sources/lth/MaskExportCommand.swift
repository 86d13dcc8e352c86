import ArgumentParser
import Foundation
import LotteryAnalysis
import LotteryCore
import LotteryResults
import MaskCodec

/// `lth mask export DIR --format npy`: every stored mask as NumPy boolean arrays, one `.npy` file per layer.
struct MaskExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a results folder's masks as NumPy .npy boolean arrays (one file per layer).",
        discussion: """
            Reads DIR/masks/<trial_id>/round-NN.ltmask (resolving delta files) and writes \
            OUT/<trial_id>/round-NN/layer-K.npy, each a bool array in PyTorch's layout: a fully connected layer \
            (fan_in, fan_out) — row = input unit, column = output unit; a convolution (out, in, 3, 3), \
            nn.Conv2d's OIHW. The first fully connected layer after a conv stack has its rows in torch.flatten's \
            (channel, y, x) order. The network of each trial is read from DIR/trials.csv (or rounds.csv). Load \
            with numpy.load(path). OUT defaults to DIR/masks-npy.
            """
    )

    @Argument(help: ArgumentHelp("A results folder (from lth sweep or lth train).", valueName: "DIR"))
    var directory: String

    @Option(help: "Output format; only npy is supported.")
    var format: String = "npy"

    @Option(help: ArgumentHelp("Output folder (default: DIR/masks-npy).", valueName: "OUT"))
    var out: String?

    func validate() throws {
        guard format == "npy" else { throw ValidationError("--format \(format): only npy is supported") }
    }

    func run() throws {
        let root = URL(fileURLWithPath: directory)
        let masks = root.appendingPathComponent("masks")
        let target = URL(fileURLWithPath: out ?? root.appendingPathComponent("masks-npy").path)
        let manager = FileManager.default
        guard let trials = try? manager.contentsOfDirectory(atPath: masks.path).sorted() else {
            throw MaskToolError(description: "\(masks.path): no masks folder (is \(directory) a results folder?)")
        }
        let architectures = Self.architectures(in: root)
        var files = 0
        var convLayers = 0
        for trial in trials where !trial.hasPrefix(".") {
            let folder = masks.appendingPathComponent(trial)
            let names = ((try? manager.contentsOfDirectory(atPath: folder.path)) ?? []).filter {
                $0.hasPrefix("round-") && $0.hasSuffix(".ltmask")
            }.sorted()
            for name in names {
                let mask = try MaskFile.load(path: folder.appendingPathComponent(name).path)
                let roundFolder = target.appendingPathComponent(trial)
                    .appendingPathComponent(String(name.dropLast(".ltmask".count)))
                try manager.createDirectory(at: roundFolder, withIntermediateDirectories: true)
                let architecture = architectures[trial].flatMap { arch in
                    arch.weightShapes.map { [$0.rows, $0.cols] } == mask.layers.map { [$0.rows, $0.cols] } ? arch : nil
                }
                for (index, layer) in mask.layers.enumerated() {
                    let url = roundFolder.appendingPathComponent("layer-\(index).npy")
                    if let architecture {
                        let (shape, values) = architecture.pytorchLayout(layer: index, layer.kept)
                        if shape.count == 4 { convLayers += 1 }
                        try Data(NPY.boolArray(shape: shape, values: values)).write(to: url)
                    } else {
                        try Data(layer.npyBytes()).write(to: url)
                    }
                    files += 1
                }
            }
        }
        print(
            "wrote \(files) .npy files under \(target.path) (numpy.load(path) → bool array [fan_in, fan_out]"
                + (convLayers > 0 ? "; \(convLayers) conv layers as [out, in, 3, 3])" : ")"))
    }

    /// The network of every trial named in `DIR/trials.csv` (else `rounds.csv`), from its `dataset` and
    /// `model.layers` columns; trials whose columns are missing or unreadable are left out (exported as stored).
    static func architectures(in root: URL) -> [String: Architecture] {
        let table =
            (try? CSVTable(contentsOf: root.appendingPathComponent(ResultsCSV.trialsFileName).path))
            ?? (try? CSVTable(contentsOf: root.appendingPathComponent(ResultsCSV.roundsFileName).path))
        guard let table, let id = table.column(ResultsColumn.trialID), let layers = table.column(ResultsColumn.modelLayers) else { return [:] }
        let dataset = table.column("dataset")
        var result: [String: Architecture] = [:]
        for row in table.rows where result[row[id]] == nil {
            result[row[id]] = ResultsFolder.architecture(dataset: dataset.map { row[$0] }, layers: row[layers])
        }
        return result
    }
}
