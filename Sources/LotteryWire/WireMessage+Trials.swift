public import LotteryCore

extension WireMessage {
    /// TASK, coordinator → worker: run one trial from `startRound` to its last round.
    ///
    /// Masks are MaskFile containers (MaskCodec), opaque to the wire; the worker decodes them. A resumed trial
    /// is fully determined by its spec and the mask it resumes with (DESIGN.md, "streamed masks double as
    /// checkpoints"), so `resumeMask` must be self-contained (not a delta against a mask the worker lacks).
    public struct TaskAssignment: Codable, Sendable, Hashable {
        /// Coordinator-assigned id of this assignment (a trial reassigned after a worker died gets a new one).
        public var taskID: Int
        /// The trial's id, normally `spec.trialID`.
        public var trialID: String
        public var spec: TrialSpec
        /// First round to train: 0 for a fresh trial, r > 0 to resume after round r−1 was recorded.
        public var startRound: Int
        /// The dataset to train on; the worker fetches it with DATA_REQUEST unless it has this checksum cached.
        public var dataset: DatasetRef
        /// Blob `resume_mask`: the mask round `startRound` trains with (the `next_mask` of round
        /// `startRound − 1`). Present exactly when `startRound > 0`.
        public var resumeMask: [UInt8]?
        /// Blob `parent_mask`: for a branch trial (`spec.branch` set), the parent trial's mask of
        /// `spec.branch.parentRound`, which the branch trains. Present exactly when `spec.branch` is set.
        public var parentMask: [UInt8]?

        public init(
            taskID: Int, trialID: String, spec: TrialSpec, startRound: Int = 0, dataset: DatasetRef,
            resumeMask: [UInt8]? = nil, parentMask: [UInt8]? = nil
        ) {
            self.taskID = taskID
            self.trialID = trialID
            self.spec = spec
            self.startRound = startRound
            self.dataset = dataset
            self.resumeMask = resumeMask
            self.parentMask = parentMask
        }

        enum CodingKeys: String, CodingKey {
            case taskID = "task_id"
            case trialID = "trial_id"
            case spec
            case startRound = "start_round"
            case dataset
        }

