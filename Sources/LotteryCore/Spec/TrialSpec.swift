/// Everything that determines one IMP trial: data, model, training, seeds, pruning plan and reinit rule.
///
/// A trial spec is a value: equal specs give bit-identical results on the same build and CPU kind.
/// Users write it as YAML with dotted keys (`train.lr`, `prune.strategy`, …; see ``TrialSpec/keys``);
/// it travels between coordinator and worker as JSON (`Codable`). Defaults are Frankle & Carbin (2019),
/// LeNet-300-100 on MNIST: Adam 1.2e-3, batch 60, 50,000 iterations per round, Gaussian Glorot init,
/// 5,000-image validation split, layer-wise pruning of 20% of the remaining hidden-layer weights and
/// 10% of the output-layer weights per round, rewinding to θ₀.
public struct TrialSpec: Codable, Sendable, Hashable {
    /// Data set name: `mnist`, `fashion-mnist` or `cifar10` (IDX files under the data directory).
    public var dataset: String = "mnist"
    public var model = Model()
    public var train = Train()
    public var data = DataSplit()
    /// Base seed; the init, data-order and split seeds derive from it unless ``seeds`` gives them.
    public var seed: Int = 0
    public var seeds = Seeds()
    public var prune = Prune()
    public var reinit: ReinitRule = .rewind(iteration: 0)
    /// Control branches run beside the trial (the paper's randomly reinitialised tickets, Figure 4).
    public var controls: [ControlKind] = []
    /// How many seeds each control branch runs with.
    public var controlsSeeds: Int = 1
    /// Set only on a branch trial: which parent round's mask it trains, and how.
    public var branch: Branch?
    /// Set only for scheduler benchmarks: each round sleeps and emits a random mask instead of training.
    public var synthetic: Synthetic?

    public init() {}

    public struct Model: Codable, Sendable, Hashable {
        /// The layer stack without the output layer (``LayerToken``: `300`, `conv64`, `pool`); input and output
        /// shapes come from the data set (1×28×28 and 10 for MNIST). The default is LeNet-300-100.
        public var layers: [LayerToken] = [.fc(300), .fc(100)]
        public var initializer: InitScheme = .glorotNormal

        public init() {}

        enum CodingKeys: String, CodingKey {
            case layers
            case initializer = "init"
        }
    }

    public struct Train: Codable, Sendable, Hashable {
        public var optimizer: OptimizerKind = .adam
        public var lr: Double = 1.2e-3
        /// SGD momentum (ignored by Adam).
        public var momentum: Double = 0.9
        public var batch: Int = 60
        /// Training iterations per IMP round.
        public var iterations: Int = 50_000
        /// Evaluate validation and test sets every this many iterations (and at the last one).
        public var evalEvery: Int = 100

        public init() {}

        enum CodingKeys: String, CodingKey {
            case optimizer, lr, momentum, batch, iterations
            case evalEvery = "eval_every"
        }
    }

    public struct DataSplit: Codable, Sendable, Hashable {
        /// Images held out of the training set for validation and early stopping (the paper: 5,000).
        public var validation: Int = 5_000

        public init() {}
    }

    /// Explicit seeds; `nil` means "derive from ``TrialSpec/seed``".
    public struct Seeds: Codable, Sendable, Hashable {
        public var initialization: Int?
        public var order: Int?
        public var split: Int?

        public init() {}

        enum CodingKeys: String, CodingKey {
            case initialization = "init"
            case order, split
        }
    }

    public struct Prune: Codable, Sendable, Hashable {
        public var strategy: PruneStrategy = .layerwiseMagnitude
        /// Fraction of the *remaining* weights removed per round, one per weight layer
        /// (one value for `global-magnitude`). `nil` means the paper's: 0.2 per hidden layer, 0.1 output.
        public var rates: [Double]?
        /// Pruning rounds after the dense round 0. Ignored when ``targetDensity`` is set.
        public var rounds: Int = 20
        /// Stop after the first round whose total kernel density is at or below this.
        public var targetDensity: Double?
        /// Which survivors a magnitude strategy keeps (Zhou et al. 2019); `large_final` is the paper's rule.
        /// Encoded only when not the default, so specs written before it existed decode and hash as before.
        public var criterion: PruneCriterion = .largeFinal
        /// `iterative` (IMP, the default) or `oneshot` (prune the trained dense network straight to each density).
        public var schedule: PruneSchedule = .iterative
        /// One-shot only: the densities to prune to; `nil` means the iterative ladder's rounds 1…last.
        public var densities: [Double]?
        /// Per-kind rates (`prune.rates.conv|fc|output`), used when ``rates`` is `nil`; unset kinds take the
        /// paper's defaults (conv 0.1, fc 0.2, output 0.1). `nil` (all defaults) keeps the JSON of older specs.
        public var kindRates: KindRates?

        public init() {}

        enum CodingKeys: String, CodingKey {
            case strategy, rates, rounds, criterion, schedule, densities
            case targetDensity = "target_density"
            case kindRates = "kind_rates"
        }
    }

