/// Supermask accuracy (Zhou et al. 2019, "Deconstructing Lottery Tickets", §5): how well a pruning mask classifies
/// when applied to the *untrained* initial weights, with no training at all.
///
/// Two evaluations per round, on the test set, with ``Trainer/evaluate(_:on:kernels:)``:
/// - **init**: the mask on θ₀ (kept kernel weights θ₀'s, pruned ones 0, biases θ₀'s);
/// - **signed constant**: the mask on ``Reinit/signedConstant(_:initializer:)`` of θ₀ — every kept weight
///   sign(θ₀)·σ_l, σ_l the layer's init standard deviation (sign(0) = +), as `reinit: signed-constant` starts.
///   Zhou et al.'s supermasks score highest in this form.
///
/// θ₀ is always the trial's own initialisation (``IMPRunner/initialNetwork``), whatever the reinit rule, so the
/// numbers measure the mask against the weights it was found from under `rewind`. Deterministic: no randomness,
/// a fixed summation order.
public enum Supermask {
    /// Test accuracy of `mask` on θ₀ and on its signed-constant version.
    ///
    /// - Precondition: the mask fits θ₀'s layers (checked by ``MLP/apply(masks:)``).
    public static func testAccuracies(
        mask: [LayerMask], theta0: MLP, initializer: InitScheme, test: Dataset
    ) -> (initial: Double, signedConstant: Double) {
        var initial = theta0
        initial.apply(masks: mask)
        var signed = Reinit.signedConstant(theta0, initializer: initializer)
        signed.apply(masks: mask)
        return (Trainer.evaluate(initial, on: test).accuracy, Trainer.evaluate(signed, on: test).accuracy)
    }
}

extension RoundMetrics {
    /// These metrics with the supermask accuracies of `mask` on θ₀ filled in (``Supermask``).
    func withSupermask(mask: [LayerMask], theta0: MLP, initializer: InitScheme, test: Dataset) -> RoundMetrics {
        let accuracies = Supermask.testAccuracies(mask: mask, theta0: theta0, initializer: initializer, test: test)
        var metrics = self
        metrics.supermaskTestAcc = accuracies.initial
        metrics.supermaskSignedConstantTestAcc = accuracies.signedConstant
        return metrics
    }
}
