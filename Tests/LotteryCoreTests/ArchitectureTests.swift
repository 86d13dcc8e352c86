import Foundation
import LotteryCore
import Testing

/// The model description: shapes derived from the input, presets, spec keys, and the promise that LeNet specs
/// written before conv networks existed keep their trial ids and numbers.
@Suite("Architecture and model presets")
struct ArchitectureTests {
    @Test func conv2OnCIFARHasThePapersWeightShapes() throws {
        let arch = try Architecture(tokens: ModelPreset.conv2.layers, input: .cifar10, classes: 10)
        let shapes: [[Int]] = arch.weightShapes.map { [$0.rows, $0.cols] }
        let expected: [[Int]] = [[27, 64], [576, 64], [16_384, 256], [256, 256], [256, 10]]
        #expect(shapes == expected)
        #expect(arch.weightLayers.map(\.kind) == [.conv, .conv, .fc, .fc, .output])
        // Glorot fans of a 3x3 convolution: 9·in and 9·out.
        #expect(arch.weightLayers[1].fanIn == 576 && arch.weightLayers[1].fanOut == 576)
        #expect(arch.hasConvolutions && arch.widths == nil)
    }

    @Test func conv6FlattensAFourByFourMapOfCIFAR() throws {
        let arch = try Architecture(tokens: ModelPreset.conv6.layers, input: .cifar10, classes: 10)
        #expect(arch.weightShapes[6].rows == 4 * 4 * 256)
        let total: Int = arch.layerSizes.reduce(0, +)
        #expect(total == 2_261_184)  // conv 1,144,512 + fc 1,048,576 + 65,536 + output 2,560
    }

    @Test func conv2OnMNISTDerivesItsShapesFromTheInput() throws {
        let arch = try Architecture(tokens: ModelPreset.conv2.layers, input: .mnist, classes: 10)
        #expect(arch.weightShapes[0].rows == 9 && arch.weightShapes[2].rows == 14 * 14 * 64)
    }

    @Test func lenetIsTheSameNetworkAsTheOldWidths() throws {
        let arch = try Architecture(tokens: [.fc(300), .fc(100)], input: .mnist, classes: 10)
        #expect(arch == Architecture.mlp(widths: [784, 300, 100, 10]))
        #expect(arch.widths == [784, 300, 100, 10] && !arch.hasConvolutions)
    }

    @Test func tooManyPoolsIsAnErrorNamingTheLayer() {
        let tokens: [LayerToken] = [.conv(8), .pool, .pool, .pool, .pool, .pool]
        #expect(throws: SpecError.self) { try Architecture(tokens: tokens, input: .mnist, classes: 10) }
        do {
            _ = try Architecture(tokens: tokens, input: .mnist, classes: 10)
        } catch {
            #expect(error.key == "model.layers" && error.message.contains("layer 6") && error.message.contains("1x1"))
        }
    }

    @Test func convolutionAfterAFullyConnectedLayerIsAnError() {
        #expect(throws: SpecError.self) { try Architecture(tokens: [.fc(10), .conv(4)], input: .mnist, classes: 10) }
    }

    @Test func layerTokensParseAndPrintTheSpecSpelling() {
        #expect(LayerToken("conv64") == .conv(64) && LayerToken("POOL") == .pool && LayerToken("256") == .fc(256))
        #expect(LayerToken("fc12") == .fc(12) && LayerToken("conv") == nil && LayerToken("0") == nil)
        #expect([LayerToken.conv(64), .pool, .fc(256)].map(\.description) == ["conv64", "pool", "256"])
    }

    @Test func presetSetsThePapersSettingsAndExplicitKeysCanFollow() throws {
        var spec = TrialSpec()
        try spec.set("model", to: .string("conv6"))
        #expect(spec.model.layers == ModelPreset.conv6.layers)
        #expect(spec.train.iterations == 30_000 && spec.train.lr == 3e-4)
        #expect(spec.resolvedRates == [0.15, 0.15, 0.15, 0.15, 0.15, 0.15, 0.2, 0.2, 0.1])
        #expect(try spec.value(of: "model") == .string("conv6"))
        try spec.set("prune.rates.conv", to: .double(0.3))
        #expect(spec.resolvedRates.prefix(6).allSatisfy { $0 == 0.3 })
        try spec.set("model.layers", to: .list([.string("conv4"), .string("pool"), .int(7)]))
        #expect(try spec.value(of: "model") == .string("custom"))
        try spec.validate()
    }

