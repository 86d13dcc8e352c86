extension TrialSpec {
    /// Number of weight (kernel) layers: hidden layers plus the output layer.
    public var weightLayerCount: Int { model.layers.count + 1 }

    /// Per-layer pruning rates with the paper's defaults filled in.
    ///
    /// `global-magnitude` uses one rate; the other strategies one per weight layer. A single rate given for a
    /// layer-wise strategy applies to every layer.
    public var resolvedRates: [Double] {
        if prune.strategy == .globalMagnitude { return [prune.rates?.first ?? 0.2] }
        guard let rates = prune.rates else {
            return Array(repeating: 0.2, count: model.layers.count) + [0.1]
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
        if prune.strategy != .globalMagnitude, let rates = prune.rates, rates.count != 1,
            rates.count != weightLayerCount
        {
            throw SpecError(
                key: "prune.rates",
                message:
                    "\(rates.count) rates given for \(weightLayerCount) weight layers (model.layers \(model.layers) plus the output layer); give one per layer or a single rate"
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
    /// Keys with a ``Key/canonicalDefault`` (added after ids were published) are left out at that value, so
    /// adding a key never changes the id of a trial that does not use it.
    public var canonicalText: String {
        var lines = Self.keys.compactMap { key -> String? in
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
