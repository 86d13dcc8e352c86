import Foundation
import LotteryCore

/// The result files of one `lth train` trial and its branches, appended as rounds arrive so an interrupted
/// run keeps what it finished.
///
/// - `rounds.csv`: ``ResultTables`` columns with the branch columns (`branch.kind`, `branch.parent_trial`,
///   `branch.parent_round`, `branch.index`; empty on main-trial rows), one row per round or branch run.
/// - `curves.csv`: ``ResultTables/curvesHeader``.
/// - `masks/round-NN.bits`: the mask round NN trained with (``MaskBits``). Interim until the MaskCodec
///   `.ltmask` container is merged (branch `codec`); branch masks are their parent round's and not stored again.
final class TrialFiles {
    let directory: URL
    private let rounds: FileHandle
    private let curves: FileHandle

    /// Creates `directory`, `masks/` and both CSVs with their headers (replacing earlier files).
    init(directory: String, layerCount: Int) throws {
        let root = URL(fileURLWithPath: directory)
        self.directory = root
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("masks"), withIntermediateDirectories: true)
        func create(_ name: String, header: [String]) throws -> FileHandle {
            let url = root.appendingPathComponent(name)
            var csv = CSVWriter()
            csv.append(header)
            try csv.write(to: url.path)
            let handle = try FileHandle(forWritingTo: url)
            try handle.seekToEnd()
            return handle
        }
        rounds = try create(
            "rounds.csv", header: ResultTables.roundsHeader(layerCount: layerCount, branchColumns: true))
        curves = try create("curves.csv", header: ResultTables.curvesHeader)
    }

    deinit {
        try? rounds.close()
        try? curves.close()
    }

    /// Appends one round (main trial or branch) to both CSVs.
    func append(spec: TrialSpec, metrics: RoundMetrics) throws {
        var row = CSVWriter()
        row.append(ResultTables.roundsRow(spec: spec, metrics: metrics, branchColumns: true))
        try rounds.write(contentsOf: Data(row.text.utf8))
        var points = CSVWriter()
        for fields in ResultTables.curvesRows(metrics: metrics) { points.append(fields) }
        try curves.write(contentsOf: Data(points.text.utf8))
    }

    /// Writes `masks/round-NN.bits`.
    func writeMask(_ mask: [LayerMask], round: Int) throws {
        let name = String(format: "round-%02d.bits", round)
        let url = directory.appendingPathComponent("masks").appendingPathComponent(name)
        try Data(MaskBits.encode(mask)).write(to: url, options: .atomic)
    }

    /// Writes a small text file into the folder.
    func writeText(_ text: String, to name: String) throws {
        try Data(text.utf8).write(to: directory.appendingPathComponent(name), options: .atomic)
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
        for m in masks {
            u32(m.rows)
            u32(m.cols)
        }
        for m in masks {
            var bytes = [UInt8](repeating: 0, count: (m.kept.count + 7) / 8)
            for i in m.kept.indices where m.kept[i] { bytes[i >> 3] |= 1 << UInt8(i & 7) }
            out += bytes
        }
        return out
    }
}
