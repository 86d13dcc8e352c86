import Foundation
import LotteryCore
import Yams

// Interim pieces of `lth train` that other branches own in their final form; the lead swaps them at
// integration (docs/imp.md, "Interim pieces"):
// - spec loading → `SpecFile`/`loadTrialSpec(path:overrides:)` (LotteryCoordinator, branch `sched`),
// - CSV columns → `ResultsCSV` (LotteryCoordinator, branch `store`; the columns below copy its order),
// - mask files → `MaskFile` `.ltmask` (MaskCodec, branch `codec`).

/// A mistake in the spec file or a `--set` flag: file, key and what is allowed.
struct TrainInputError: Error, CustomStringConvertible {
    var description: String
}

/// Reads a single-trial YAML spec (nested or dotted keys) and applies `--set key=value` overrides.
///
/// - Throws: ``TrainInputError`` naming the file and key.
func loadTrainSpec(path: String, overrides: [String]) throws -> TrialSpec {
    var spec = TrialSpec()
    let text: String
    do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
        throw TrainInputError(description: "\(path): cannot read the spec file; check the path")
    }
    let root: Any?
    do { root = try Yams.load(yaml: text) } catch {
        throw TrainInputError(description: "\(path): not valid YAML: \(error)")
    }
    var entries: [(source: String, key: String, value: SpecValue)] = []
    if let root {
        guard let map = root as? [String: Any] else {
            throw TrainInputError(description: "\(path): expected a YAML map of keys (e.g. `train.iterations: 5000`)")
        }
        var flat: [(String, SpecValue)] = []
        flatten(map, prefix: "", into: &flat)
        entries = flat.map { (path, $0.0, $0.1) }
    }
    for override in overrides {
        guard let eq = override.firstIndex(of: "=") else {
            throw TrainInputError(description: "--set \(override): expected key=value, e.g. --set train.iterations=2000")
        }
        entries.append(("--set \(override)", String(override[..<eq]), SpecValue.parse(String(override[override.index(after: eq)...]))))
    }
    for (source, key, value) in entries {
        do { try spec.set(key, to: value) } catch {
            throw TrainInputError(description: "\(source): \(error)")
        }
    }
    do { try spec.validate() } catch { throw TrainInputError(description: "\(path): \(error)") }
    return spec
}

private func flatten(_ map: [String: Any], prefix: String, into entries: inout [(String, SpecValue)]) {
    // Sorted for a deterministic order (keys are independent; validate() checks consistency afterwards).
    for key in map.keys.sorted() {
        let name = prefix.isEmpty ? key : "\(prefix).\(key)"
        if let nested = map[key] as? [String: Any] {
            flatten(nested, prefix: name, into: &entries)
        } else {
            entries.append((name, specValue(map[key] as Any)))
        }
    }
}

private func specValue(_ value: Any) -> SpecValue {
    switch value {
    case let list as [Any]: return .list(list.map(specValue))
    case let int as Int: return .int(int)
    case let double as Double: return .double(double)
    case let bool as Bool: return .bool(bool)
    case let string as String: return .string(string)
    case is NSNull: return .null
    default: return SpecValue.parse("\(value)")
    }
}

/// Writes `rounds.csv`, `curves.csv` and `masks/` for one trial and its branches, appending as rounds arrive.
///
/// Columns follow the store's `ResultsCSV` (branch `store`): `trial_id`, every key of ``TrialSpec/keys``,
/// ``TrialSpec/branchColumns`` (empty for the main trial), `round`, `density`, `density_l*`, early-stopping and
/// final metrics, `seconds`, `worker`, `host`, then `kept_l*`, `positive_at_init_l*`, `positive_after_l*`,
/// `mean_abs_at_init_l*`, `mean_abs_after_l*`.
final class TrialFiles {
    let directory: URL
    let layerCount: Int
    private let rounds: FileHandle
    private let curves: FileHandle
    private let host = ProcessInfo.processInfo.hostName

