/// A user-facing mistake in a trial spec: which key, which value, what is allowed.
public struct SpecError: Error, Sendable, Hashable, CustomStringConvertible {
    public var key: String
    public var message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { key.isEmpty ? message : "\(key): \(message)" }
}

extension TrialSpec {
    /// One user-settable hyperparameter: its dotted name, how to read it and how to set it.
    public struct Key: Sendable {
        public let name: String
        public let help: String
        /// Set on keys added after trial ids were first published: at this value the key is left out of
        /// ``TrialSpec/canonicalText``, so every spec that does not use it keeps its trial id.
        public internal(set) var canonicalDefault: SpecValue? = nil
        /// Whether the key is part of the trial's identity (``canonicalText``); `false` for keys that only restate
        /// others (the `model` preset name restates `model.layers`; per-kind rates are in `prune.rates`).
        public var isCanonical = true
        /// Whether the key is a CSV column (``columns``).
        public var isColumn = true
        let get: @Sendable (TrialSpec) -> SpecValue
        let set: @Sendable (inout TrialSpec, SpecValue) throws(SpecError) -> Void
    }

    /// Every key a spec file, `--set` or a grid axis may name, in canonical (CSV column) order.
    public static let keys: [Key] = [
        Key(name: "dataset", help: "mnist | fashion-mnist | cifar10", get: { .string($0.dataset) }) {
            spec, value throws(SpecError) in
            spec.dataset = try value.oneOf(DataStore.names, key: "dataset")
        },
        Key(
            name: "model",
            help:
                "a network of the paper: \(ModelPreset.allCases.map(\.rawValue).joined(separator: " | ")) (sets model.layers, train.iterations, train.lr, prune.rates per kind; explicit keys win)",
            isCanonical: false,
            get: { .string(ModelPreset.matching($0.model.layers)?.rawValue ?? "custom") }
        ) { spec, value throws(SpecError) in
            let preset = try value.enumCase(ModelPreset.self, key: "model")
            preset.apply(to: &spec)
        },
        Key(
            name: "model.layers", help: "layer stack without the output layer, e.g. [300, 100] or [conv64, conv64, pool, 256, 256]",
            get: { .list($0.model.layers.map(\.specValue)) }
        ) {
            spec, value throws(SpecError) in
            spec.model.layers = try value.layerList(key: "model.layers")
        },
        Key(name: "model.init", help: allowed(InitScheme.self), get: { .string($0.model.initializer.rawValue) }) {
            spec, value throws(SpecError) in
            spec.model.initializer = try value.enumCase(InitScheme.self, key: "model.init")
        },
        Key(name: "train.optimizer", help: allowed(OptimizerKind.self), get: { .string($0.train.optimizer.rawValue) }) {
            spec, value throws(SpecError) in
            spec.train.optimizer = try value.enumCase(OptimizerKind.self, key: "train.optimizer")
        },
        Key(name: "train.lr", help: "learning rate > 0", get: { .double($0.train.lr) }) {
            spec, value throws(SpecError) in
            spec.train.lr = try value.double(key: "train.lr", range: .greaterThan(0))
        },
        Key(name: "train.momentum", help: "SGD momentum in [0, 1)", get: { .double($0.train.momentum) }) {
            spec, value throws(SpecError) in
            spec.train.momentum = try value.double(key: "train.momentum", range: .unitHalfOpen)
        },
        Key(name: "train.batch", help: "mini-batch size ≥ 1", get: { .int($0.train.batch) }) {
            spec, value throws(SpecError) in
            spec.train.batch = try value.int(key: "train.batch", minimum: 1)
        },
        Key(name: "train.iterations", help: "iterations per round ≥ 1", get: { .int($0.train.iterations) }) {
            spec, value throws(SpecError) in
            spec.train.iterations = try value.int(key: "train.iterations", minimum: 1)
        },
        Key(name: "train.eval_every", help: "iterations between evaluations ≥ 1", get: { .int($0.train.evalEvery) }) {
            spec, value throws(SpecError) in
            spec.train.evalEvery = try value.int(key: "train.eval_every", minimum: 1)
        },
        Key(
            name: "data.validation", help: "validation images held out of training ≥ 1",
            get: { .int($0.data.validation) }
        ) {
            spec, value throws(SpecError) in
            spec.data.validation = try value.int(key: "data.validation", minimum: 1)
        },
        Key(name: "seed", help: "base seed (integer ≥ 0)", get: { .int($0.seed) }) { spec, value throws(SpecError) in
            spec.seed = try value.int(key: "seed", minimum: 0)
        },
        Key(name: "seeds.init", help: "model init seed (default: derived from seed)", get: { .int($0.initSeed) }) {
            spec, value throws(SpecError) in
            spec.seeds.initialization = try value.optionalInt(key: "seeds.init")
        },
        Key(name: "seeds.order", help: "data order seed (default: derived from seed)", get: { .int($0.orderSeed) }) {
            spec, value throws(SpecError) in
            spec.seeds.order = try value.optionalInt(key: "seeds.order")
        },
        Key(
            name: "seeds.split", help: "train/validation split seed (default: derived from seed)",
            get: { .int($0.splitSeed) }
        ) {
            spec, value throws(SpecError) in
            spec.seeds.split = try value.optionalInt(key: "seeds.split")
        },
        Key(name: "prune.strategy", help: allowed(PruneStrategy.self), get: { .string($0.prune.strategy.rawValue) }) {
            spec, value throws(SpecError) in
            spec.prune.strategy = try value.enumCase(PruneStrategy.self, key: "prune.strategy")
        },
        Key(
            name: "prune.rates", help: "fraction of remaining weights pruned per round, per layer",
            get: {
                .list($0.resolvedRates.map(SpecValue.double))
            }
        ) { spec, value throws(SpecError) in
            if value == .null { spec.prune.rates = nil; return }
            let list = value.asList ?? [value]
            var rates: [Double] = []
            for item in list { rates.append(try item.double(key: "prune.rates", range: .unitHalfOpen)) }
            spec.prune.rates = rates
        },
        kindRateKey(.conv), kindRateKey(.fc), kindRateKey(.output),
        Key(
            name: "prune.rounds", help: "pruning rounds after the dense round 0 (0 = dense only)",
            get: { .int($0.prune.rounds) }
        ) {
            spec, value throws(SpecError) in
            spec.prune.rounds = try value.int(key: "prune.rounds", minimum: 0)
        },
        Key(
            name: "prune.target_density", help: "stop when total density ≤ this (0, 1]",
            get: {
                $0.prune.targetDensity.map(SpecValue.double) ?? .null
            }
        ) { spec, value throws(SpecError) in
            if value == .null { spec.prune.targetDensity = nil; return }
            spec.prune.targetDensity = try value.double(key: "prune.target_density", range: .unitOpenClosed)
        },
        Key(
            name: "prune.criterion", help: allowed(PruneCriterion.self), canonicalDefault: .string("large_final"),
            get: { .string($0.prune.criterion.rawValue) }
        ) {
            spec, value throws(SpecError) in
            spec.prune.criterion = try value.enumCase(PruneCriterion.self, key: "prune.criterion")
        },
        Key(
            name: "prune.schedule", help: allowed(PruneSchedule.self), canonicalDefault: .string("iterative"),
            get: { .string($0.prune.schedule.rawValue) }
        ) {
            spec, value throws(SpecError) in
            spec.prune.schedule = try value.enumCase(PruneSchedule.self, key: "prune.schedule")
        },
        Key(
            name: "prune.densities", help: "oneshot only: densities in (0, 1) to prune to (default: the IMP ladder)",
            canonicalDefault: .null, get: { $0.prune.densities.map { .list($0.map(SpecValue.double)) } ?? .null }
        ) { spec, value throws(SpecError) in
            if value == .null { spec.prune.densities = nil; return }
            let list = value.asList ?? [value]
            var densities: [Double] = []
            for item in list { densities.append(try item.double(key: "prune.densities", range: .unitOpenClosed)) }
            spec.prune.densities = densities
        },
        Key(name: "reinit", help: ReinitRule.allowed, get: { .string($0.reinit.description) }) {
            spec, value throws(SpecError) in
            guard let text = value.asString, let rule = ReinitRule(text) else {
                throw SpecError(key: "reinit", message: "'\(value)' is not one of \(ReinitRule.allowed)")
            }
            spec.reinit = rule
        },
        Key(
            name: "controls", help: "control branches: [] or a list of reinit-random, prune-random",
            get: {
                .list($0.controls.map { .string($0.rawValue) })
            }
        ) { spec, value throws(SpecError) in
            let list = value == .null ? [] : (value.asList ?? [value])
            var controls: [ControlKind] = []
            // `oneshot` is a branch kind but not a control (prune.schedule: oneshot makes those branches).
            let allowed = ControlKind.allCases.filter { $0 != .oneshot }.map(\.rawValue)
            for item in list { controls.append(ControlKind(rawValue: try item.oneOf(allowed, key: "controls"))!) }
            spec.controls = controls
        },
        Key(name: "controls_seeds", help: "seeds per control branch ≥ 1", get: { .int($0.controlsSeeds) }) {
            spec, value throws(SpecError) in
            spec.controlsSeeds = try value.int(key: "controls_seeds", minimum: 1)
        },
        Key(
            name: "synthetic.round_ms", help: "benchmark only: sleep this long per round instead of training",
            get: {
                $0.synthetic.map { .int($0.roundMilliseconds) } ?? .null
            }
        ) { spec, value throws(SpecError) in
            if value == .null { spec.synthetic = nil; return }
            spec.synthetic = Synthetic(roundMilliseconds: try value.int(key: "synthetic.round_ms", minimum: 0))
        },
    ]