        // Hand-written so that the spec goes through the wire's own schema (``WireSpec``), not LotteryCore's keys.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            taskID = try container.decode(Int.self, forKey: .taskID)
            trialID = try container.decode(String.self, forKey: .trialID)
            spec = try container.decode(WireSpec.self, forKey: .spec).spec
            startRound = try container.decode(Int.self, forKey: .startRound)
            dataset = try container.decode(DatasetRef.self, forKey: .dataset)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(taskID, forKey: .taskID)
            try container.encode(trialID, forKey: .trialID)
            try container.encode(WireSpec(spec), forKey: .spec)
            try container.encode(startRound, forKey: .startRound)
            try container.encode(dataset, forKey: .dataset)
        }
    }

    /// ROUND_RESULT, worker → coordinator: one IMP round of one trial, finished.
    ///
    /// The worker keeps it until an ACK for (trial, round) arrives, and resends it after a reconnect.
    public struct RoundResult: Codable, Sendable, Hashable {
        public var taskID: Int
        /// Metrics of the round, including its learning curve and layer summaries; carries trial id and round.
        public var metrics: RoundMetrics
        /// Blob `mask`: the mask this round trained with (MaskFile bytes), always present.
        public var mask: [UInt8]
        /// Blob `next_mask`: the mask the next round will train with, pruned from this round's weights;
        /// absent after the last round. It is what a resumed trial needs (see ``TaskAssignment/resumeMask``).
        public var nextMask: [UInt8]?
        /// When `mask` is delta-coded: the MaskCodec checksum of its parent (the previous round's mask), as
        /// recorded in the MaskFile header; `nil` for a self-contained file.
        public var maskParent: UInt64?
        /// The same for `nextMask` (whose parent is normally `mask`).
        public var nextMaskParent: UInt64?

        public var trialID: String { metrics.trialID }
        public var round: Int { metrics.round }

        public init(
            taskID: Int, metrics: RoundMetrics, mask: [UInt8], nextMask: [UInt8]? = nil, maskParent: UInt64? = nil,
            nextMaskParent: UInt64? = nil
        ) {
            self.taskID = taskID
            self.metrics = metrics
            self.mask = mask
            self.nextMask = nextMask
            self.maskParent = maskParent
            self.nextMaskParent = nextMaskParent
        }

        enum CodingKeys: String, CodingKey {
            case taskID = "task_id"
            case metrics
            case maskParent = "mask_parent"
            case nextMaskParent = "next_mask_parent"
        }

        // Hand-written to send the 64-bit checksums as 16 hex digits (JSON numbers above 2^53 lose precision in many
        // readers: Python's is fine, JavaScript's and jq's are not), and the metrics through the wire's own schema
        // (``WireMetrics``), not LotteryCore's keys.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            taskID = try container.decode(Int.self, forKey: .taskID)
            metrics = try container.decode(WireMetrics.self, forKey: .metrics).metrics
            mask = []
            maskParent = try Hex64.decode(container, .maskParent)
            nextMaskParent = try Hex64.decode(container, .nextMaskParent)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(taskID, forKey: .taskID)
            try container.encode(WireMetrics(metrics), forKey: .metrics)
            try container.encodeIfPresent(maskParent.map(Hex64.text), forKey: .maskParent)
            try container.encodeIfPresent(nextMaskParent.map(Hex64.text), forKey: .nextMaskParent)
        }
    }

    /// What the coordinator did with a round result.
    public enum AckStatus: String, Codable, Sendable, Hashable, CaseIterable {
        /// Committed to the results database (mask file and rows) just now.
        case recorded
        /// Already recorded earlier (a resend after reconnect, or a second worker on a reassigned trial); dropped.
        case duplicate
    }

    /// ACK, coordinator → worker: the result of (trial, round) is durable; the worker may forget it.
    public struct Ack: Codable, Sendable, Hashable {
        public var taskID: Int
        public var trialID: String
        public var round: Int
        public var status: AckStatus

        public init(taskID: Int, trialID: String, round: Int, status: AckStatus = .recorded) {
            self.taskID = taskID
            self.trialID = trialID
            self.round = round
            self.status = status
        }

        enum CodingKeys: String, CodingKey {
            case taskID = "task_id"
            case trialID = "trial_id"
            case round, status
        }
    }

    /// TRIAL_DONE, worker → coordinator: the trial's last round was sent; its slot is free.
    public struct TrialDone: Codable, Sendable, Hashable {
        public var taskID: Int
        public var trialID: String
        /// The last round trained (the coordinator checks that every round up to it is recorded).
        public var lastRound: Int

        public init(taskID: Int, trialID: String, lastRound: Int) {
            self.taskID = taskID
            self.trialID = trialID
            self.lastRound = lastRound
        }

        enum CodingKeys: String, CodingKey {
            case taskID = "task_id"
            case trialID = "trial_id"
            case lastRound = "last_round"
        }
    }

    /// TRIAL_FAILED, worker → coordinator: the trial stopped with an error; its slot is free.
    public struct TrialFailed: Codable, Sendable, Hashable {
        public var taskID: Int
        public var trialID: String
        /// The round that failed, if training had started.
        public var round: Int?
        /// Human text: what failed and where.
        public var error: String

        public init(taskID: Int, trialID: String, round: Int? = nil, error: String) {
            self.taskID = taskID
            self.trialID = trialID
            self.round = round
            self.error = error
        }

        enum CodingKeys: String, CodingKey {
            case taskID = "task_id"
            case trialID = "trial_id"
            case round, error
        }
    }

    /// One trial returned by GIVE_BACK.
    public struct ReturnedTrial: Codable, Sendable, Hashable {
        public var taskID: Int
        public var trialID: String
        /// The last round whose result this worker sent, `nil` if none: the trial resumes after it.
        public var lastRound: Int?

        public init(taskID: Int, trialID: String, lastRound: Int?) {
            self.taskID = taskID
            self.trialID = trialID
            self.lastRound = lastRound
        }

        enum CodingKeys: String, CodingKey {
            case taskID = "task_id"
            case trialID = "trial_id"
            case lastRound = "last_round"
        }
    }

    /// GIVE_BACK, worker → coordinator: the worker is shutting down and will not finish these trials.
    public struct GiveBack: Codable, Sendable, Hashable {
        public var trials: [ReturnedTrial]
        /// Human text (e.g. "SIGTERM", "drain requested").
        public var reason: String

        public init(trials: [ReturnedTrial], reason: String) {
            self.trials = trials
            self.reason = reason
        }
    }

    /// CANCEL, coordinator → worker: stop this task and free its slot; do not send its results.
    public struct Cancel: Codable, Sendable, Hashable {
        public var taskID: Int
        public var trialID: String
        /// Human text (e.g. "reassigned after missed heartbeats").
        public var reason: String

        public init(taskID: Int, trialID: String, reason: String) {
            self.taskID = taskID
            self.trialID = trialID
            self.reason = reason
        }

        enum CodingKeys: String, CodingKey {
            case taskID = "task_id"
            case trialID = "trial_id"
            case reason
        }
    }
}