    /// Pruning rates per weight-layer kind (``WeightLayerKind``); `nil` = the paper's default for that kind.
    public struct KindRates: Codable, Sendable, Hashable {
        public var conv: Double?
        public var fc: Double?
        public var output: Double?

        public init(conv: Double? = nil, fc: Double? = nil, output: Double? = nil) {
            self.conv = conv
            self.fc = fc
            self.output = output
        }

        /// The paper's defaults: conv 0.1 (Conv-2/4; Conv-6 uses 0.15), fc 0.2, output 0.1.
        public static let defaults: [WeightLayerKind: Double] = [.conv: 0.1, .fc: 0.2, .output: 0.1]

        /// The rate of `kind`, its default when unset.
        public func rate(_ kind: WeightLayerKind) -> Double {
            let value: Double? =
                switch kind {
                case .conv: conv
                case .fc: fc
                case .output: output
                }
            return value ?? Self.defaults[kind]!
        }
    }

    public struct Branch: Codable, Sendable, Hashable {
        public var kind: ControlKind
        public var parentTrial: String
        public var parentRound: Int
        /// Which of the ``TrialSpec/controlsSeeds`` seeds this branch is (0-based).
        public var index: Int

        public init(kind: ControlKind, parentTrial: String, parentRound: Int, index: Int) {
            self.kind = kind
            self.parentTrial = parentTrial
            self.parentRound = parentRound
            self.index = index
        }

        enum CodingKeys: String, CodingKey {
            case kind, index
            case parentTrial = "parent_trial"
            case parentRound = "parent_round"
        }
    }

    public struct Synthetic: Codable, Sendable, Hashable {
        public var roundMilliseconds: Int

        public init(roundMilliseconds: Int) { self.roundMilliseconds = roundMilliseconds }

        enum CodingKeys: String, CodingKey { case roundMilliseconds = "round_ms" }
    }

    enum CodingKeys: String, CodingKey {
        case dataset, model, train, data, seed, seeds, prune, reinit, controls, branch, synthetic
        case controlsSeeds = "controls_seeds"
    }
}

public enum InitScheme: String, Codable, Sendable, Hashable, CaseIterable {
    /// N(0, 2/(fan_in+fan_out)), the paper's "Gaussian Glorot".
    case glorotNormal = "glorot-normal"
    /// U(−a, a) with a = √(6/(fan_in+fan_out)).
    case glorotUniform = "glorot-uniform"
    /// N(0, 2/fan_in).
    case heNormal = "he-normal"
}

public enum OptimizerKind: String, Codable, Sendable, Hashable, CaseIterable {
    case adam
    case sgd
}

public enum PruneStrategy: String, Codable, Sendable, Hashable, CaseIterable {
    /// Remove the smallest-magnitude fraction of each layer's remaining weights (the paper).
    case layerwiseMagnitude = "layerwise-magnitude"
    /// One magnitude threshold over all prunable weights.
    case globalMagnitude = "global-magnitude"
    /// Control: the same per-layer counts as layer-wise magnitude, chosen at random among survivors.
    case random
}

public enum ControlKind: String, Codable, Sendable, Hashable, CaseIterable {
    /// Train the trial's round-r mask from a fresh random initialisation (the paper's Figure 4 control).
    case reinitRandom = "reinit-random"
    /// Train a random mask with the round-r mask's per-layer kept counts from the trial's rewound weights (the
    /// random-pruning control; docs/imp.md, "Control branches").
    case pruneRandom = "prune-random"
    /// Not a control: one density of a `prune.schedule: oneshot` trial, a branch of its round 0 (never listed in
    /// `controls`; docs/imp.md, "One-shot pruning").
    case oneshot
}

/// What the surviving weights are reset to before a round trains.
public enum ReinitRule: Sendable, Hashable, Codable, CustomStringConvertible, LosslessStringConvertible {
    /// Back to the weights after `iteration` steps of the dense run; 0 is θ₀ (the paper's rule).
    /// Iteration > 0 is late rewinding (Frankle et al. 2019, "Stabilizing the LTH").
    case rewind(iteration: Int)
    /// A fresh initialisation from another seed (control).
    case random
    /// Keep the trained weights (pruning + fine-tuning baseline).
    case none
    /// Each kept weight set to sign(θ₀)·σ of its layer's init distribution.
    case signedConstant

    public static let allowed = "rewind, rewind:<iteration>, random, none, signed-constant"

    public init?(_ text: String) {
        switch text {
        case "rewind": self = .rewind(iteration: 0)
        case "random": self = .random
        case "none": self = .none
        case "signed-constant": self = .signedConstant
        default:
            guard text.hasPrefix("rewind:"), let k = Int(text.dropFirst("rewind:".count)), k >= 0 else { return nil }
            self = .rewind(iteration: k)
        }
    }

    public var description: String {
        switch self {
        case .rewind(let k): return k == 0 ? "rewind" : "rewind:\(k)"
        case .random: return "random"
        case .none: return "none"
        case .signedConstant: return "signed-constant"
        }
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let rule = ReinitRule(text) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath, debugDescription: "reinit '\(text)' is not one of \(Self.allowed)")
            )
        }
        self = rule
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
