import LotteryCore

/// A TASK's trial spec as the wire spells it: the JSON keys of the current protocol version, written here and not
/// taken from ``TrialSpec``'s `Codable` conformance, so renaming a field (or a `CodingKeys` case) in LotteryCore
/// cannot silently change the protocol. `GoldenBytesTests` pins the bytes.
///
/// Decoding requires what version 2 required (every non-optional field; `prune.criterion` and `prune.schedule` may
/// be absent and are encoded only when not the default), so a peer of this version decodes exactly what it did.
/// Enum values are their spec spellings (`rawValue`, ``ReinitRule/description``), the same words as the YAML keys.
struct WireSpec: Codable {
    var dataset: String
    var model: Model
    var train: Train
    var data: DataSplit
    var seed: Int
    var seeds: Seeds
    var prune: Prune
    var reinit: WireEnum<ReinitRule>
    var controls: [WireEnum<ControlKind>]
    var controlsSeeds: Int
    var branch: Branch?
    var synthetic: Synthetic?

    enum CodingKeys: String, CodingKey {
        case dataset, model, train, data, seed, seeds, prune, reinit, controls, branch, synthetic
        case controlsSeeds = "controls_seeds"
    }

    struct Model: Codable {
        var layers: [WireLayer]
        var initializer: WireEnum<InitScheme>

        enum CodingKeys: String, CodingKey {
            case layers
            case initializer = "init"
        }
    }

    struct Train: Codable {
        var optimizer: WireEnum<OptimizerKind>
        var lr: Double
        var momentum: Double
        var batch: Int
        var iterations: Int
        var evalEvery: Int

        enum CodingKeys: String, CodingKey {
            case optimizer, lr, momentum, batch, iterations
            case evalEvery = "eval_every"
        }
    }

    struct DataSplit: Codable {
        var validation: Int

        enum CodingKeys: String, CodingKey { case validation }
    }

    struct Seeds: Codable {
        var initialization: Int?
        var order: Int?
        var split: Int?

        enum CodingKeys: String, CodingKey {
            case initialization = "init"
            case order, split
        }
    }

    struct Prune: Codable {
        var strategy: WireEnum<PruneStrategy>
        var rates: [Double]?
        var rounds: Int
        var targetDensity: Double?
        var criterion: WireEnum<PruneCriterion>?
        var schedule: WireEnum<PruneSchedule>?
        var densities: [Double]?
        var kindRates: KindRates?

        enum CodingKeys: String, CodingKey {
            case strategy, rates, rounds, criterion, schedule, densities
            case targetDensity = "target_density"
            case kindRates = "kind_rates"
        }
    }

    struct KindRates: Codable {
        var conv: Double?
        var fc: Double?
        var output: Double?

        enum CodingKeys: String, CodingKey { case conv, fc, output }
    }

    struct Branch: Codable {
        var kind: WireEnum<ControlKind>
        var parentTrial: String
        var parentRound: Int
        var index: Int

        enum CodingKeys: String, CodingKey {
            case kind, index
            case parentTrial = "parent_trial"
            case parentRound = "parent_round"
        }
    }

    struct Synthetic: Codable {
        var roundMilliseconds: Int

        enum CodingKeys: String, CodingKey { case roundMilliseconds = "round_ms" }
    }
}

extension WireSpec {
    init(_ spec: TrialSpec) {
        dataset = spec.dataset
        model = Model(layers: spec.model.layers.map(WireLayer.init), initializer: WireEnum(spec.model.initializer))
        train = Train(
            optimizer: WireEnum(spec.train.optimizer), lr: spec.train.lr, momentum: spec.train.momentum,
            batch: spec.train.batch, iterations: spec.train.iterations, evalEvery: spec.train.evalEvery)
        data = DataSplit(validation: spec.data.validation)
        seed = spec.seed
        seeds = Seeds(initialization: spec.seeds.initialization, order: spec.seeds.order, split: spec.seeds.split)
        let p = spec.prune
        prune = Prune(
            strategy: WireEnum(p.strategy), rates: p.rates, rounds: p.rounds, targetDensity: p.targetDensity,
            criterion: p.criterion == .largeFinal ? nil : WireEnum(p.criterion),
            schedule: p.schedule == .iterative ? nil : WireEnum(p.schedule), densities: p.densities,
            kindRates: p.kindRates.map { KindRates(conv: $0.conv, fc: $0.fc, output: $0.output) })
        reinit = WireEnum(spec.reinit)
        controls = spec.controls.map(WireEnum.init)
        controlsSeeds = spec.controlsSeeds
        branch = spec.branch.map {
            Branch(kind: WireEnum($0.kind), parentTrial: $0.parentTrial, parentRound: $0.parentRound, index: $0.index)
        }
        synthetic = spec.synthetic.map { Synthetic(roundMilliseconds: $0.roundMilliseconds) }
    }

