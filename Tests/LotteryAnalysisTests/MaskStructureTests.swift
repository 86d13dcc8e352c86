import LotteryAnalysis
import LotteryCore
import MaskCodec
import Testing

/// A 2 → 3 → 2 → 1 network with one zombie unit (h0: no incoming weight), one inactive unit (h2: no outgoing
/// weight), a zombie descendant (g0: fed only by h0) and an input that only reaches the inactive unit (x1).
func handMadeMask() -> [MaskLayer] {
    func layer(_ rows: Int, _ cols: Int, _ kept: [(Int, Int)]) -> MaskLayer {
        var mask = MaskLayer(rows: rows, cols: cols, fill: false)
        for (row, col) in kept { mask[row, col] = true }
        return mask
    }
    return [
        layer(2, 3, [(0, 1), (1, 2)]),  // x0→h1, x1→h2; nothing into h0
        layer(3, 2, [(0, 0), (1, 1)]),  // h0→g0, h1→g1; nothing out of h2
        layer(2, 1, [(0, 0), (1, 0)]),  // g0→out, g1→out
    ]
}

@Suite struct MaskStructureTests {
    @Test func zombieAndInactiveUnits() throws {
        let layers = MaskStructure.analyze(handMadeMask())
        try #require(layers.count == 3)
        // Layer 0's outputs h0, h1, h2: h0 is zombie, h2 inactive; input x1 feeds only h2.
        #expect(layers[0].zombieUnits == 1)
        #expect(layers[0].inactiveUnits == 1)
        #expect(layers[0].deadUnits == 2)
        #expect(layers[0].inactiveInputs == 1)
        #expect(layers[0].colsWithoutIn == 1)
        #expect(layers[0].rowsWithoutOut == 0)
        // Layer 1's outputs g0, g1: g0 is reachable only through zombie h0.
        #expect(layers[1].zombieUnits == 1)
        #expect(layers[1].inactiveUnits == 0)
        #expect(layers[1].inactiveInputs == 1)
        #expect(layers[1].rowsWithoutOut == 1)
        // The output is reached through g1.
        #expect(layers[2].zombieUnits == 0)
        #expect(layers[2].inactiveUnits == 0)
    }

    @Test func effectiveDensityCountsOnlyWeightsOnInputOutputPaths() {
        let layers = MaskStructure.analyze(handMadeMask())
        #expect(layers.map(\.kept) == [2, 2, 2])
        // Only x0→h1→g1→out is a full path.
        #expect(layers.map(\.effectiveKept) == [1, 1, 1])
        #expect(layers[0].effectiveDensity == 1.0 / 6.0)
        #expect(layers[2].density == 1.0)
        #expect(layers[2].effectiveDensity == 0.5)
    }

    @Test func degreesOfAHandMadeLayer() {
        let first = MaskStructure.analyze(handMadeMask())[0]
        #expect(first.outDegree.min == 1 && first.outDegree.max == 1 && first.outDegree.mean == 1)
        #expect(first.outDegree.gini == 0)
        #expect(first.inDegree.min == 0 && first.inDegree.max == 1)
        #expect(abs(first.inDegree.mean - 2.0 / 3.0) < 1e-12)
        #expect(MaskStructure.outDegrees(handMadeMask()[1]) == [1, 1, 0])
    }

    @Test func denseNetworkHasNoDeadUnitsAndFullEffectiveDensity() {
        let dense = [MaskLayer(rows: 4, cols: 3), MaskLayer(rows: 3, cols: 2)]
        for layer in MaskStructure.analyze(dense) {
            #expect(layer.deadUnits == 0 && layer.inactiveInputs == 0)
            #expect(layer.effectiveKept == layer.weights)
            #expect(layer.inDegree.gini == 0 && layer.outDegree.gini == 0)
        }
    }

    @Test func emptyLayerCutsEverything() {
        let cut = [MaskLayer(rows: 4, cols: 3), MaskLayer(rows: 3, cols: 2, fill: false)]
        let layers = MaskStructure.analyze(cut)
        #expect(layers[0].inactiveUnits == 3)
        #expect(layers[0].inactiveInputs == 4)
        #expect(layers[0].effectiveKept == 0)
        #expect(layers[1].zombieUnits == 2)
    }

    @Test(arguments: [
        ([3, 3, 3], 0.0), ([0, 0, 0, 4], 0.75), ([1, 2, 3], 2.0 / 9.0), ([], 0.0), ([0, 0], 0.0), ([5], 0.0),
    ])
    func gini(values: [Int], expected: Double) {
        #expect(abs(MaskStructure.gini(values) - expected) < 1e-12)
    }

    @Test func layerMaskOverloadAgrees() {
        let codec = handMadeMask()
        let core = codec.map { LayerMask(rows: $0.rows, cols: $0.cols, kept: $0.kept) }
        #expect(MaskStructure.analyze(core) == MaskStructure.analyze(codec))
    }
}

@Suite struct MaskSimilarityTests {
    func layer(count: Int, kept: Range<Int>) -> MaskLayer {
        MaskLayer(rows: 1, cols: count, kept: (0..<count).map { kept.contains($0) })
    }

