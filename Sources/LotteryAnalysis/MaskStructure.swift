public import LotteryCore
public import MaskCodec

/// Structural metrics of one weight layer of a pruned network, seen as a graph from inputs to outputs.
///
/// Layer `l` is `[rows, cols]` = `[fan_in, fan_out]`: its rows are the units feeding it (pixels for layer 0),
/// its columns the units it feeds (the network's outputs for the last layer). Degrees count kept weights:
/// the *out-degree* of a row is its kept outgoing weights in this layer, the *in-degree* of a column its
/// kept incoming weights.
///
/// Dead units follow the path view of a pruned network: a unit is *zombie* when no path of kept weights
/// reaches it from any network input (its activation is constant, set by its bias alone), and *inactive* when
/// no path leads from it to any network output (nothing it computes is ever used). A kept weight is
/// *effective* when it lies on at least one input→output path: its source is reachable from an input and its
/// target reaches an output. Weights that are not effective could be removed without changing the function,
/// up to the constant contributions of zombie units through their biases.
public struct LayerStructure: Sendable, Hashable {
    /// Index of the weight layer, 0 for the first.
    public var layer: Int
    /// Input units (`fan_in`).
    public var rows: Int
    /// Output units (`fan_out`).
    public var cols: Int
    /// Kept weights.
    public var kept: Int
    /// Kept weights on at least one input→output path.
    public var effectiveKept: Int
    /// Out-degree of the rows: minimum, mean, maximum, Gini coefficient.
    public var outDegree: DegreeSummary
    /// In-degree of the columns: minimum, mean, maximum, Gini coefficient.
    public var inDegree: DegreeSummary
    /// Rows with no kept outgoing weight in this layer.
    public var rowsWithoutOut: Int
    /// Columns with no kept incoming weight in this layer.
    public var colsWithoutIn: Int
    /// Columns (output units of this layer) that no path reaches from any network input.
    public var zombieUnits: Int
    /// Columns from which no path leads to a network output (always 0 for the last layer).
    public var inactiveUnits: Int
    /// Columns that are zombie, inactive or both.
    public var deadUnits: Int
    /// Rows (input units of this layer) from which no path leads to a network output; for layer 0 these are
    /// the input pixels the pruned network ignores.
    public var inactiveInputs: Int
    /// The units feeding this layer: its rows, or for a convolution (and a fully connected layer reading a
    /// feature map) the channels of its input map.
    public var inputUnits: Int
    /// Input units with no kept weight in this layer: for a convolution, the input channels none of its filters
    /// reads any more.
    public var inputUnitsWithoutOut: Int

    /// Number of weights, `rows * cols`.
    public var weights: Int { rows * cols }
    /// `kept / weights`.
    public var density: Double { weights == 0 ? 0 : Double(kept) / Double(weights) }
    /// `effectiveKept / weights`.
    public var effectiveDensity: Double { weights == 0 ? 0 : Double(effectiveKept) / Double(weights) }
}

/// Minimum, mean, maximum and Gini coefficient of a list of degrees.
public struct DegreeSummary: Sendable, Hashable {
    public var min: Int
    public var mean: Double
    public var max: Int
    /// 0 when every unit has the same degree, towards 1 when few units hold all kept weights.
    public var gini: Double

    /// Summarises `degrees` (all zeros for an empty list).
    public init(_ degrees: [Int]) {
        min = degrees.min() ?? 0
        max = degrees.max() ?? 0
        mean = degrees.isEmpty ? 0 : Double(degrees.reduce(0, +)) / Double(degrees.count)
        gini = MaskStructure.gini(degrees)
    }
}

/// Graph metrics of pruning masks: degrees, dead units, effective density, input connectivity.
public enum MaskStructure {
    /// Per-layer structure of a whole network's mask.
    ///
    /// - Parameter layers: the weight layers in forward order; layer `l` is `[rows, cols]` = `[fan_in, fan_out]`
    ///   and `layers[l].cols == layers[l + 1].rows` (a programmer error otherwise).
    /// - Returns: one ``LayerStructure`` per layer, in the same order.
    public static func analyze(_ layers: [MaskLayer]) -> [LayerStructure] {
        analyze(layers.map { (rows: $0.rows, cols: $0.cols, kept: $0.kept) })
    }

    /// The same for the training core's masks.
    public static func analyze(_ layers: [LayerMask]) -> [LayerStructure] {
        analyze(layers.map { (rows: $0.rows, cols: $0.cols, kept: $0.kept) })
    }

    /// The same for a network of `architecture` (its weight layers' shapes must be the masks'): in a
    /// convolution, a unit is a channel (filter), and a weight row — a kernel tap `(ky, kx, c)` — reads input
    /// channel `c`; a fully connected layer after a feature map reads channel `c` in its row `(y, x, c)`. Paths,
    /// dead units and effective weights are then counted over channels.
    public static func analyze(_ layers: [MaskLayer], architecture: Architecture?) -> [LayerStructure] {
        let plain = layers.map { (rows: $0.rows, cols: $0.cols, kept: $0.kept) }
        guard let architecture, architecture.hasConvolutions,
            architecture.weightShapes.map({ [$0.rows, $0.cols] }) == layers.map({ [$0.rows, $0.cols] })
        else { return analyze(plain) }
        let units: [[Int]?] = layers.indices.map { l in
            guard let map = architecture.inputMap(ofLayer: l) else { return nil }
            return (0..<layers[l].rows).map { $0 % map.channels }
        }
        return analyze(plain, rowUnits: units)
    }

