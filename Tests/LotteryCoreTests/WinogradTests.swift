import Foundation
import LotteryCore
import Testing

/// Winograd F(4×4, 3×3) and F(2×2, 3×3), the dense conv paths for layers with 8 or more input channels: the same
/// mathematics as im2col + sgemm (to float32 rounding) on shapes with partial tiles, and a rule of shape only. Its gradients
/// against finite differences are in ConvGradientTests, its bits on every kernel level in KernelBitsTests, three
/// Adam steps against PyTorch in ConvPyTorchTests.
@Suite("Winograd convolution")
struct WinogradTests {
    /// Float Winograd against Float im2col: loss and every weight and bias gradient, on a Conv-4-like stack and on
    /// odd sides (tiles cut by the map's edge), 13 images (chunks of 5, the last short). Both stacks run F(4×4) on
    /// their first Winograd layer (16×16 and 17×13 maps) and F(2×2) after the pool (8×8 and 8×6: too few F(4×4)
    /// tiles); `winograd2x2` runs them on F(2×2) only.
    @Test(arguments: [
        ([LayerToken.conv(16), .conv(16), .pool, .conv(24), .conv(24), .pool, .fc(12)],
         InputShape(channels: 3, height: 16, width: 16), KernelPolicy.dense),
        ([LayerToken.conv(8), .conv(12), .pool, .conv(8), .fc(5)], InputShape(channels: 3, height: 17, width: 13),
         KernelPolicy.dense),
        ([LayerToken.conv(16), .conv(16), .pool, .conv(24), .conv(24), .pool, .fc(12)],
         InputShape(channels: 3, height: 16, width: 16), KernelPolicy.winograd2x2),
        ([LayerToken.conv(8), .conv(12), .pool, .conv(8), .fc(5)], InputShape(channels: 3, height: 17, width: 13),
         KernelPolicy.winograd2x2),
    ])
    func winogradAgreesWithIm2colToFloatRounding(tokens: [LayerToken], input: InputShape, policy: KernelPolicy) throws {
        let model = try SparseConvTests.model(tokens, input: input, keep: 0.8, seed: 7)
        let (inputs, labels) = SparseConvTests.batch(model.architecture, rows: 13, seed: 8)
        let winograd = Backprop.lossAndGradients(
            model: model, inputs: inputs, labels: labels, threads: 1, kernels: policy)
        let im2col = Backprop.lossAndGradients(
            model: model, inputs: inputs, labels: labels, threads: 1, kernels: .im2col)
        #expect(abs(winograd.loss - im2col.loss) <= 1e-5 * abs(im2col.loss))
        #expect(winograd.weightGradients != im2col.weightGradients, "both runs took the same path")
        var compared = 0
        for l in model.layers.indices {
            let scale = im2col.weightGradients[l].map { abs($0) }.max() ?? 0
            #expect(scale > 0, "layer \(l) has no gradient to compare")
            for (i, (a, b)) in zip(winograd.weightGradients[l], im2col.weightGradients[l]).enumerated() {
                #expect(abs(a - b) <= 2e-5 * scale, "layer \(l) weight \(i): winograd \(a), im2col \(b)")
                compared += b != 0 ? 1 : 0
            }
            for (a, b) in zip(winograd.biasGradients[l], im2col.biasGradients[l]) {
                #expect(abs(a - b) <= 2e-5 * max(scale, abs(b)))
            }
        }
        #expect(compared > 1000)
    }

    /// Pruned weights of a Winograd layer get no gradient, as on every path (the optimizer sees them masked).
    @Test func prunedWeightsGetNoGradient() throws {
        let model = try SparseConvTests.model(
            [.conv(8), .conv(8), .fc(4)], input: InputShape(channels: 2, height: 6, width: 6), keep: 0.5, seed: 11)
        let (inputs, labels) = SparseConvTests.batch(model.architecture, rows: 6, seed: 12)
        let result = Backprop.lossAndGradients(model: model, inputs: inputs, labels: labels, threads: 1)
        let mask = model.layers[1].mask.data
        #expect(mask.contains(0) && mask.contains(1))
        for (g, m) in zip(result.weightGradients[1], mask) where m == 0 { #expect(g == 0) }
        #expect(zip(result.weightGradients[1], mask).contains { $0.0 != 0 && $0.1 == 1 })
    }

    /// The rule: from 8 input channels under every policy but `im2col`; below, im2col. Then F(4×4) where it needs
    /// fewer multiplications than F(2×2) (never under `winograd2x2`). Shape only.
    @Test func theRuleDependsOnlyOnShape() throws {
        let f4: WinogradTile = KernelPolicy.cpuHasFusedMultiplyAdd ? .f4x4 : .f2x2
        if f4 == .f2x2 { print("WinogradTests: this CPU has no AVX2 + FMA, so the rule must pick F(2×2) everywhere") }
        for policy in KernelPolicy.allCases {
            #expect(policy.winogradTile(inChannels: KernelPolicy.winogradMinimumChannels - 1, height: 32, width: 32) == nil)
            let expected: WinogradTile? = policy == .im2col ? nil : policy == .winograd2x2 ? .f2x2 : f4
            #expect(policy.winogradTile(inChannels: KernelPolicy.winogradMinimumChannels, height: 32, width: 32) == expected)
            #expect(policy.winogradTile(inChannels: 256, height: 8, width: 8) == expected, "4 F(4×4) tiles")
        }
        // Sides 5 and 6: 4 F(4×4) tiles (144 multiplications per channel pair) against 9 F(2×2) tiles (144).
        for side in [1, 2, 5, 6] {
            #expect(KernelPolicy.dense.winogradTile(inChannels: 64, height: side, width: side) == .f2x2, "side \(side)")
        }
        for side in [3, 4, 7, 8, 12, 13, 14, 16, 28, 32] {
            #expect(KernelPolicy.dense.winogradTile(inChannels: 64, height: side, width: side) == f4, "side \(side)")
        }
        // 16 tiles in a thin map, but more multiplications than F(2×2): 16 · 36 = 576 > 32 · 16 = 512.
        #expect(KernelPolicy.dense.winogradTile(inChannels: 64, height: 1, width: 64) == .f2x2)
        #expect(WinogradTile.f4x4.multiplications(InputShape(channels: 1, height: 6, width: 6)) == 144)
        #expect(WinogradTile.f2x2.multiplications(InputShape(channels: 1, height: 6, width: 6)) == 144)
        #expect(KernelPolicy.winogradMinimumChannels > 3, "a CIFAR or MNIST first layer would run Winograd")
        let model = try SparseConvTests.model(
            [.conv(16), .conv(16), .pool, .conv(16), .pool, .fc(8)], input: InputShape(channels: 3, height: 16, width: 16),
            keep: 1, seed: 1)
        #expect(KernelPolicy.dense.layerKernels(of: model) == ["im2col", f4.name, f4.name, "dense", "dense"])
        #expect(KernelPolicy.winograd2x2.layerKernels(of: model) == ["im2col", "winograd2x2", "winograd2x2", "dense", "dense"])
        #expect(KernelPolicy.im2col.layerKernels(of: model) == ["im2col", "im2col", "im2col", "dense", "dense"])
        #expect(KernelPolicy.sparse.layerKernels(of: model) == ["sparse", "sparse", "sparse", "dense", "dense"])
    }
}
