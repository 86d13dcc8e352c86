public import Foundation
public import LotteryCore

/// One accepted round result, as the coordinator hands it to ``ResultsStore/record(_:at:)``.
public struct RecordedRound: Sendable, Hashable {
    public var trialID: String
    /// IMP round, 0 = the dense round.
    public var round: Int
    /// The trial's spec (registers the trial if the store has not seen it).
    public var spec: TrialSpec
    /// What the round measured; `metrics.trialID` and `metrics.round` must equal ``trialID`` and ``round``.
    public var metrics: RoundMetrics
    /// The round's mask: an opaque, self-describing MaskCodec container, stored byte for byte.
    public var maskBytes: [UInt8]
    /// The mask the next round trains with (a self-contained MaskCodec container), kept in `rounds.next_mask` so a
    /// trial can resume at `round + 1` on another worker; `nil` after a trial's last round.
    public var nextMaskBytes: [UInt8]?
    /// Worker id and host name that ran the round.
    public var worker: String
    public var host: String

    public init(
        trialID: String, round: Int, spec: TrialSpec, metrics: RoundMetrics, maskBytes: [UInt8],
        nextMaskBytes: [UInt8]? = nil, worker: String, host: String
    ) {
        self.nextMaskBytes = nextMaskBytes
        self.trialID = trialID
        self.round = round
        self.spec = spec
        self.metrics = metrics
        self.maskBytes = maskBytes
        self.worker = worker
        self.host = host
    }
}

/// What ``ResultsStore/record(_:at:)`` did.
public enum RecordOutcome: Sendable, Hashable {
    /// The mask file and rows are committed; `maskPath` is relative to the results folder.
    case recorded(maskPath: String)
    /// This (trial, round) was already recorded; nothing was changed (exactly-once).
    case duplicate
}

/// A trial to register before the sweep starts: its id, spec and how many rounds it should produce.
public struct TrialRegistration: Sendable, Hashable {
    public var id: String
    public var spec: TrialSpec
    /// Rounds the trial should record (dense round included), or `nil` when not known in advance
    /// (for example with `prune.target_density`).
    public var expectedRounds: Int?

    public init(id: String, spec: TrialSpec, expectedRounds: Int?) {
        self.id = id
        self.spec = spec
        self.expectedRounds = expectedRounds
    }
}

/// Lifecycle state of a trial in `results.db`.
public enum TrialStatus: String, Sendable, Hashable, CaseIterable {
    case queued, running, done, failed
}

/// What a restarted coordinator needs to know to resume: per trial, its status, tries and last recorded round.
public struct RecoveredState: Sendable, Hashable {
    public struct Trial: Sendable, Hashable {
        public var id: String
        public var spec: TrialSpec
        public var status: TrialStatus
        public var tries: Int
        /// Why the trial failed (set with ``TrialStatus/failed``), or the last failure reason of a retried trial.
        public var reason: String?
        /// Highest round `r` such that rounds 0…r are all recorded; `nil` when round 0 is not recorded.
        /// A resumed trial starts at `r + 1` from the mask of round `r`.
        public var lastRecordedRound: Int?
        /// Number of recorded rounds (equals `lastRecordedRound + 1` unless rounds arrived out of order).
        public var roundsDone: Int
        public var expectedRounds: Int?
        public var worker: String?
        public var host: String?
    }

    /// Every registered trial, in registration order.
    public var trials: [Trial]

    /// `lastRecordedRound` of each trial that has recorded round 0.
    public var lastRecordedRound: [String: Int] {
        Dictionary(uniqueKeysWithValues: trials.compactMap { trial in trial.lastRecordedRound.map { (trial.id, $0) } })
    }

    public var done: Set<String> { Set(trials.filter { $0.status == .done }.map(\.id)) }

    /// Failed trials with their reasons.
    public var failed: [String: String] {
        Dictionary(uniqueKeysWithValues: trials.filter { $0.status == .failed }.map { ($0.id, $0.reason ?? "") })
    }

    public var tries: [String: Int] { Dictionary(uniqueKeysWithValues: trials.map { ($0.id, $0.tries) }) }
}

/// One row of the `events` table.
public struct StoreEvent: Sendable, Hashable {
    public var time: Date
    public var kind: String
    public var worker: String?
    public var trialID: String?
    public var message: String
}
