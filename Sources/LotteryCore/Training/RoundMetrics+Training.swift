extension RoundMetrics {
    /// The metrics of one round from its training run.
    ///
    /// - Parameters:
    ///   - initial: the model as the round started (after reinit, masks applied): sign/magnitude "at init".
    ///   - trained: the model after ``Trainer/train(_:snapshotAt:progress:)``; gives the masks and "after" stats.
    ///   - run: the training run's curve and accuracies.
    public init(trialID: String, round: Int, initial: MLP, trained: MLP, run: TrainingRun) {
        precondition(initial.architecture == trained.architecture, "RoundMetrics: initial and trained models differ in shape")
        let kept = trained.keptCounts
        let sizes = trained.layers.map(\.weight.count)
        let layers = trained.layers.indices.map { l in
            LayerSummary(initial: initial.layers[l], trained: trained.layers[l])
        }
        self.init(
            trialID: trialID, round: round, density: trained.density,
            layerDensities: zip(kept, sizes).map { Double($0) / Double(max($1, 1)) }, keptCounts: kept,
            earlyStopIteration: run.earlyStop.iteration, valLossAtES: run.earlyStop.valLoss,
            valAccAtES: run.earlyStop.valAcc,
            testAccAtES: run.earlyStop.testAcc, testAccFinal: run.finalTestAccuracy,
            trainAccFinal: run.finalTrainAccuracy,
            seconds: run.seconds, curve: run.curve, layers: layers)
    }
}

extension LayerSummary {
    /// Sign and magnitude statistics of a layer's kept weights before and after a round (trained layer's mask).
    public init(initial: DenseLayer, trained: DenseLayer) {
        var kept = 0, positiveBefore = 0, positiveAfter = 0
        var absBefore = 0.0, absAfter = 0.0
        for i in 0..<trained.mask.count where trained.mask.data[i] != 0 {
            kept += 1
            let before = initial.weight.data[i], after = trained.weight.data[i]
            if before > 0 { positiveBefore += 1 }
            if after > 0 { positiveAfter += 1 }
            absBefore += Double(abs(before))
            absAfter += Double(abs(after))
        }
        let n = Double(max(kept, 1))
        self.init(
            positiveAtInit: Double(positiveBefore) / n, positiveAfter: Double(positiveAfter) / n,
            meanAbsAtInit: absBefore / n, meanAbsAfter: absAfter / n)
    }
}
