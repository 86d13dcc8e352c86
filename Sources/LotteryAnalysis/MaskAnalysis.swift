import Foundation
import LotteryCore
import LotteryResults
import MaskCodec

private typealias C = ResultsColumn

/// The mask pass of a report: reads every main trial's round masks once, round by round, and produces
/// `structure.csv`, `similarity.csv`, `consensus.csv`, `pixels.csv` and the aggregates the charts need.
///
/// Memory: at most two masks per trial (this round and the previous one), so a 100-trial LeNet sweep needs
/// about 100 MB. Control branches train their parent's mask; their structure is the parent's row.
struct MaskAnalysis {
    /// Per configuration and IMP round: what the charts and tables show.
    struct Aggregate {
        var density: [Double] = []
        var effectiveDensity: [Double] = []
        var deadUnits: [Double] = []
        /// Whole-network Jaccard / chance Jaccard of each seed pair.
        var jaccardOverChance: [Double] = []
        var overlapOverChance: [Double] = []
        /// First-layer mean kept outgoing weights per input pixel, and the fraction of seeds that keep the
        /// pixel connected at all; `nil` when the first layer is not square-shaped (28×28).
        var pixelMeanOut: [Double]?
        var pixelConnected: [Double]?
        var pixelSide = 0
        var seeds = 0
    }

    /// Columns shared with the results CSVs come from ``ResultsColumn``; the rest are this report's own.
    static let structureHeader = [
        C.trialID, "configuration", C.seed, C.round, "layer", "rows", "cols", "weights", "kept", C.density,
        "effective_kept", "effective_density", "network_density", "network_effective_density",
        "out_degree_min", "out_degree_mean", "out_degree_max", "out_degree_gini",
        "in_degree_min", "in_degree_mean", "in_degree_max", "in_degree_gini",
        "rows_without_out", "cols_without_in", "zombie_units", "inactive_units", "dead_units", "inactive_inputs",
        C.LayerGroup.positiveAtInit.rawValue, C.LayerGroup.positiveAfter.rawValue, C.LayerGroup.meanAbsAtInit.rawValue,
        C.LayerGroup.meanAbsAfter.rawValue,
        "kind", "input_units", "input_units_without_out",
    ]

    /// `conv`, `fc` or `output` for weight layer `l` of `architecture`.
    static func kind(_ l: Int, _ architecture: Architecture) -> String {
        architecture.weightLayers.indices.contains(l) ? architecture.weightLayers[l].kind.rawValue : ""
    }
    static let similarityHeader = [
        "kind", "configuration_a", "configuration_b", "trial_a", "trial_b", "seed_a", "seed_b", "round_a", "round_b",
        "layer", "weights", "kept_a", "kept_b", "density_a", "density_b", "intersection", "union", "jaccard",
        "expected_intersection", "overlap_over_chance", "chance_jaccard", "jaccard_over_chance",
    ]
    static let consensusHeader = ["configuration", C.round, "layer", "seeds", "kept_by", "weights", "fraction"]
    static let pixelsHeader = [
        "configuration", C.round, C.density, "seeds", "pixel", "row", "col", "kept_out_mean", "kept_out_std",
        "connected_fraction",
    ]

    var structure = CSVWriter(header: structureHeader)
    var similarity = CSVWriter(header: similarityHeader)
    var consensus = CSVWriter(header: consensusHeader)
    var pixels = CSVWriter(header: pixelsHeader)
    /// `[configuration][IMP round]`.
    var aggregates: [[Int: Aggregate]]
    var masksRead = 0
    var missingMasks: [String] = []