    /// `prune.rates.<kind>`: the rate of every layer of that kind (used when `prune.rates` is not a list).
    private static func kindRateKey(_ kind: WeightLayerKind) -> Key {
        let name = "prune.rates.\(kind.rawValue)"
        return Key(
            name: name,
            help:
                "fraction of remaining weights pruned per round in every \(kind.rawValue) layer (default \(SpecValue.format(KindRates.defaults[kind]!)))",
            isCanonical: false, isColumn: false,
            get: { .double(($0.prune.kindRates ?? KindRates()).rate(kind)) }
        ) { spec, value throws(SpecError) in
            let rate = try value.double(key: name, range: .unitHalfOpen)
            var rates = spec.prune.kindRates ?? KindRates()
            switch kind {
            case .conv: rates.conv = rate
            case .fc: rates.fc = rate
            case .output: rates.output = rate
            }
            spec.prune.kindRates = rates
        }
    }

    /// Every key that is part of the trial's identity with its resolved value, in canonical order: what
    /// ``canonicalText`` hashes and what re-applying to a fresh spec reproduces the trial from (the `model`
    /// preset name and the per-kind rates restate these and are left out).
    public var canonicalColumns: [(key: String, value: SpecValue)] {
        Self.keys.filter(\.isCanonical).map { ($0.name, $0.get(self)) }
    }

