extension TrialSpec {
    /// Number of weight (kernel) layers: convolutions, fully connected layers and the output layer.
    public var weightLayerCount: Int { weightLayerKinds.count }

    /// The kind of every weight layer, input to output (pools have no weights).
    public var weightLayerKinds: [WeightLayerKind] {
        model.layers.compactMap { token -> WeightLayerKind? in
            switch token {
            case .conv: return .conv
            case .fc: return .fc
            case .pool: return nil
            }
        } + [.output]
    }

    /// The shape of one input image of ``dataset``: 3×32×32 for `cifar10`, else 1×28×28 (MNIST, Fashion-MNIST).
    public var inputShape: InputShape { DataStore.expectedShape(dataset) }

    /// Classes of ``dataset`` (10 for every supported data set).
    public var classes: Int { 10 }

    /// The network this trial trains on its data set.
    ///
    /// - Throws: ``SpecError`` (key `model.layers`) when the stack does not fit the input (``Architecture``).
    public func architecture() throws(SpecError) -> Architecture {
        try Architecture(tokens: model.layers, input: inputShape, classes: classes)
    }

    /// Per-layer pruning rates with the paper's defaults filled in.
    ///
    /// `global-magnitude` uses one rate; the other strategies one per weight layer: `prune.rates` when given (a
    /// single value applies to every layer), else the per-kind rates (``KindRates``, conv 0.1 / fc 0.2 /
    /// output 0.1 unless set).
    public var resolvedRates: [Double] {
        if prune.strategy == .globalMagnitude { return [prune.rates?.first ?? 0.2] }
        guard let rates = prune.rates else {
            let kinds = prune.kindRates ?? KindRates()
            return weightLayerKinds.map { kinds.rate($0) }
        }
        return rates.count == 1 ? Array(repeating: rates[0], count: weightLayerCount) : rates
    }

    /// Seed of the model initialisation (and of `random` pruning and reinit draws, on their own streams).
    public var initSeed: Int { seeds.initialization ?? Seed.derive(seed, "init") }
    /// Seed of the mini-batch order.
    public var orderSeed: Int { seeds.order ?? Seed.derive(seed, "order") }
    /// Seed of the train/validation split.
    public var splitSeed: Int { seeds.split ?? Seed.derive(seed, "split") }

    /// Checks what single keys cannot: consistency between keys.
    public func validate() throws(SpecError) {
        _ = try architecture()
        if let kinds = prune.kindRates {
            let present = Set(weightLayerKinds)
            for (kind, value) in [(WeightLayerKind.conv, kinds.conv), (.fc, kinds.fc)] where value != nil {
                if !present.contains(kind) {
                    throw SpecError(
                        key: "prune.rates.\(kind.rawValue)",
                        message:
                            "the model has no \(kind.rawValue) layer (model.layers [\(model.layers.map(\.description).joined(separator: ", "))]); remove the rate or add such a layer"
                    )
                }
            }
        }
        if prune.strategy != .globalMagnitude, let rates = prune.rates, rates.count != 1,
            rates.count != weightLayerCount
        {
            throw SpecError(
                key: "prune.rates",
                message:
                    "\(rates.count) rates given for \(weightLayerCount) weight layers (model.layers [\(model.layers.map(\.description).joined(separator: ", "))] plus the output layer); give one per layer, a single rate, or per kind (prune.rates: {conv: …, fc: …, output: …})"
            )
        }
        if prune.strategy == .globalMagnitude, let rates = prune.rates, rates.count != 1 {
            throw SpecError(key: "prune.rates", message: "global-magnitude takes one rate, got \(rates.count)")
        }
        if prune.rounds > 0 || prune.targetDensity != nil, resolvedRates.allSatisfy({ $0 == 0 }) {
            throw SpecError(
                key: "prune.rates",
                message:
                    "\(resolvedRates) prunes nothing, so every round would retrain the dense network; give a rate in (0, 1) or set prune.rounds: 0"
            )
        }
        if case .rewind(let k) = reinit, k > train.iterations {
            throw SpecError(key: "reinit", message: "rewind:\(k) is past the \(train.iterations) iterations of a round")
        }
        if train.evalEvery > train.iterations {
            throw SpecError(
                key: "train.eval_every",
                message: "\(train.evalEvery) is more than train.iterations (\(train.iterations))")
        }
        try validateCriteria()
        try validateControls()
        if let branch, branch.kind != .oneshot, branch.index >= controlsSeeds || branch.parentRound < 1 {
            throw SpecError(
                key: "branch", message: "branch index \(branch.index) / parent round \(branch.parentRound) out of range"
            )
        }
    }

    /// The canonical text of the trial: every key with its resolved value, one `key=value` per line
    /// (plus branch identity on a branch trial). Two specs describe the same trial iff their texts are equal.
    /// Keys that only restate others (``Key/isCanonical`` false: the `model` preset name) are left out, and so are
    /// keys with a ``Key/canonicalDefault`` (added after ids were published) while they hold that value, so adding
    /// either kind of key never changes a trial's id.
    public var canonicalText: String {
        var lines = Self.keys.filter(\.isCanonical).compactMap { key -> String? in
            let value = key.get(self)
            return value == key.canonicalDefault ? nil : "\(key.name)=\(value)"
        }
        if let branch {
            lines += [
                "branch.kind=\(branch.kind.rawValue)", "branch.parent_trial=\(branch.parentTrial)",
                "branch.parent_round=\(branch.parentRound)", "branch.index=\(branch.index)",
            ]
        }
        return lines.joined(separator: "\n")
    }

    /// Stable id of the trial: `t` followed by the first 16 hex digits of SHA-256 of ``canonicalText``.
    ///
    /// A restarted sweep and a re-run recognise finished work by it. The leading letter keeps pandas from
    /// reading an id column that happens to be all digits (or `123e45…`) as numbers.
    public var trialID: String {
        "t" + String(SHA256.hexDigest(Array(canonicalText.utf8)).prefix(16))
    }

    /// The spec of control branch `index` of `kind` on this trial's round `round` mask.
    public func branch(_ kind: ControlKind, round: Int, index: Int) -> TrialSpec {
        var child = self
        child.controls = []
        child.branch = Branch(kind: kind, parentTrial: trialID, parentRound: round, index: index)
        return child
    }
}

/// Deterministic seed derivation: independent streams from one base seed.
public enum Seed {
    /// A non-negative seed for the stream `name` of `base` (SplitMix64 finaliser over base ⊕ FNV-1a(name)).
    public static func derive(_ base: Int, _ name: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        var generator = SplitMix64(seed: UInt64(bitPattern: Int64(base)) ^ hash)
        return Int(generator.next() >> 1)
    }
}