    var spec: TrialSpec {
        var spec = TrialSpec()
        spec.dataset = dataset
        spec.model.layers = model.layers.map(\.token)
        spec.model.initializer = model.initializer.value
        spec.train.optimizer = train.optimizer.value
        spec.train.lr = train.lr
        spec.train.momentum = train.momentum
        spec.train.batch = train.batch
        spec.train.iterations = train.iterations
        spec.train.evalEvery = train.evalEvery
        spec.data.validation = data.validation
        spec.seed = seed
        spec.seeds.initialization = seeds.initialization
        spec.seeds.order = seeds.order
        spec.seeds.split = seeds.split
        spec.prune.strategy = prune.strategy.value
        spec.prune.rates = prune.rates
        spec.prune.rounds = prune.rounds
        spec.prune.targetDensity = prune.targetDensity
        spec.prune.criterion = prune.criterion?.value ?? .largeFinal
        spec.prune.schedule = prune.schedule?.value ?? .iterative
        spec.prune.densities = prune.densities
        spec.prune.kindRates = prune.kindRates.map { TrialSpec.KindRates(conv: $0.conv, fc: $0.fc, output: $0.output) }
        spec.reinit = reinit.value
        spec.controls = controls.map(\.value)
        spec.controlsSeeds = controlsSeeds
        spec.branch = branch.map {
            TrialSpec.Branch(kind: $0.kind.value, parentTrial: $0.parentTrial, parentRound: $0.parentRound, index: $0.index)
        }
        spec.synthetic = synthetic.map { TrialSpec.Synthetic(roundMilliseconds: $0.roundMilliseconds) }
        return spec
    }
}

/// A value the wire spells as one string: a spec enum's word (`adam`, `rewind:100`).
protocol WireSpelled {
    init?(wireText: String)
    var wireText: String { get }
    /// The allowed spellings, for the error a peer gets.
    static var wireAllowed: String { get }
}

extension WireSpelled where Self: RawRepresentable & CaseIterable, RawValue == String {
    init?(wireText: String) { self.init(rawValue: wireText) }
    var wireText: String { rawValue }
    static var wireAllowed: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

extension InitScheme: WireSpelled {}
extension OptimizerKind: WireSpelled {}
extension PruneStrategy: WireSpelled {}
extension PruneCriterion: WireSpelled {}
extension PruneSchedule: WireSpelled {}
extension ControlKind: WireSpelled {}

extension ReinitRule: WireSpelled {
    init?(wireText: String) { self.init(wireText) }
    var wireText: String { description }
    static var wireAllowed: String { allowed }
}

/// One string on the wire, a typed value here.
struct WireEnum<Value: WireSpelled>: Codable {
    var value: Value

    init(_ value: Value) { self.value = value }

    init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Value(wireText: text) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "'\(text.prefix(64))' is not one of \(Value.wireAllowed)"))
        }
        self.value = value
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value.wireText)
    }
}

/// A layer of `model.layers`: a dense layer's width as a number, the others (`conv64`, `pool`) by their spec spelling.
struct WireLayer: Codable {
    var token: LayerToken

    init(_ token: LayerToken) { self.token = token }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let units = try? container.decode(Int.self), units >= 1 {
            token = .fc(units)
        } else if let token = LayerToken(try container.decode(String.self)) {
            self.token = token
        } else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "a layer is N, convN or pool"))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if case .fc(let units) = token { try container.encode(units) } else { try container.encode(token.description) }
    }
}
