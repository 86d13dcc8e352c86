import Foundation
import LotteryCore
import Testing

/// Finite-difference checks of the hand-written backward pass.
///
/// The check runs in Double: ``Backprop/lossAndGradients(widths:weights:biases:masks:inputs:labels:)`` runs the
/// same generic forward/backward kernels that train in Float (the trainer's `Network<Float>`), specialised for
/// Double with dgemm. Central differences in Double are accurate to ~1e-9, so a 1e-6 relative tolerance catches
/// any wrong term; in Float, rounding (~1e-4) would hide small mistakes. A second test pins the Float path to
/// the Double one.
@Suite("Gradient check against finite differences")
struct GradientCheckTests {
    struct Net {
        var widths: [Int]
        var weights: [[Double]]
        var biases: [[Double]]
        var masks: [[Double]]
        var inputs: [Double]
        var labels: [UInt8]

        init(widths: [Int], rows: Int, seed: Int, pruneFraction: Double) {
            var rng = LotteryRNG(seed: seed)
            self.widths = widths
            weights = (0..<(widths.count - 1)).map { l in
                (0..<(widths[l] * widths[l + 1])).map { _ in rng.gaussian() * 0.7 }
            }
            biases = (0..<(widths.count - 1)).map { l in (0..<widths[l + 1]).map { _ in rng.gaussian() * 0.1 } }
            masks = weights.map { $0.map { _ in rng.uniform() < pruneFraction ? 0 : 1 } }
            inputs = (0..<(rows * widths[0])).map { _ in rng.uniform() }
            labels = (0..<rows).map { _ in UInt8(rng.below(widths.last!)) }
        }

        func loss() -> Double {
            Backprop.lossAndGradients(
                widths: widths, weights: weights, biases: biases, masks: masks, inputs: inputs, labels: labels
            ).loss
        }
    }

    static func relativeError(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(1e-8, abs(a) + abs(b)) }

    @Test(arguments: [[6, 5, 4, 3], [7, 9, 2], [4, 3]])
    func everyLayerMatchesFiniteDifferences(widths: [Int]) {
        var net = Net(widths: widths, rows: 5, seed: widths.count * 11, pruneFraction: 0.3)
        let analytic = Backprop.lossAndGradients(
            widths: net.widths, weights: net.weights, biases: net.biases, masks: net.masks,
            inputs: net.inputs, labels: net.labels)
        let h = 1e-6
        var checked = 0
        for l in 0..<(widths.count - 1) {
            for i in net.weights[l].indices {
                if net.masks[l][i] == 0 {
                    #expect(analytic.weightGradients[l][i] == 0, "pruned weight \(l):\(i) has a gradient")
                    continue
                }
                let saved = net.weights[l][i]
                net.weights[l][i] = saved + h
                let plus = net.loss()
                net.weights[l][i] = saved - h
                let minus = net.loss()
                net.weights[l][i] = saved
                let numeric = (plus - minus) / (2 * h)
                #expect(
                    Self.relativeError(numeric, analytic.weightGradients[l][i]) < 1e-5
                        || abs(numeric - analytic.weightGradients[l][i]) < 1e-9,
                    "layer \(l) weight \(i): numeric \(numeric), analytic \(analytic.weightGradients[l][i])")
                checked += 1
            }
            for j in net.biases[l].indices {
                let saved = net.biases[l][j]
                net.biases[l][j] = saved + h
                let plus = net.loss()
                net.biases[l][j] = saved - h
                let minus = net.loss()
                net.biases[l][j] = saved
                let numeric = (plus - minus) / (2 * h)
                #expect(
                    Self.relativeError(numeric, analytic.biasGradients[l][j]) < 1e-5
                        || abs(numeric - analytic.biasGradients[l][j]) < 1e-9,
                    "layer \(l) bias \(j): numeric \(numeric), analytic \(analytic.biasGradients[l][j])")
            }
        }
        let total = net.weights.reduce(0) { $0 + $1.count }
        #expect(checked >= total / 2 && checked < total, "checked \(checked) of \(total) weights")
    }

    /// The loss itself: a single linear layer, so logits are x·W + b, against softmax cross-entropy by hand.
    @Test func softmaxCrossEntropyAndItsGradient() {
        let net = Net(widths: [3, 4], rows: 6, seed: 5, pruneFraction: 0)
        let result = Backprop.lossAndGradients(
            widths: net.widths, weights: net.weights, biases: net.biases, masks: net.masks,
            inputs: net.inputs, labels: net.labels)
        var loss = 0.0
        var biasGradient = [Double](repeating: 0, count: 4)
        for r in 0..<6 {
            let logits = (0..<4).map { j in
                net.biases[0][j] + (0..<3).reduce(0.0) { $0 + net.inputs[r * 3 + $1] * net.weights[0][$1 * 4 + j] }
            }
            let z = logits.map { exp($0) }.reduce(0, +)
            loss += log(z) - logits[Int(net.labels[r])]
            for j in 0..<4 { biasGradient[j] += (exp(logits[j]) / z - (j == Int(net.labels[r]) ? 1 : 0)) / 6 }
        }
        #expect(abs(result.loss - loss / 6) < 1e-12)
        for j in 0..<4 { #expect(abs(result.biasGradients[0][j] - biasGradient[j]) < 1e-12) }
    }

    /// The Float kernels the trainer uses agree with the checked Double ones to Float precision.
    @Test func floatPathAgreesWithDoublePath() {
        var model = MLP(widths: [8, 6, 3], initializer: .glorotNormal, seed: 4)
        var rng = LotteryRNG(seed: 8)
        model.apply(
            masks: model.masks().map { mask in
                LayerMask(rows: mask.rows, cols: mask.cols, kept: mask.kept.map { _ in rng.uniform() > 0.4 })
            })
        let inputs = (0..<(5 * 8)).map { _ in Float(rng.uniform()) }
        let labels = (0..<5).map { _ in UInt8(rng.below(3)) }
        let single = Backprop.lossAndGradients(model: model, inputs: inputs, labels: labels)
        let double = Backprop.lossAndGradients(
            widths: model.widths, weights: model.layers.map { $0.weight.data.map(Double.init) },
            biases: model.layers.map { $0.bias.map(Double.init) },
            masks: model.layers.map { $0.mask.data.map(Double.init) }, inputs: inputs.map(Double.init), labels: labels)
        #expect(abs(single.loss - double.loss) < 1e-5)
        for l in 0..<2 {
            for i in single.weightGradients[l].indices {
                #expect(abs(Double(single.weightGradients[l][i]) - double.weightGradients[l][i]) < 1e-5)
            }
        }
    }
}