    @Test func misspelledPresetIsAnErrorListingTheNames() {
        var spec = TrialSpec()
        do {
            try spec.set("model", to: .string("conv7"))
            Issue.record("conv7 was accepted")
        } catch {
            #expect(error.key == "model" && error.message.contains("conv2") && error.message.contains("lenet300-100"))
        }
    }

    @Test func badLayerTokenIsAnError() {
        var spec = TrialSpec()
        #expect(throws: SpecError.self) { try spec.set("model.layers", to: .list([.string("conv"), .int(10)])) }
        #expect(throws: SpecError.self) { try spec.set("model.layers", to: .list([.int(0)])) }
    }

    @Test func aRateForALayerKindTheModelLacksIsAnError() throws {
        var spec = TrialSpec()
        try spec.set("prune.rates.conv", to: .double(0.1))
        #expect(throws: SpecError.self) { try spec.validate() }
    }

    @Test func cifarDatasetGivesThreeChannelInputs() throws {
        var spec = TrialSpec()
        try spec.set("dataset", to: .string("cifar10"))
        try spec.set("model", to: .string("conv2"))
        #expect(try spec.architecture().input == .cifar10)
        #expect(MLP(spec: spec).layers[0].weight.rows == 27)
    }

    /// Trial ids of two specs as the release before conv networks (13a31b3) computed them: the new keys (`model`,
    /// `prune.rates.<kind>`) restate others and stay out of the canonical text.
    @Test func lenetSpecsKeepTheirTrialIDs() throws {
        var a = TrialSpec()
        try a.set("train.iterations", to: .int(100))
        try a.set("train.eval_every", to: .int(50))
        try a.set("prune.rounds", to: .int(1))
        try a.set("seed", to: .int(7))
        #expect(a.trialID == "t7be4a2291e99714e")
        var b = TrialSpec()
        try b.set("train.iterations", to: .int(60))
        try b.set("train.eval_every", to: .int(30))
        try b.set("train.lr", to: .double(0.001))
        try b.set("prune.strategy", to: .string("global-magnitude"))
        try b.set("prune.rounds", to: .int(1))
        try b.set("reinit", to: .string("random"))
        try b.set("seed", to: .int(3))
        #expect(b.trialID == "td4bc61ebb87b90d4")
        // The lenet preset is the default network: setting it changes nothing.
        var c = a
        try c.set("model", to: .string("lenet300-100"))
        try c.set("train.iterations", to: .int(100))
        #expect(c.trialID == a.trialID)
    }

    @Test func lenetSpecJSONIsUnchanged() throws {
        let json = String(decoding: try JSONEncoder().encode(TrialSpec()), as: UTF8.self)
        #expect(json.contains("\"layers\":[300,100]") && !json.contains("kind_rates"))
        var spec = TrialSpec()
        try spec.set("model", to: .string("conv2"))
        let decoded = try JSONDecoder().decode(TrialSpec.self, from: try JSONEncoder().encode(spec))
        #expect(decoded == spec)
    }

    @Test func convMasksExportInPyTorchsOIHWLayout() throws {
        let arch = try Architecture(
            tokens: [.conv(2), .pool, .fc(3)], input: InputShape(channels: 2, height: 4, width: 4), classes: 2)
        let conv = arch.pytorchLayout(layer: 0, Array(0..<36))
        #expect(conv.shape == [2, 2, 3, 3])
        // OIHW [o=1, c=0, ky=1, kx=1] is HWIO row (ky·3 + kx)·C + c = 8, column 1: 8·2 + 1 = 17.
        #expect(conv.values[((1 * 2 + 0) * 3 + 1) * 3 + 1] == 17)
        #expect(Set(conv.values) == Set(0..<36))
        // The fc layer reads the pooled 2x2x2 map: our row (y, x, c) = (1, 0, 1) is 5; torch.flatten's (c, y, x)
        // = (1, 1, 0) is 6.
        let fc = arch.pytorchLayout(layer: 1, Array(0..<24))
        #expect(fc.shape == [8, 3])
        #expect(fc.values[6 * 3 + 2] == 5 * 3 + 2)
        // An MLP's first layer reads the data set's rows as they are.
        let mlp = try Architecture(tokens: [.fc(4)], input: .cifar10, classes: 10)
        #expect(mlp.pytorchLayout(layer: 0, Array(0..<(3072 * 4))).values == Array(0..<(3072 * 4)))
        #expect(mlp.inputMap(ofLayer: 0) == nil && arch.inputMap(ofLayer: 1) == InputShape(channels: 2, height: 2, width: 2))
    }
}