extension WireMessage.TaskAssignment: WireBody {
    static var type: MessageType { .task }
    static var blobRoles: [BlobRole] { [.resumeMask, .parentMask] }

    func blob(_ role: BlobRole) -> [UInt8]? {
        switch role {
        case .resumeMask: return resumeMask
        case .parentMask: return parentMask
        default: return nil
        }
    }

    mutating func attach(_ role: BlobRole, _ bytes: [UInt8]) {
        switch role {
        case .resumeMask: resumeMask = bytes
        case .parentMask: parentMask = bytes
        default: break
        }
    }

    func validate() throws(WireError) {
        try Check.nonNegative(taskID, "message.task_id")
        try Check.nonEmpty(trialID, "message.trial_id")
        try Check.nonNegative(startRound, "message.start_round")
        try dataset.validate("message.dataset")
        try Self.check(spec)
        if startRound > 0, resumeMask == nil {
            throw WireError(.badManifest(detail: "start_round \(startRound) needs a 'resume_mask' blob"))
        }
        if startRound == 0, resumeMask != nil {
            throw WireError(.badManifest(detail: "start_round 0 takes no 'resume_mask' blob"))
        }
        if spec.branch != nil, parentMask == nil {
            throw WireError(.badManifest(detail: "a branch trial needs a 'parent_mask' blob"))
        }
        if spec.branch == nil, parentMask != nil {
            throw WireError(.badManifest(detail: "'parent_mask' blob on a trial that is not a branch"))
        }
    }
}

extension WireMessage.TaskAssignment {
    /// A spec from JSON skipped the per-key checks of `TrialSpec.set(_:to:)` (batch ≥ 1, lr > 0, rates in
    /// [0, 1), …), and the training core treats bad shapes as programmer errors (preconditions). So every key is
    /// re-applied to a scratch copy, then the cross-key `validate()` runs: a bad spec fails here, as a
    /// `WireError`, and never reaches the trainer.
    static func check(_ spec: TrialSpec) throws(WireError) {
        do throws(SpecError) {
            try spec.validate()
            var scratch = spec
            for column in spec.canonicalColumns { try scratch.set(column.key, to: column.value) }
        } catch {
            let field = error.key.isEmpty ? "message.spec" : "message.spec.\(error.key)"
            throw WireError(.outOfRange(field: field, detail: error.message))
        }
    }
}

extension WireMessage.RoundResult: WireBody {
    static var type: MessageType { .roundResult }
    static var blobRoles: [BlobRole] { [.mask, .nextMask] }
    static var requiredRoles: [BlobRole] { [.mask] }

