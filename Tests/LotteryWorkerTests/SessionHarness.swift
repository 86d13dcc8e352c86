import LotteryCore
import LotteryWire
import LotteryWorker
import Testing

/// An in-memory worker, the way swift-nio's `EmbeddedChannel` runs a handler: a ``SessionStateMachine`` fed frames,
/// trial events and ticks by the test; its actions carried out into lists the test reads. No socket, no thread, no
/// file, no clock.
///
/// Like ``Session`` it answers the I/O the machine asks for at once: a dataset is cached when it is in `cached`;
/// a download opens with `partial` bytes already there, takes chunks into `downloaded`, and installs when their
/// checksum is the task's.
struct SessionHarness {
    var machine: SessionStateMachine
    var now: Double = 0
    /// Every message sent (encoded results decoded back), in order.
    var sent: [WireMessage] = []
    var started: [Int] = []
    var cancelled: [Int] = []
    var stoppedAfterRound: [Int] = []
    var reconnects: [Int] = []
    var exit: Result<WorkerExit, WorkerError>?
    var logs: [String] = []
    var cached: Set<WireMessage.DatasetRef> = []
    var partial: [UInt8] = []
    var downloaded: [UInt8]?
    var abandoned = 0

    init(slots: Int = 1) {
        var config = WorkerConfig(endpoint: "tcp://coordinator:5555", dataDirectory: "/nonexistent")
        config.slots = slots
        config.name = "w"
        config.instanceID = "instance-w"
        config.heartbeatMilliseconds = 1000
        config.liveness = 3
        config.reconnectMinMilliseconds = 100
        config.reconnectMaxMilliseconds = 400
        config.drainAckMilliseconds = 2000
        machine = SessionStateMachine(config: config)
    }

    @discardableResult
    mutating func feed(_ event: SessionEvent) -> [SessionAction] {
        let actions = machine.event(event, now: now)
        for action in actions { execute(action) }
        return actions
    }

    /// A message from the coordinator, in `version`.
    mutating func receive(_ message: WireMessage, version: UInt16 = Wire.version) {
        var frames = try! message.encode()
        frames[0] = Wire.header(message.type, version: version)
        feed(.received(frames))
    }

    mutating func tick(at time: Double, positions: [Int: TrialPosition] = [:]) {
        now = time
        feed(.tick(positions: positions))
    }

    mutating func execute(_ action: SessionAction) {
        switch action {
        case .send(let message):
            #expect(throws: Never.self) { _ = try message.encode() }
            sent.append(message)
        case .sendEncoded(let frames):
            sent.append(try! WireMessage.decode(frames))
        case .startTrial(let task):
            started.append(task.taskID)
        case .cancelTrial(let taskID):
            cancelled.append(taskID)
        case .stopTrialAfterRound(let taskID):
            stoppedAfterRound.append(taskID)
        case .findDataset(let taskID, let ref):
            feed(cached.contains(ref) ? .datasetFound(taskID: taskID) : .datasetMissing(taskID: taskID))
        case .openDownload(let ref):
            downloaded = partial
            feed(.downloadOpened(ref, offset: partial.count))
        case .writeChunk(_, let bytes):
            downloaded! += bytes
        case .finishDownload(let ref):
            if DatasetBundle.checksum(downloaded ?? []) == ref.checksum {
                cached.insert(ref)
                downloaded = nil
                feed(.datasetInstalled(ref))
            } else {
                downloaded = nil
                abandoned += 1
                feed(.downloadFailed(ref, reason: "dataset '\(ref.id)' arrived with another SHA-256"))
            }
        case .abandonDownload:
            downloaded = nil
            abandoned += 1
        case .reconnect(let milliseconds):
            reconnects.append(milliseconds)
        case .exit(let outcome):
            #expect(exit == nil, "exit twice")
            exit = outcome
        case .log(_, let message, _):
            logs.append(message)
        }
    }

    /// Messages sent since the last look.
    mutating func take() -> [WireMessage] {
        defer { sent = [] }
        return sent
    }

    /// Connects: HELLO and READY go out.
    mutating func connect(datasets: [WireMessage.DatasetRef] = []) -> [WireMessage] {
        feed(.connected(datasets: datasets, positions: [:]))
        return take()
    }

    static var syntheticSpec: TrialSpec {
        var spec = TrialSpec()
        spec.synthetic = TrialSpec.Synthetic(roundMilliseconds: 1)
        spec.prune.rounds = 2
        return spec
    }

    static func task(_ taskID: Int, trial: String? = nil, dataset: WireMessage.DatasetRef? = nil) -> WireMessage {
        var spec = syntheticSpec
        if dataset != nil { spec.synthetic = nil }
        return .task(
            WireMessage.TaskAssignment(
                taskID: taskID, trialID: trial ?? "trial-\(taskID)", spec: spec,
                dataset: dataset ?? WireMessage.DatasetRef(id: "mnist", checksum: "synthetic")))
    }

    /// The frames a trial thread posts for one round.
    static func result(_ taskID: Int, trial: String? = nil, round: Int) -> [[UInt8]] {
        try! WireMessage.roundResult(
            WireMessage.RoundResult(
                taskID: taskID,
                metrics: RoundMetrics(
                    trialID: trial ?? "trial-\(taskID)", round: round, density: 1, layerDensities: [1], keptCounts: [4],
                    earlyStopIteration: 10, valLossAtES: 0.1, valAccAtES: 0.9, testAccAtES: 0.9, testAccFinal: 0.9,
                    trainAccFinal: 0.9, seconds: 0.1, curve: [], layers: []),
                mask: [UInt8(round), 1], nextMask: [UInt8(round), 2])
        ).encode()
    }
}

extension [WireMessage] {
    var types: [MessageType] { map(\.type) }
    var readyCredits: [Int] { compactMap { if case .ready(let ready) = $0 { ready.credit } else { nil } } }
    var resultRounds: [Int] { compactMap { if case .roundResult(let result) = $0 { result.round } else { nil } } }
    var requests: [WireMessage.DataRequest] {
        compactMap { if case .dataRequest(let request) = $0 { request } else { nil } }
    }
    var givenBack: [WireMessage.ReturnedTrial] {
        flatMap { message -> [WireMessage.ReturnedTrial] in
            if case .giveBack(let giveBack) = message { return giveBack.trials }
            return []
        }
    }
}
