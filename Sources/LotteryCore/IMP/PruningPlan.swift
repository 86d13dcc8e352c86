/// The density ladder of a trial: how many kernel weights each round keeps, and which round is the last.
///
/// Because pruning counts depend only on the counts (``Pruning/removalCount(rate:remaining:)``), never on the
/// weight values, the whole ladder is known before any training: per layer for `layerwise-magnitude` and
/// `random`, in total for `global-magnitude` (whose per-layer split depends on the weights). The plan gives
/// the trial's length for ETAs and catches a `prune.target_density` that pruning can never reach.
public struct PruningPlan: Sendable, Hashable {
    /// Kernel weight count per layer (`rows × cols` of each `[in, out]` kernel).
    public let layerSizes: [Int]
    /// Kept kernel weights in total at each round `0...lastRound` (round 0 is dense).
    public let keptTotals: [Int]
    /// Kept kernel weights per layer at each round, or `nil` for `global-magnitude`.
    public let keptPerLayer: [[Int]]?

    /// The last round the trial trains (0 = dense only).
    public var lastRound: Int { keptTotals.count - 1 }
    /// All kernel weights.
    public var totalWeights: Int { layerSizes.reduce(0, +) }

    /// Total kernel density at `round`.
    public func density(round: Int) -> Double { Double(keptTotals[round]) / Double(totalWeights) }

    /// The plan of `spec` for a network whose weight layers have `layerSizes` kernel weights.
    ///
    /// - Parameters:
    ///   - spec: the trial (`prune.strategy`, resolved rates, `prune.rounds` or `prune.target_density`).
    ///   - layerSizes: kernel weights per layer, input to output.
    /// - Throws: ``SpecError`` for `prune.rates` whose count does not match the layers, or for a
    ///   `prune.target_density` the ladder never reaches (pruning stalls because rounding removes nothing).
    public init(spec: TrialSpec, layerSizes: [Int]) throws(SpecError) {
        self.layerSizes = layerSizes
        let rates = spec.resolvedRates
        let global = spec.prune.strategy == .globalMagnitude
        if !global && rates.count != layerSizes.count {
            throw SpecError(
                key: "prune.rates",
                message: "\(rates.count) rates for \(layerSizes.count) weight layers; give one per layer")
        }
        let total = layerSizes.reduce(0, +)
        var perLayer = [layerSizes]
        var totals = [total]
        func step() -> Bool {
            let last = totals[totals.count - 1]
            let next: Int
            if global {
                next = last - Pruning.removalCount(rate: rates[0], remaining: last)
            } else {
                let layers = Pruning.keptAfterRound(kept: perLayer[perLayer.count - 1], rates: rates)
                perLayer.append(layers)
                next = layers.reduce(0, +)
            }
            totals.append(next)
            return next < last
        }
        if let target = spec.prune.targetDensity {
            while Double(totals[totals.count - 1]) / Double(total) > target {
                if !step() {
                    let reached = Double(totals[totals.count - 1]) / Double(total)
                    throw SpecError(
                        key: "prune.target_density",
                        message:
                            "\(target) is never reached: with prune.rates \(rates) rounding stops removing weights at density \(reached) (round \(totals.count - 2)); set a target above that or raise the rates"
                    )
                }
            }
        } else {
            for _ in 0..<spec.prune.rounds { _ = step() }
        }
        if !global && perLayer.count > totals.count { perLayer.removeLast(perLayer.count - totals.count) }
        keptTotals = totals
        keptPerLayer = global ? nil : perLayer
    }
}