    /// The names of the keys that are CSV columns, in canonical order (``columns``).
    public static var columnNames: [String] { keys.filter(\.isColumn).map(\.name) }

    /// Key names that hold branch identity rather than hyperparameters (CSV columns of branch trials).
    public static let branchColumns = ["branch.kind", "branch.parent_trial", "branch.parent_round", "branch.index"]

    /// The key named `name`, or an error listing the close alternatives.
    public static func key(named name: String) throws(SpecError) -> Key {
        if let key = keys.first(where: { $0.name == name }) { return key }
        let suggestions = keys.map(\.name).filter {
            $0.hasPrefix(name.split(separator: ".").first.map(String.init) ?? name)
        }
        let hint =
            suggestions.isEmpty
            ? "known keys: \(keys.map(\.name).joined(separator: ", "))"
            : "did you mean \(suggestions.joined(separator: ", "))?"
        throw SpecError(key: name, message: "unknown key; \(hint)")
    }

    /// Sets one dotted key, checking the value. Unknown keys are errors, never ignored.
    public mutating func set(_ name: String, to value: SpecValue) throws(SpecError) {
        try Self.key(named: name).set(&self, value)
    }

    /// The value of one dotted key, with defaults resolved (as written into CSV columns).
    public func value(of name: String) throws(SpecError) -> SpecValue {
        try Self.key(named: name).get(self)
    }