    init(directory: String, layerCount: Int) throws {
        let root = URL(fileURLWithPath: directory)
        self.directory = root
        self.layerCount = layerCount
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("masks"), withIntermediateDirectories: true)
        func create(_ name: String, header: [String]) throws -> FileHandle {
            let url = root.appendingPathComponent(name)
            guard fm.createFile(atPath: url.path, contents: Data(Self.line(header).utf8)) else {
                throw TrainInputError(description: "\(url.path): cannot create the file; check --out")
            }
            let handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
            return handle
        }
        var header = ["trial_id"] + TrialSpec.keys.map(\.name) + TrialSpec.branchColumns + ["round", "density"]
        header += (0..<layerCount).map { "density_l\($0)" }
        header += [
            "early_stop_iteration", "val_loss_at_es", "val_acc_at_es", "test_acc_at_es", "test_acc_final",
            "train_acc_final", "seconds", "worker", "host",
        ]
        for group in ["kept", "positive_at_init", "positive_after", "mean_abs_at_init", "mean_abs_after"] {
            header += (0..<layerCount).map { "\(group)_l\($0)" }
        }
        rounds = try create("rounds.csv", header: header)
        curves = try create("curves.csv", header: ["trial_id", "round", "iteration", "val_loss", "val_acc", "test_acc"])
    }

    deinit {
        try? rounds.close()
        try? curves.close()
    }

    /// Appends one round (main trial or branch) to both CSVs.
    func append(spec: TrialSpec, metrics m: RoundMetrics) throws {
        var row = [m.trialID] + spec.columns.map { $0.value.description }
        if let b = spec.branch {
            row += [b.kind.rawValue, b.parentTrial, String(b.parentRound), String(b.index)]
        } else {
            row += Array(repeating: "", count: TrialSpec.branchColumns.count)
        }
        row += [String(m.round), m.density.description] + m.layerDensities.map(\.description)
        row += [
            String(m.earlyStopIteration), m.valLossAtES.description, m.valAccAtES.description, m.testAccAtES.description,
            m.testAccFinal.description, m.trainAccFinal.description, m.seconds.description, "local", host,
        ]
        row += m.keptCounts.map(String.init)
        row += m.layers.map(\.positiveAtInit.description) + m.layers.map(\.positiveAfter.description)
        row += m.layers.map(\.meanAbsAtInit.description) + m.layers.map(\.meanAbsAfter.description)
        try rounds.write(contentsOf: Data(Self.line(row).utf8))
        var text = ""
        for p in m.curve {
            text += Self.line([
                m.trialID, String(m.round), String(p.iteration), p.valLoss.description, p.valAcc.description,
                p.testAcc.description,
            ])
        }
        try curves.write(contentsOf: Data(text.utf8))
    }

    /// Writes `masks/round-NN.bits` (see ``MaskBits``).
    func writeMask(_ mask: [LayerMask], round: Int) throws {
        let name = String(format: "round-%02d.bits", round)
        try Data(MaskBits.encode(mask)).write(to: directory.appendingPathComponent("masks").appendingPathComponent(name), options: .atomic)
    }

    private static func line(_ cells: [String]) -> String {
        cells.map { cell in
            cell.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
                ? "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : cell
        }.joined(separator: ",") + "\n"
    }
}

/// The interim mask file of `lth train` until the MaskCodec `.ltmask` container is merged (docs/imp.md):
///
/// ```
/// "LTHBITS1"                    8 bytes, ASCII magic
/// layer count                   UInt32 little-endian
/// per layer: rows, cols         UInt32 LE each ([in, out] of the kernel)
/// per layer: ceil(rows·cols/8)  bytes, flag i (row-major) in byte i/8, bit i%8 (LSB first); 1 = kept
/// ```
enum MaskBits {
    static let magic = Array("LTHBITS1".utf8)

    static func encode(_ masks: [LayerMask]) -> [UInt8] {
        var out = magic
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out.append(contentsOf: $0) } }
        u32(masks.count)
        for m in masks { u32(m.rows); u32(m.cols) }
        for m in masks {
            var bytes = [UInt8](repeating: 0, count: (m.kept.count + 7) / 8)
            for i in m.kept.indices where m.kept[i] { bytes[i >> 3] |= 1 << UInt8(i & 7) }
            out += bytes
        }
        return out
    }
}