    /// - Parameter rowUnits: per layer, the unit of the layer below (or input unit) each row reads; `nil` means
    ///   row `r` reads unit `r`.
    static func analyze(_ layers: [(rows: Int, cols: Int, kept: [Bool])], rowUnits: [[Int]?]? = nil) -> [LayerStructure] {
        let rowUnits = rowUnits ?? Array(repeating: nil, count: layers.count)
        func unitCount(_ l: Int) -> Int { rowUnits[l].map { ($0.max() ?? -1) + 1 } ?? layers[l].rows }
        for index in layers.indices.dropLast() {
            precondition(
                layers[index].cols == unitCount(index + 1),
                "MaskStructure: layer \(index) has \(layers[index].cols) outputs, layer \(index + 1) \(unitCount(index + 1)) inputs"
            )
        }
        guard !layers.isEmpty else { return [] }
        func unit(_ l: Int, _ row: Int) -> Int { rowUnits[l]?[row] ?? row }
        // reachable[l]: units feeding layer l (l = layers.count: the network outputs) reachable from an input.
        var reachable: [[Bool]] = [Array(repeating: true, count: unitCount(0))]
        for (l, layer) in layers.enumerated() {
            let from = reachable[reachable.count - 1]
            var to = Array(repeating: false, count: layer.cols)
            layer.kept.withUnsafeBufferPointer { kept in
                for row in 0..<layer.rows where from[unit(l, row)] {
                    let base = row * layer.cols
                    for col in 0..<layer.cols where kept[base + col] { to[col] = true }
                }
            }
            reachable.append(to)
        }
        // useful[l]: units feeding layer l from which a path leads to a network output.
        var useful: [[Bool]] = Array(repeating: [], count: layers.count + 1)
        useful[layers.count] = Array(repeating: true, count: layers[layers.count - 1].cols)
        for index in layers.indices.reversed() {
            let layer = layers[index]
            let next = useful[index + 1]
            var from = Array(repeating: false, count: unitCount(index))
            layer.kept.withUnsafeBufferPointer { kept in
                for row in 0..<layer.rows where !from[unit(index, row)] {
                    let base = row * layer.cols
                    for col in 0..<layer.cols where kept[base + col] && next[col] {
                        from[unit(index, row)] = true
                        break
                    }
                }
            }
            useful[index] = from
        }
        return layers.indices.map { index in
            let layer = layers[index]
            var outDegree = Array(repeating: 0, count: layer.rows)
            var inDegree = Array(repeating: 0, count: layer.cols)
            var kept = 0
            var effective = 0
            let source = reachable[index]
            let target = useful[index + 1]
            layer.kept.withUnsafeBufferPointer { flags in
                for row in 0..<layer.rows {
                    let base = row * layer.cols
                    for col in 0..<layer.cols where flags[base + col] {
                        kept += 1
                        outDegree[row] += 1
                        inDegree[col] += 1
                        if source[unit(index, row)] && target[col] { effective += 1 }
                    }
                }
            }
            let zombie = reachable[index + 1].lazy.filter { !$0 }.count
            let inactive = target.lazy.filter { !$0 }.count
            let dead = zip(reachable[index + 1], target).lazy.filter { !$0 || !$1 }.count
            return LayerStructure(
                layer: index, rows: layer.rows, cols: layer.cols, kept: kept, effectiveKept: effective,
                outDegree: DegreeSummary(outDegree), inDegree: DegreeSummary(inDegree),
                rowsWithoutOut: outDegree.lazy.filter { $0 == 0 }.count,
                colsWithoutIn: inDegree.lazy.filter { $0 == 0 }.count,
                zombieUnits: zombie, inactiveUnits: inactive, deadUnits: dead,
                inactiveInputs: useful[index].lazy.filter { !$0 }.count, inputUnits: unitCount(index),
                inputUnitsWithoutOut: {
                    var used = Array(repeating: false, count: unitCount(index))
                    for row in 0..<layer.rows where outDegree[row] > 0 { used[unit(index, row)] = true }
                    return used.lazy.filter { !$0 }.count
                }())
        }
    }

    /// Kept outgoing weights per row of `layer`: for the first layer of an MNIST network, per input pixel
    /// (row-major 28×28).
    ///
    /// - Parameter layer: `[rows, cols]` = `[fan_in, fan_out]`.
    /// - Returns: `rows` counts in `0...cols`.
    public static func outDegrees(_ layer: MaskLayer) -> [Int] {
        var degrees = Array(repeating: 0, count: layer.rows)
        layer.kept.withUnsafeBufferPointer { flags in
            for row in 0..<layer.rows {
                var count = 0
                for col in 0..<layer.cols where flags[row * layer.cols + col] { count += 1 }
                degrees[row] = count
            }
        }
        return degrees
    }

    /// Gini coefficient of non-negative values: `Σᵢ Σⱼ |xᵢ − xⱼ| / (2 n² x̄)`, computed over the sorted values
    /// as `2 Σᵢ i·x₍ᵢ₎ / (n Σ x) − (n + 1) / n` (i from 1).
    ///
    /// - Returns: 0 for equal values, an empty list or an all-zero list; `(n − 1) / n` when one value holds all.
    public static func gini(_ values: [Int]) -> Double {
        let total = values.reduce(0, +)
        guard values.count > 1, total > 0 else { return 0 }
        let sorted = values.sorted()
        var weighted = 0.0
        for (index, value) in sorted.enumerated() { weighted += Double(index + 1) * Double(value) }
        let n = Double(values.count)
        return max(0, 2 * weighted / (n * Double(total)) - (n + 1) / n)
    }
}