    init(folder: ResultsFolder) throws(ReportError) {
        aggregates = Array(repeating: [:], count: folder.configurations.count)
        let loader = MaskLoader(folder: folder)
        let main = folder.trials.filter { $0.branchKind == nil }
        var roundsOf: [String: [Int: ResultsFolder.Round]] = [:]
        for round in folder.rounds { roundsOf[round.trialID, default: [:]][round.round] = round }
        let maxRound = main.flatMap { roundsOf[$0.id]?.keys.map { $0 } ?? [] }.max() ?? -1
        guard maxRound >= 0 else { return }

        var previous: [String: (mask: Mask, bits: BitMask, round: Int)] = [:]
        for round in 0...maxRound {
            var current: [String: (mask: Mask, bits: BitMask)] = [:]
            for trial in main {
                let row = roundsOf[trial.id]?[round]
                let mask: Mask?
                do {
                    mask = try loader.load(trial: trial.id, round: round, previous: previous[trial.id]?.mask)
                }
                guard let mask else {
                    if row != nil { missingMasks.append(folder.maskPath(trial: trial.id, round: round)) }
                    continue
                }
                masksRead += 1
                let bits = BitMask(mask)
                current[trial.id] = (mask, bits)
                let name = folder.configurations[trial.configuration].name
                let layers = MaskStructure.analyze(mask.layers, architecture: trial.architecture)
                appendStructure(trial: trial, name: name, round: round, layers: layers, row: row)
                let weights = layers.reduce(0) { $0 + $1.weights }
                var aggregate = aggregates[trial.configuration][round] ?? Aggregate()
                aggregate.density.append(mask.density)
                aggregate.effectiveDensity.append(
                    weights == 0 ? 0 : Double(layers.reduce(0) { $0 + $1.effectiveKept }) / Double(weights))
                aggregate.deadUnits.append(Double(layers.dropLast().reduce(0) { $0 + $1.deadUnits }))
                aggregates[trial.configuration][round] = aggregate
                if let before = previous[trial.id], Self.sameShapes(before.mask, mask) {
                    let overlap = MaskSimilarity.overlap(before.bits, bits)
                    appendSimilarity(
                        kind: "rounds", a: (trial, name, before.round), b: (trial, name, round), overlap: overlap)
                }
            }
            // Across seeds of one configuration: all pairs, consensus and the first-layer pixel map.
            for (index, configuration) in folder.configurations.enumerated() where !configuration.isControl {
                let members = configuration.trialIDs.compactMap { id in
                    current[id].map { (trial: folder.trial(id)!, mask: $0.mask, bits: $0.bits) }
                }
                guard let first = members.first else { continue }
                let usable = members.filter { Self.sameShapes($0.mask, first.mask) }
                var aggregate = aggregates[index][round] ?? Aggregate()
                aggregate.seeds = usable.count
                for i in usable.indices {
                    for j in usable.indices where j > i {
                        let overlap = MaskSimilarity.overlap(usable[i].bits, usable[j].bits)
                        appendSimilarity(
                            kind: "seeds", a: (usable[i].trial, configuration.name, round),
                            b: (usable[j].trial, configuration.name, round), overlap: overlap)
                        if let value = overlap.total.jaccardOverChance { aggregate.jaccardOverChance.append(value) }
                        if let value = overlap.total.overlapOverChance { aggregate.overlapOverChance.append(value) }
                    }
                }
                appendConsensus(name: configuration.name, round: round, masks: usable.map(\.mask))
                // A pixel map needs a fully connected first layer (a conv kernel's rows are its 3×3 taps).
                let firstIsFC = first.trial.architecture.map { !$0.hasConvolutions } ?? true
                if firstIsFC, let layer = first.mask.layers.first {
                    // The image's channels (CHW rows: an MLP reads the data set's rows as they are) add up per
                    // pixel: 32×32×3 CIFAR-10 gives a 32×32 map like MNIST's 28×28×1.
                    let input = first.trial.architecture?.input
                    let channels = input.map { $0.channels * $0.height * $0.width == layer.rows ? $0.channels : 1 } ?? 1
                    let plane = layer.rows / channels
                    let side = Int(Double(plane).squareRoot().rounded())
                    if side * side == plane, side >= 2 {
                        let degrees = usable.map { member -> [Int] in
                            let perRow = MaskStructure.outDegrees(member.mask.layers[0])
                            return (0..<plane).map { p in (0..<channels).reduce(0) { $0 + perRow[$1 * plane + p] } }
                        }
                        let meanDensity = usable.reduce(0) { $0 + $1.mask.density } / Double(usable.count)
                        var means: [Double] = []
                        var connected: [Double] = []
                        for pixel in 0..<plane {
                            let values = degrees.map { Double($0[pixel]) }
                            let stats = Stats(values)
                            means.append(stats.mean)
                            connected.append(Double(values.filter { $0 > 0 }.count) / Double(values.count))
                            pixels.append([
                                configuration.name, String(round), CSVWriter.number(meanDensity), String(usable.count),
                                String(pixel), String(pixel / side), String(pixel % side), CSVWriter.number(stats.mean),
                                CSVWriter.number(stats.std), CSVWriter.number(connected[pixel]),
                            ])
                        }
                        aggregate.pixelMeanOut = means
                        aggregate.pixelConnected = connected
                        aggregate.pixelSide = side
                    }
                }
                aggregates[index][round] = aggregate
            }
            // Between configurations at the same round: trials with the same seed (the same initialisation
            // when the configurations share model.init), or the first trials when no seed is shared.
            let mainConfigurations = folder.configurations.indices.filter { !folder.configurations[$0].isControl }
            for (position, a) in mainConfigurations.enumerated() {
                for b in mainConfigurations.dropFirst(position + 1) {
                    let left = folder.configurations[a].trialIDs.filter { current[$0] != nil }
                    let right = folder.configurations[b].trialIDs.filter { current[$0] != nil }
                    var pairs: [(String, String)] = []
                    for id in left {
                        let seed = folder.trial(id)!.seed
                        if let match = right.first(where: { folder.trial($0)!.seed == seed }) {
                            pairs.append((id, match))
                        }
                    }
                    if pairs.isEmpty, let x = left.first, let y = right.first { pairs = [(x, y)] }
                    for (x, y) in pairs where Self.sameShapes(current[x]!.mask, current[y]!.mask) {
                        let overlap = MaskSimilarity.overlap(current[x]!.bits, current[y]!.bits)
                        appendSimilarity(
                            kind: "configurations", a: (folder.trial(x)!, folder.configurations[a].name, round),
                            b: (folder.trial(y)!, folder.configurations[b].name, round), overlap: overlap)
                    }
                }
            }
            for (id, value) in current { previous[id] = (value.mask, value.bits, round) }
        }
    }

