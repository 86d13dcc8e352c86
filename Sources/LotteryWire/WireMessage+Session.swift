extension WireMessage {
    /// A dataset a worker holds or needs: its name and the hex SHA-256 of its bytes as the coordinator serves them.
    public struct DatasetRef: Codable, Sendable, Hashable {
        /// Dataset id, e.g. `mnist` (the trial spec's `dataset`).
        public var id: String
        /// Lower-case hex SHA-256 of the dataset bytes; a cached copy is valid only if it has the same.
        public var checksum: String

        public init(id: String, checksum: String) {
            self.id = id
            self.checksum = checksum
        }

        func validate(_ field: String) throws(WireError) {
            try Check.nonEmpty(id, "\(field).id")
            try Check.nonEmpty(checksum, "\(field).checksum")
        }
    }

    /// Where a running trial is: sent in HEARTBEAT (and HELLO after a reconnect).
    public struct TrialProgress: Codable, Sendable, Hashable {
        public var taskID: Int
        public var trialID: String
        /// IMP round being trained (0 = dense).
        public var round: Int
        /// Training iteration within that round.
        public var iteration: Int

        public init(taskID: Int, trialID: String, round: Int, iteration: Int) {
            self.taskID = taskID
            self.trialID = trialID
            self.round = round
            self.iteration = iteration
        }

        enum CodingKeys: String, CodingKey {
            case taskID = "task_id"
            case trialID = "trial_id"
            case round, iteration
        }

        func validate(_ field: String) throws(WireError) {
            try Check.nonNegative(taskID, "\(field).task_id")
            try Check.nonEmpty(trialID, "\(field).trial_id")
            try Check.nonNegative(round, "\(field).round")
            try Check.nonNegative(iteration, "\(field).iteration")
        }
    }

    /// HELLO, worker → coordinator: the first message on every (re)connection.
    ///
    /// The protocol version is the header's (every message carries it), so it is not repeated here.
    public struct Hello: Codable, Sendable, Hashable {
        /// Worker name for people (`--name`, default the host name); several processes may share it.
        public var workerName: String
        /// Host name, for progress and logs.
        public var host: String
        /// Unique per worker process start (e.g. random hex): the worker's identity. Names may repeat; a new
        /// instance under a known name is another worker process (docs/protocol.md, HELLO).
        public var instanceID: String
        /// Hardware cores of the host.
        public var cores: Int
        /// Trials this worker runs at once (each single-threaded).
        public var slots: Int
        /// The worker's CPU kind (e.g. `/proc/cpuinfo` model name plus a hash of its flags): results are
        /// bit-identical only between equal CPU kinds and builds.
        public var cpuKind: String
        /// Identifier of the worker's build (version + commit); compared with the coordinator's for reproducibility.
        public var buildID: String
        /// Datasets the worker has cached, with their checksums.
        public var datasets: [DatasetRef]
        /// Trials still running in this process (non-empty only after a reconnect), so they are not reassigned.
        public var running: [TrialProgress]

        public init(
            workerName: String, host: String, instanceID: String, cores: Int, slots: Int, cpuKind: String,
            buildID: String, datasets: [DatasetRef] = [], running: [TrialProgress] = []
        ) {
            self.workerName = workerName
            self.host = host
            self.instanceID = instanceID
            self.cores = cores
            self.slots = slots
            self.cpuKind = cpuKind
            self.buildID = buildID
            self.datasets = datasets
            self.running = running
        }

        enum CodingKeys: String, CodingKey {
            case workerName = "worker_name"
            case host
            case instanceID = "instance_id"
            case cores, slots
            case cpuKind = "cpu_kind"
            case buildID = "build_id"
            case datasets, running
        }
    }

    /// READY, worker → coordinator: credit for tasks.
    ///
    /// `credit` is absolute (free slots now), not an increment, so a lost or repeated READY does no harm.
    /// The coordinator sends at most `credit` TASKs until the next READY.
    public struct Ready: Codable, Sendable, Hashable {
        public var credit: Int

        public init(credit: Int) { self.credit = credit }
    }

    /// HEARTBEAT, both ways: "I am alive". The worker's lists its running trials; the coordinator's is empty.
    public struct Heartbeat: Codable, Sendable, Hashable {
        public var progress: [TrialProgress]

        public init(progress: [TrialProgress] = []) { self.progress = progress }
    }

    /// Why the coordinator refused a message.
    public enum RejectCode: String, Codable, Sendable, Hashable, CaseIterable {
        /// The peer's protocol version is not supported; the worker must exit (upgrade needed).
        case versionMismatch = "version_mismatch"
        /// A message other than HELLO from a peer that has not said HELLO (e.g. after a coordinator
        /// restart): the worker must send HELLO again.
        case unknownWorker = "unknown_worker"
        /// The frames did not decode (``WireError``); the text says why.
        case badMessage = "bad_message"
        /// A valid message in the wrong direction or state (e.g. a TASK sent by a worker).
        case unexpectedMessage = "unexpected_message"
        /// A result, done or failure for a task this worker does not hold (cancelled or reassigned).
        case unknownTask = "unknown_task"
        /// A DATA_REQUEST for a dataset the coordinator does not serve, or out of its bounds.
        case unknownDataset = "unknown_dataset"
        /// HELLO refused by policy (no CURVE identity, no slots…). A repeated worker name is not refused.
        case refused
    }

    /// REJECT, coordinator → worker: the message just received was refused.
    public struct Reject: Codable, Sendable, Hashable {
        public var code: RejectCode
        /// Human text: what was wrong and what to do.
        public var message: String
        /// Protocol versions the coordinator speaks (so a version-mismatched worker can say which it needs).
        public var minVersion: UInt16
        public var maxVersion: UInt16

        public init(
            code: RejectCode, message: String, minVersion: UInt16 = Wire.supportedVersions.lowerBound,
            maxVersion: UInt16 = Wire.supportedVersions.upperBound
        ) {
            self.code = code
            self.message = message
            self.minVersion = minVersion
            self.maxVersion = maxVersion
        }

        /// The REJECT a coordinator sends for a message that did not decode.
        public init(_ error: WireError) {
            self.init(code: error.rejectCode, message: error.description)
        }

        /// The protocol-version negotiation's answer to a peer whose header says `peerVersion`: `version_mismatch`,
        /// naming both versions, with `supported` as `min_version`/`max_version`. Sent in the coordinator's own
        /// version: the peer cannot decode it, but reads that version from its header (docs/protocol.md, "Versions").
        public static func versionMismatch(
            peerVersion: UInt16, supported: ClosedRange<UInt16> = Wire.supportedVersions
        ) -> Self {
            Self(
                code: .versionMismatch,
                message: "this coordinator speaks protocol version \(Wire.describe(supported)), the worker speaks "
                    + "\(peerVersion): run the same LotteryTickets release on coordinator and workers",
                minVersion: supported.lowerBound, maxVersion: supported.upperBound)
        }

        enum CodingKeys: String, CodingKey {
            case code, message
            case minVersion = "min_version"
            case maxVersion = "max_version"
        }
    }

    /// What SHUTDOWN asks of a worker.
    public enum ShutdownMode: String, Codable, Sendable, Hashable, CaseIterable {
        /// The sweep is over: no more tasks will come. Exit once running trials (normally none) are done and
        /// their results acknowledged.
        case finish
        /// The coordinator is stopping: finish the round in progress, send its result, wait for the ACKs,
        /// send GIVE_BACK for the unfinished trials, and exit.
        case drain
    }

    /// SHUTDOWN, coordinator → worker.
    public struct Shutdown: Codable, Sendable, Hashable {
        public var mode: ShutdownMode
        /// Human text for the worker's log.
        public var reason: String

        public init(mode: ShutdownMode, reason: String) {
            self.mode = mode
            self.reason = reason
        }
    }
}