    func blob(_ role: BlobRole) -> [UInt8]? {
        switch role {
        case .mask: return mask
        case .nextMask: return nextMask
        default: return nil
        }
    }

    mutating func attach(_ role: BlobRole, _ bytes: [UInt8]) {
        switch role {
        case .mask: mask = bytes
        case .nextMask: nextMask = bytes
        default: break
        }
    }

    func validate() throws(WireError) {
        try Check.nonNegative(taskID, "message.task_id")
        try Check.nonEmpty(metrics.trialID, "message.metrics.trial_id")
        try Check.nonNegative(metrics.round, "message.metrics.round")
        try Check.nonNegative(metrics.earlyStopIteration, "message.metrics.early_stop_iteration")
        guard metrics.layerDensities.count == metrics.keptCounts.count else {
            throw WireError(
                .outOfRange(
                    field: "message.metrics.layer_densities",
                    detail: "has \(metrics.layerDensities.count) layers but kept_counts has \(metrics.keptCounts.count)"
                ))
        }
        for (index, count) in metrics.keptCounts.enumerated() {
            try Check.nonNegative(count, "message.metrics.kept_counts[\(index)]")
        }
        for (index, point) in metrics.curve.enumerated() {
            try Check.nonNegative(point.iteration, "message.metrics.curve[\(index)].iteration")
        }
        if nextMaskParent != nil, nextMask == nil {
            throw WireError(
                .outOfRange(field: "message.next_mask_parent", detail: "is set but there is no 'next_mask' blob"))
        }
    }
}

extension WireMessage.Ack: WireBody {
    static var type: MessageType { .ack }

    func validate() throws(WireError) {
        try Check.nonNegative(taskID, "message.task_id")
        try Check.nonEmpty(trialID, "message.trial_id")
        try Check.nonNegative(round, "message.round")
    }
}

extension WireMessage.TrialDone: WireBody {
    static var type: MessageType { .trialDone }

    func validate() throws(WireError) {
        try Check.nonNegative(taskID, "message.task_id")
        try Check.nonEmpty(trialID, "message.trial_id")
        try Check.nonNegative(lastRound, "message.last_round")
    }
}

extension WireMessage.TrialFailed: WireBody {
    static var type: MessageType { .trialFailed }

    func validate() throws(WireError) {
        try Check.nonNegative(taskID, "message.task_id")
        try Check.nonEmpty(trialID, "message.trial_id")
        if let round { try Check.nonNegative(round, "message.round") }
    }
}

extension WireMessage.GiveBack: WireBody {
    static var type: MessageType { .giveBack }

    func validate() throws(WireError) {
        for (index, trial) in trials.enumerated() {
            try Check.nonNegative(trial.taskID, "message.trials[\(index)].task_id")
            try Check.nonEmpty(trial.trialID, "message.trials[\(index)].trial_id")
            if let round = trial.lastRound { try Check.nonNegative(round, "message.trials[\(index)].last_round") }
        }
    }
}

extension WireMessage.Cancel: WireBody {
    static var type: MessageType { .cancel }

    func validate() throws(WireError) {
        try Check.nonNegative(taskID, "message.task_id")
        try Check.nonEmpty(trialID, "message.trial_id")
    }
}

/// 64-bit checksums as exactly 16 lower-case hex digits in JSON.
enum Hex64 {
    static func text(_ value: UInt64) -> String {
        String(value, radix: 16).leftPadded(to: 16)
    }

    static func decode<Key: CodingKey>(_ container: KeyedDecodingContainer<Key>, _ key: Key) throws -> UInt64? {
        guard let text = try container.decodeIfPresent(String.self, forKey: key) else { return nil }
        guard text.utf8.count == 16, text.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }),
            let value = UInt64(text, radix: 16)
        else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: container, debugDescription: "'\(text.prefix(40))' is not 16 lower-case hex digits")
        }
        return value
    }
}
