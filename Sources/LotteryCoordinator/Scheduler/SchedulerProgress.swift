import LotteryCore

/// Counts for the progress display: trials by state, rounds, workers.
public struct SchedulerProgress: Sendable, Hashable {
    public var trialsDone = 0
    public var trialsRunning = 0
    public var trialsQueued = 0
    public var trialsFailed = 0
    /// Rounds recorded so far (all trials, branches included).
    public var roundsDone = 0
    /// Rounds the sweep is expected to record in all: actual counts for trials that ended, estimates
    /// (``RoundEstimate``) for the rest, branch trials not yet created included.
    public var roundsExpected = 0
    public var workersAlive = 0
    /// Slots of live workers.
    public var slotsAlive = 0

    public init() {}

    /// Trials known so far (branch trials appear as their parents' rounds are recorded).
    public var trialsKnown: Int { trialsDone + trialsRunning + trialsQueued + trialsFailed }
    public var roundsRemaining: Int { max(roundsExpected - roundsDone, 0) }
}

extension SchedulerStateMachine {
    /// Current counts for the progress line.
    public var progress: SchedulerProgress {
        var progress = SchedulerProgress()
        for trial in trials.values {
            switch trial.state {
            case .done: progress.trialsDone += 1
            case .running: progress.trialsRunning += 1
            case .queued: progress.trialsQueued += 1
            case .failed: progress.trialsFailed += 1
            }
            let recorded = trial.nextRound
            progress.roundsDone += recorded
            let estimate = trial.state.isTerminal ? recorded : max(RoundEstimate.rounds(of: trial.spec), recorded + 1)
            progress.roundsExpected += estimate
            if trial.spec.branch == nil, !trial.state.isTerminal, trial.spec.prune.schedule == .oneshot,
                trial.lastRecordedRound == nil
            {
                progress.roundsExpected += RoundEstimate.oneShotDensities(of: trial.spec)  // branches of round 0
            }
            let perRound = RoundEstimate.branchesPerRound(of: trial.spec, adding: addedControls[trial.id])
            if trial.spec.branch == nil, !trial.state.isTerminal, perRound > 0 {
                // Branches of rounds not yet recorded (rounds 1…estimate−1 minus those recorded).
                let future = max(estimate - 1 - max(trial.lastRecordedRound ?? 0, 0), 0)
                progress.roundsExpected += future * perRound
            }
        }
        for worker in workers.values where worker.alive {
            progress.workersAlive += 1
            progress.slotsAlive += worker.slots
        }
        return progress
    }

    /// Ids of queued trials in the order they will be handed out (branches first).
    public var queuedTrialIDs: [String] {
        (branchQueue + topQueue).filter { trials[$0]?.state == .queued }
    }
}

/// Estimates time to completion from the recent rate of recorded rounds.
///
/// Feed it `(now, roundsDone)` samples (e.g. once per progress refresh); it keeps those within
/// ``window`` seconds and divides the remaining rounds by the rounds per second over that span.
public struct ETAEstimator: Sendable {
    /// Seconds of history used for the rate.
    public var window: Double
    var samples: [(time: Double, rounds: Int)] = []

    public init(window: Double = 600) {
        precondition(window > 0, "ETA window must be positive")
        self.window = window
    }

    /// Adds a sample; `now` must not go backwards.
    public mutating func record(roundsDone: Int, now: Double) {
        samples.append((now, roundsDone))
        // Keep one sample at or before the window start so the span covers the whole window.
        while samples.count > 2, samples[1].time <= now - window { samples.removeFirst() }
    }

    /// Rounds per second over the window, or `nil` until rounds have been recorded across some time.
    public var roundsPerSecond: Double? {
        guard let first = samples.first, let last = samples.last, last.time > first.time, last.rounds > first.rounds
        else {
            return nil
        }
        return Double(last.rounds - first.rounds) / (last.time - first.time)
    }

    /// Seconds until `roundsRemaining` more rounds are recorded at the current rate, or `nil` if unknown.
    public func secondsRemaining(roundsRemaining: Int) -> Double? {
        if roundsRemaining <= 0 { return 0 }
        guard let rate = roundsPerSecond else { return nil }
        return Double(roundsRemaining) / rate
    }
}
