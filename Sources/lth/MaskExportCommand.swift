import ArgumentParser
import Foundation
import MaskCodec

/// `lth mask export DIR --format npy`: every stored mask as NumPy boolean arrays, one `.npy` file per layer.
struct MaskExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a results folder's masks as NumPy .npy boolean arrays (one file per layer).",
        discussion: """
            Reads DIR/masks/<trial_id>/round-NN.ltmask (resolving delta files) and writes \
            OUT/<trial_id>/round-NN/layer-K.npy, each a bool array of shape (fan_in, fan_out) — the layout of \
            the weights: row = input unit, column = output unit. Load with numpy.load(path). \
            OUT defaults to DIR/masks-npy.
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
        var files = 0
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
                for (index, layer) in mask.layers.enumerated() {
                    let url = roundFolder.appendingPathComponent("layer-\(index).npy")
                    try Data(layer.npyBytes()).write(to: url)
                    files += 1
                }
            }
        }
        print("wrote \(files) .npy files under \(target.path) (numpy.load(path) → bool array [fan_in, fan_out])")
    }
}
