/// What runs one trial round by round: the real ``IMPRunner``, or ``SyntheticRunner`` for scheduler benchmarks.
///
/// A worker drives either through this one interface, so the round streaming, cancellation and mask encoding
/// around it exist once.
public protocol TrialRunner {
    /// Runs rounds `startRound...` (the previous round's `nextMask` as `startMask` when resuming), calling `onRound`
    /// after each. `progress` may throw to stop at once.
    func run(
        startRound: Int, startMask: [LayerMask]?, progress: ((IMPProgress) throws -> Void)?,
        onRound: (RoundOutcome) throws -> Void
    ) throws

    /// Runs one control branch (`spec.branch` set) on its parent's mask; its only round is numbered 0.
    func runBranch(spec: TrialSpec, mask: [LayerMask], progress: ((IMPProgress) throws -> Void)?) throws -> RoundOutcome
}

extension IMPRunner: TrialRunner {}
extension SyntheticRunner: TrialRunner {}