    static func sameShapes(_ a: Mask, _ b: Mask) -> Bool {
        a.layers.count == b.layers.count
            && zip(a.layers, b.layers).allSatisfy { $0.rows == $1.rows && $0.cols == $1.cols }
    }

    private mutating func appendStructure(
        trial: ResultsFolder.Trial, name: String, round: Int, layers: [LayerStructure], row: ResultsFolder.Round?
    ) {
        let weights = layers.reduce(0) { $0 + $1.weights }
        let kept = layers.reduce(0) { $0 + $1.kept }
        let effective = layers.reduce(0) { $0 + $1.effectiveKept }
        let networkDensity = weights == 0 ? 0 : Double(kept) / Double(weights)
        let networkEffective = weights == 0 ? 0 : Double(effective) / Double(weights)
        for layer in layers {
            let summary = row.flatMap { $0.summaries.indices.contains(layer.layer) ? $0.summaries[layer.layer] : nil }
            structure.append([
                trial.id, name, trial.seed, String(round), String(layer.layer), String(layer.rows), String(layer.cols),
                String(layer.weights), String(layer.kept), CSVWriter.number(layer.density), String(layer.effectiveKept),
                CSVWriter.number(layer.effectiveDensity), CSVWriter.number(networkDensity),
                CSVWriter.number(networkEffective),
                String(layer.outDegree.min), CSVWriter.number(layer.outDegree.mean), String(layer.outDegree.max),
                CSVWriter.number(layer.outDegree.gini),
                String(layer.inDegree.min), CSVWriter.number(layer.inDegree.mean), String(layer.inDegree.max),
                CSVWriter.number(layer.inDegree.gini),
                String(layer.rowsWithoutOut), String(layer.colsWithoutIn), String(layer.zombieUnits),
                String(layer.inactiveUnits), String(layer.deadUnits), String(layer.inactiveInputs),
                CSVWriter.number(summary?.positiveAtInit), CSVWriter.number(summary?.positiveAfter),
                CSVWriter.number(summary?.meanAbsAtInit), CSVWriter.number(summary?.meanAbsAfter),
                trial.architecture.map { Self.kind(layer.layer, $0) } ?? "", String(layer.inputUnits),
                String(layer.inputUnitsWithoutOut),
            ])
        }
    }

    private mutating func appendSimilarity(
        kind: String, a: (trial: ResultsFolder.Trial, name: String, round: Int),
        b: (trial: ResultsFolder.Trial, name: String, round: Int), overlap: (layers: [MaskOverlap], total: MaskOverlap)
    ) {
        let labelled = overlap.layers.enumerated().map { (String($0.offset), $0.element) } + [("all", overlap.total)]
        for (layer, value) in labelled {
            similarity.append([
                kind, a.name, b.name, a.trial.id, b.trial.id, a.trial.seed, b.trial.seed, String(a.round),
                String(b.round), layer, String(value.count), String(value.keptA), String(value.keptB),
                CSVWriter.number(value.count == 0 ? 0 : Double(value.keptA) / Double(value.count)),
                CSVWriter.number(value.count == 0 ? 0 : Double(value.keptB) / Double(value.count)),
                String(value.intersection), String(value.union), CSVWriter.number(value.jaccard),
                CSVWriter.number(value.expectedIntersection), CSVWriter.number(value.overlapOverChance),
                CSVWriter.number(value.chanceJaccard), CSVWriter.number(value.jaccardOverChance),
            ])
        }
    }

    private mutating func appendConsensus(name: String, round: Int, masks: [Mask]) {
        guard let first = masks.first else { return }
        var total = Array(repeating: 0, count: masks.count + 1)
        var rows: [(String, [Int])] = []
        for layer in first.layers.indices {
            let histogram = MaskSimilarity.consensusHistogram(masks.map { $0.layers[layer] })
            for k in histogram.indices { total[k] += histogram[k] }
            rows.append((String(layer), histogram))
        }
        rows.append(("all", total))
        for (layer, histogram) in rows {
            let weights = histogram.reduce(0, +)
            for (k, count) in histogram.enumerated() {
                consensus.append([
                    name, String(round), layer, String(masks.count), String(k), String(count),
                    CSVWriter.number(weights == 0 ? 0 : Double(count) / Double(weights)),
                ])
            }
        }
    }
}

/// Mean, sample standard deviation (n − 1; 0 for one value) and count.
struct Stats: Sendable {
    var mean: Double
    var std: Double
    var n: Int

    init(_ values: [Double]) {
        let finite = values.filter(\.isFinite)
        n = finite.count
        mean = finite.isEmpty ? .nan : finite.reduce(0, +) / Double(finite.count)
        if finite.count > 1 {
            let m = mean
            std = (finite.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(finite.count - 1)).squareRoot()
        } else {
            std = 0
        }
    }
}
