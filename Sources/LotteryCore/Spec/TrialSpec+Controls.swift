extension TrialSpec {
    /// The spec without control branches (`controls: []`, `controls_seeds: 1`): what the trial itself trains.
    ///
    /// `controls` and `controls_seeds` say which branch trials run beside a trial, not how the trial trains (a
    /// branch's own computation depends on neither: docs/imp.md, "Control branches"), yet they are part of its id
    /// (``trialID``; every published id has them). Two top-level specs with equal `withoutControls` train the same
    /// rounds, bit for bit.
    public var withoutControls: TrialSpec {
        var spec = self
        spec.controls = []
        spec.controlsSeeds = 1
        return spec
    }

    /// Whether this top-level spec is `registered` with control branches added: it trains the same rounds
    /// (``withoutControls`` equal), keeps every control kind `registered` has and at least as many seeds of them, and
    /// asks for more (another kind, or more `controls_seeds`). Extending a sweep this way reuses the registered
    /// trial under its own id and runs only the new branches (docs/results.md, "Extending a sweep").
    public func addsControls(to registered: TrialSpec) -> Bool {
        guard branch == nil, registered.branch == nil, self != registered else { return false }
        guard withoutControls.canonicalText == registered.withoutControls.canonicalText else { return false }
        guard Set(controls).isSuperset(of: registered.controls) else { return false }
        if !registered.controls.isEmpty && controlsSeeds < registered.controlsSeeds { return false }
        return Set(controls) != Set(registered.controls) || controlsSeeds > registered.controlsSeeds
    }
}