    @Test func halfOverlapAtHalfDensityIsChance() throws {
        let overlap = MaskSimilarity.overlap(layer(count: 100, kept: 0..<50), layer(count: 100, kept: 25..<75))
        #expect(overlap.intersection == 25)
        #expect(overlap.union == 75)
        #expect(abs(overlap.jaccard - 1.0 / 3.0) < 1e-12)
        #expect(overlap.expectedIntersection == 25)
        #expect(try #require(overlap.overlapOverChance) == 1)
        #expect(abs(try #require(overlap.jaccardOverChance) - 1) < 1e-12)
    }

    @Test func identicalSparseMasksAreFarAboveChance() throws {
        let a = layer(count: 1000, kept: 0..<100)
        let overlap = MaskSimilarity.overlap(a, a)
        #expect(overlap.jaccard == 1)
        #expect(abs(try #require(overlap.overlapOverChance) - 10) < 1e-12)
        // Chance Jaccard of two 10% masks: 10 / (200 − 10).
        #expect(abs(try #require(overlap.jaccardOverChance) - 19) < 1e-9)
    }

    @Test func disjointAndEmptyMasks() {
        let disjoint = MaskSimilarity.overlap(layer(count: 10, kept: 0..<5), layer(count: 10, kept: 5..<10))
        #expect(disjoint.intersection == 0 && disjoint.jaccard == 0 && disjoint.overlapOverChance == 0)
        let empty = MaskSimilarity.overlap(layer(count: 10, kept: 0..<0), layer(count: 10, kept: 0..<3))
        #expect(empty.overlapOverChance == nil && empty.jaccardOverChance == nil)
    }

    @Test func wholeMaskOverlapSumsLayers() {
        let a = Mask(layers: [layer(count: 64, kept: 0..<32), layer(count: 70, kept: 0..<70)])
        let b = Mask(layers: [layer(count: 64, kept: 16..<48), layer(count: 70, kept: 0..<35)])
        let overlap = MaskSimilarity.overlap(a, b)
        #expect(overlap.layers.map(\.intersection) == [16, 35])
        #expect(overlap.total.intersection == 51)
        #expect(overlap.total.count == 134)
        #expect(overlap.total.union == 32 + 70 + 32 + 35 - 51)
    }

    @Test func consensusHistogram() {
        let masks = [layer(count: 6, kept: 0..<3), layer(count: 6, kept: 1..<4), layer(count: 6, kept: 2..<5)]
        #expect(MaskSimilarity.consensusCounts(masks) == [1, 2, 3, 2, 1, 0])
        #expect(MaskSimilarity.consensusHistogram(masks) == [1, 2, 2, 1])
    }
}

@Suite struct CSVTableTests {
    @Test func quotedListsAndDoubledQuotes() throws {
        let table = try CSVTable(
            text: "trial_id,model.layers,reason\na,\"[300, 100]\",\"he said \"\"no\"\"\"\nb,\"[10]\",\n", path: "x.csv")
        #expect(table.header == ["trial_id", "model.layers", "reason"])
        #expect(table.rows.count == 2)
        #expect(table.rows[0][try #require(table.column("model.layers"))] == "[300, 100]")
        #expect(table.rows[0][2] == "he said \"no\"")
        #expect(table.rows[1] == ["b", "[10]", ""])
    }

    @Test func tooManyCellsNamesTheLine() {
        #expect(throws: ReportError.self) { try CSVTable(text: "a,b\n1,2\n1,2,3\n", path: "r.csv") }
        do {
            _ = try CSVTable(text: "a,b\n1,2\n1,2,3\n", path: "r.csv")
        } catch {
            #expect(error.description == "r.csv:3: 3 cells but the header has 2 columns")
        }
    }

    /// A conv network's units are channels: a filter pruned away starves every filter of the next layer that
    /// reads only its channel.
    @Test func convLayersCountFiltersAndChannelsAsUnits() throws {
        let arch = try Architecture(
            tokens: [.conv(2), .conv(2)], input: InputShape(channels: 1, height: 3, width: 3), classes: 2)
        // conv1 [9, 2]: filter 1 keeps nothing.
        let conv1 = MaskLayer(rows: 9, cols: 2, kept: (0..<18).map { $0 % 2 == 0 })
        // conv2 [18, 2] (rows (k·2 + c)): nothing reads channel 0; everything reads channel 1.
        let conv2 = MaskLayer(rows: 18, cols: 2, kept: (0..<36).map { ($0 / 2) % 2 == 1 })
        let output = MaskLayer(rows: 18, cols: 2, kept: Array(repeating: true, count: 36))
        let layers = MaskStructure.analyze([conv1, conv2, output], architecture: arch)
        #expect(layers[0].colsWithoutIn == 1 && layers[0].zombieUnits == 1 && layers[0].inputUnits == 1)
        #expect(layers[1].inputUnits == 2 && layers[1].inputUnitsWithoutOut == 1)
        #expect(layers[1].kept == 18 && layers[1].effectiveKept == 0 && layers[1].zombieUnits == 2)
        #expect(layers[2].inputUnits == 2 && layers[2].zombieUnits == 2)
    }
}