    /// Every key with its resolved value, in canonical order: the hyperparameter columns of the CSVs.
    public var columns: [(key: String, value: SpecValue)] {
        Self.keys.filter(\.isColumn).map { ($0.name, $0.get(self)) }
    }

    /// `entries` in the order they should be applied: a `model` preset first, so that every key a spec names
    /// explicitly wins over the preset wherever it is written.
    public static func presetsFirst<Entry>(_ entries: [Entry], key: (Entry) -> String) -> [Entry] {
        entries.filter { key($0) == "model" } + entries.filter { key($0) != "model" }
    }

    private static func allowed<E: CaseIterable & RawRepresentable>(_: E.Type) -> String where E.RawValue == String {
        E.allCases.map(\.rawValue).joined(separator: " | ")
    }
}

extension SpecValue {
    enum Range {
        case greaterThan(Double)
        case unitHalfOpen  // [0, 1)
        case unitOpenClosed  // (0, 1]

        func contains(_ value: Double) -> Bool {
            switch self {
            case .greaterThan(let bound): return value > bound
            case .unitHalfOpen: return value >= 0 && value < 1
            case .unitOpenClosed: return value > 0 && value <= 1
            }
        }

        var text: String {
            switch self {
            case .greaterThan(let bound): return "a number > \(SpecValue.format(bound))"
            case .unitHalfOpen: return "a number in [0, 1)"
            case .unitOpenClosed: return "a number in (0, 1]"
            }
        }
    }

    func int(key: String, minimum: Int) throws(SpecError) -> Int {
        guard let value = asInt else { throw SpecError(key: key, message: "'\(self)' is not an integer") }
        guard value >= minimum else { throw SpecError(key: key, message: "\(value) is below the minimum \(minimum)") }
        return value
    }

    func optionalInt(key: String) throws(SpecError) -> Int? {
        if self == .null { return nil }
        return try int(key: key, minimum: 0)
    }

    func double(key: String, range: Range) throws(SpecError) -> Double {
        guard let value = asDouble, value.isFinite else {
            throw SpecError(key: key, message: "'\(self)' is not a number")
        }
        guard range.contains(value) else { throw SpecError(key: key, message: "\(self) is not \(range.text)") }
        return value
    }

    func layerList(key: String) throws(SpecError) -> [LayerToken] {
        guard let list = asList else {
            throw SpecError(key: key, message: "'\(self)' is not a list of layers, e.g. [300, 100] or [conv64, pool, 256]")
        }
        var result: [LayerToken] = []
        for item in list {
            let token: LayerToken? =
                switch item {
                case .int(let n): n >= 1 ? .fc(n) : nil
                case .string(let text): LayerToken(text)
                default: nil
                }
            guard let token else {
                throw SpecError(
                    key: key, message: "'\(item)' is not a layer: N (fully connected, N ≥ 1), convN (3x3, N filters) or pool")
            }
            result.append(token)
        }
        return result
    }

    func oneOf(_ allowed: [String], key: String) throws(SpecError) -> String {
        guard let text = asString, allowed.contains(text) else {
            throw SpecError(key: key, message: "'\(self)' is not one of \(allowed.joined(separator: ", "))")
        }
        return text
    }

    func enumCase<E: CaseIterable & RawRepresentable>(_: E.Type, key: String) throws(SpecError) -> E
    where E.RawValue == String {
        guard let text = asString, let value = E(rawValue: text) else {
            let allowed = E.allCases.map(\.rawValue).joined(separator: ", ")
            throw SpecError(key: key, message: "'\(self)' is not one of \(allowed)")
        }
        return value
    }
}