extension WireMessage.Hello: WireBody {
    static var type: MessageType { .hello }

    func validate() throws(WireError) {
        try Check.nonEmpty(workerName, "message.worker_name")
        try Check.nonEmpty(instanceID, "message.instance_id")
        try Check.atLeast(cores, 1, "message.cores")
        try Check.atLeast(slots, 1, "message.slots")
        for (index, dataset) in datasets.enumerated() { try dataset.validate("message.datasets[\(index)]") }
        for (index, trial) in running.enumerated() { try trial.validate("message.running[\(index)]") }
    }
}

extension WireMessage.Ready: WireBody {
    static var type: MessageType { .ready }

    func validate() throws(WireError) {
        try Check.nonNegative(credit, "message.credit")
    }
}

extension WireMessage.Heartbeat: WireBody {
    static var type: MessageType { .heartbeat }

    func validate() throws(WireError) {
        for (index, trial) in progress.enumerated() { try trial.validate("message.progress[\(index)]") }
    }
}

extension WireMessage.Reject: WireBody {
    static var type: MessageType { .reject }

    func validate() throws(WireError) {
        guard minVersion <= maxVersion else {
            throw WireError(
                .outOfRange(field: "message.min_version", detail: "is \(minVersion), above max_version \(maxVersion)"))
        }
    }
}

extension WireMessage.Shutdown: WireBody {
    static var type: MessageType { .shutdown }

    func validate() throws(WireError) {}
}

/// Range checks shared by the bodies' `validate()`.
enum Check {
    static func nonNegative(_ value: Int, _ field: String) throws(WireError) {
        guard value >= 0 else { throw WireError(.outOfRange(field: field, detail: "is \(value), must be ≥ 0")) }
    }

    static func atLeast(_ value: Int, _ minimum: Int, _ field: String) throws(WireError) {
        guard value >= minimum else {
            throw WireError(.outOfRange(field: field, detail: "is \(value), must be ≥ \(minimum)"))
        }
    }

    static func nonEmpty(_ value: String, _ field: String) throws(WireError) {
        guard !value.isEmpty else { throw WireError(.outOfRange(field: field, detail: "is empty")) }
    }
}
