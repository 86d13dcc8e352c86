/// The networks of Frankle & Carbin (2019), Figure 2, by name (`model: conv2` in a spec), with the training and
/// pruning settings the paper used for each.
///
/// A preset sets `model.layers`, `train.iterations`, `train.lr` and the per-kind pruning rates
/// (`prune.rates.conv|fc|output`); keys a spec names explicitly win over it, wherever they are written. All four
/// train with Adam, batch 60, Gaussian Glorot init, 5,000 validation images (the spec defaults).
public enum ModelPreset: String, Sendable, Hashable, CaseIterable {
    case lenet300_100 = "lenet300-100"
    case conv2
    case conv4
    case conv6

    /// The layer stack (output layer implicit).
    public var layers: [LayerToken] {
        switch self {
        case .lenet300_100: return [.fc(300), .fc(100)]
        case .conv2: return [.conv(64), .conv(64), .pool, .fc(256), .fc(256)]
        case .conv4: return [.conv(64), .conv(64), .pool, .conv(128), .conv(128), .pool, .fc(256), .fc(256)]
        case .conv6:
            return [
                .conv(64), .conv(64), .pool, .conv(128), .conv(128), .pool, .conv(256), .conv(256), .pool, .fc(256),
                .fc(256),
            ]
        }
    }

    /// Training iterations per IMP round.
    public var iterations: Int {
        switch self {
        case .lenet300_100: return 50_000
        case .conv2: return 20_000
        case .conv4: return 25_000
        case .conv6: return 30_000
        }
    }

    /// Adam learning rate.
    public var lr: Double {
        switch self {
        case .lenet300_100: return 1.2e-3
        case .conv2: return 2e-4
        case .conv4, .conv6: return 3e-4
        }
    }

    /// Fraction of the remaining weights pruned per round, per layer kind.
    public var rates: TrialSpec.KindRates {
        switch self {
        case .lenet300_100: return TrialSpec.KindRates(conv: nil, fc: 0.2, output: 0.1)
        case .conv2, .conv4: return TrialSpec.KindRates(conv: 0.1, fc: 0.2, output: 0.1)
        case .conv6: return TrialSpec.KindRates(conv: 0.15, fc: 0.2, output: 0.1)
        }
    }

    /// The preset whose layers are `layers`, if any.
    public static func matching(_ layers: [LayerToken]) -> ModelPreset? {
        allCases.first { $0.layers == layers }
    }

    /// Applies the preset to `spec` (layers, iterations, learning rate, per-kind rates).
    public func apply(to spec: inout TrialSpec) {
        spec.model.layers = layers
        spec.train.iterations = iterations
        spec.train.lr = lr
        spec.prune.kindRates = self == .lenet300_100 ? nil : rates
    }
}
