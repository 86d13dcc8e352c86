import LotteryCore
import LotteryWire
import LotteryWorker
import Testing

/// The worker's protocol in memory, over a task's life: the dataset fetch, SHUTDOWN, a stop.
@Suite("Worker session state machine: datasets and leaving")
struct SessionLifecycleTests {
    static let bundle: [UInt8] = (0..<2_500_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    static let ref = WireMessage.DatasetRef(id: "mnist", checksum: DatasetBundle.checksum(bundle))

    static func chunk(_ offset: Int, of bundle: [UInt8] = bundle, checksum: String = ref.checksum) -> WireMessage {
        let end = min(bundle.count, offset + Wire.maxChunkBytes)
        return .dataChunk(
            .init(
                datasetID: "mnist", offset: offset, totalSize: bundle.count, checksum: checksum,
                bytes: Array(bundle[offset..<end])))
    }

    /// A missing dataset is fetched one chunk at a time (a repeated or stray chunk is ignored, an overdue one asked
    /// again), checked, installed; then the trial starts. A partial file a dead worker left is resumed.
    @Test(arguments: [0, 1_000_000])
    func aMissingDatasetIsFetchedChunkByChunkThenTheTrialStarts(partial: Int) throws {
        var harness = SessionHarness()
        harness.partial = Array(Self.bundle[0..<partial])
        _ = harness.connect()
        harness.receive(SessionHarness.task(7, dataset: Self.ref))
        #expect(harness.started.isEmpty)
        var requests = harness.take().requests
        #expect(requests.map(\.offset) == [partial])
        harness.receive(Self.chunk(partial))
        requests = harness.take().requests
        let second = partial + Wire.maxChunkBytes
        #expect(requests.map(\.offset) == [second])
        harness.receive(Self.chunk(partial))  // repeated: ignored
        harness.receive(Self.chunk(12345))  // stray: ignored
        #expect(harness.take().isEmpty)
        harness.tick(at: 3.5)  // overdue: asked again (and the coordinator is silent: reconnect)
        #expect(harness.take().requests.map(\.offset) == [second] || !harness.reconnects.isEmpty)
        harness.now = 3.6
        if !harness.reconnects.isEmpty {
            #expect(harness.connect().requests.map(\.offset) == [second])  // the outstanding request again
        }
        var offset = second
        while offset < Self.bundle.count {
            harness.receive(Self.chunk(offset))
            offset += Wire.maxChunkBytes
        }
        #expect(harness.cached.contains(Self.ref))
        #expect(harness.started == [7])
        // The next HELLO lists it (here one the coordinator asks for after a restart).
        _ = harness.take()
        harness.now = 10
        harness.receive(.reject(.init(code: .unknownWorker, message: "say HELLO")))
        guard case .hello(let hello) = harness.take().first else {
            Issue.record("no HELLO")
            return
        }
        #expect(hello.datasets == [Self.ref])
    }

    /// A dataset served with another checksum, or that arrives corrupted, fails the waiting task (TRIAL_FAILED) and
    /// drops the file; the next task fetches afresh.
    @Test func aWrongOrCorruptedDatasetFailsTheTaskAndTheNextFetchesAfresh() throws {
        var harness = SessionHarness()
        _ = harness.connect()
        harness.receive(SessionHarness.task(7, dataset: Self.ref))
        _ = harness.take()
        harness.receive(Self.chunk(0, checksum: "another"))
        let failed = harness.take()
        guard case .trialFailed(let failure) = failed.first else {
            Issue.record("no TRIAL_FAILED: \(failed)")
            return
        }
        #expect(failure.taskID == 7 && failure.error.contains("the dataset changed on the coordinator"))
        #expect(harness.abandoned == 1 && harness.started.isEmpty)
        #expect(failed.readyCredits == [1])
        // Corrupted in transit: every chunk arrives, the SHA-256 differs.
        harness.receive(SessionHarness.task(8, dataset: Self.ref))
        var corrupted = Self.bundle
        corrupted[10] ^= 0xFF
        var offset = 0
        while offset < corrupted.count {
            harness.receive(Self.chunk(offset, of: corrupted))
            offset += Wire.maxChunkBytes
        }
        #expect(harness.take().contains { if case .trialFailed(let f) = $0 { f.taskID == 8 } else { false } })
        #expect(harness.abandoned == 2 && harness.started.isEmpty && !harness.cached.contains(Self.ref))
    }

    /// A cached dataset needs no fetch.
    @Test func aCachedDatasetStartsTheTrialAtOnce() {
        var harness = SessionHarness()
        harness.cached = [Self.ref]
        _ = harness.connect(datasets: [Self.ref])
        harness.receive(SessionHarness.task(7, dataset: Self.ref))
        #expect(harness.started == [7])
        #expect(harness.take().requests.isEmpty)
    }

    /// SHUTDOWN finish: everything still held is dropped (the sweep is recorded); exit once the threads stopped.
    @Test func shutdownFinishDropsEverythingAndExitsOnceIdle() {
        var harness = SessionHarness()
        _ = harness.connect()
        harness.receive(SessionHarness.task(7))
        harness.feed(.roundResult(taskID: 7, round: 0, frames: SessionHarness.result(7, round: 0)))
        harness.receive(.shutdown(.init(mode: .finish, reason: "the sweep is complete")))
        #expect(harness.cancelled == [7])
        harness.tick(at: 0.5)
        #expect(harness.exit == nil)  // its thread still runs
        harness.feed(.trialStopped(taskID: 7))
        harness.receive(SessionHarness.task(8))  // a TASK now is given back at once
        #expect(harness.take().givenBack.map(\.taskID) == [8])
        harness.tick(at: 1)
        #expect((try? harness.exit?.get()) == .finished)
    }

    /// SHUTDOWN drain: training stops, a task not started yet is returned at once, results already sent wait for
    /// their ACK; then GIVE_BACK with the last acknowledged round, and exit.
    @Test func drainGivesBackWithTheLastAcknowledgedRound() {
        var harness = SessionHarness()
        _ = harness.connect()
        harness.receive(SessionHarness.task(7))
        harness.receive(SessionHarness.task(8))  // queued: no free slot
        harness.feed(.roundResult(taskID: 7, round: 0, frames: SessionHarness.result(7, round: 0)))
        harness.receive(.ack(.init(taskID: 7, trialID: "trial-7", round: 0)))
        harness.feed(.roundResult(taskID: 7, round: 1, frames: SessionHarness.result(7, round: 1)))
        _ = harness.take()
        harness.receive(.shutdown(.init(mode: .drain, reason: "coordinator stopping")))
        #expect(harness.stoppedAfterRound == [7] && harness.started == [7])
        harness.feed(.trialStopped(taskID: 7))
        harness.tick(at: 1)
        #expect(harness.exit == nil)  // round 1 waits for its ACK (up to 2 s)
        harness.receive(.ack(.init(taskID: 7, trialID: "trial-7", round: 1)))
        harness.tick(at: 1.5)
        let returned = harness.take().givenBack
        #expect(returned.map(\.taskID) == [8, 7])
        #expect(returned.map(\.lastRound) == [nil, 1])
        #expect((try? harness.exit?.get()) == .drained)
    }

    /// A stop (SIGTERM): GIVE_BACK of everything unfinished with its last acknowledged round, the download dropped,
    /// exit at once.
    @Test func stopGivesEverythingBackAndLeavesAtOnce() {
        var harness = SessionHarness(slots: 2)
        _ = harness.connect()
        harness.receive(SessionHarness.task(7))
        harness.receive(SessionHarness.task(8, dataset: Self.ref))  // fetching
        harness.feed(.roundResult(taskID: 7, round: 0, frames: SessionHarness.result(7, round: 0)))
        harness.receive(.ack(.init(taskID: 7, trialID: "trial-7", round: 0)))
        _ = harness.take()
        harness.feed(.stopRequested("SIGTERM"))
        let returned = harness.take().givenBack
        #expect(returned.map(\.taskID) == [7, 8] && returned.map(\.lastRound) == [0, nil])
        #expect(Set(harness.cancelled) == [7, 8] && harness.abandoned == 1)
        #expect((try? harness.exit?.get()) == .stopped)
    }
}

/// Every coordinator message kind in every state of a worker: the worker only ever answers with messages a worker
/// may send, and only a REJECT `version_mismatch` or `refused` ends it on the spot.
@Suite("Worker session state machine: every message in every state")
struct SessionMatrixTests {
    static let small: [UInt8] = (0..<3000).map { UInt8($0 % 251) }
    static let ref = WireMessage.DatasetRef(id: "mnist", checksum: DatasetBundle.checksum(small))
    static let states = ["idle", "running", "fetching", "ended unacknowledged", "draining", "finishing"]

    static let messages: [WireMessage] =
        [
            SessionHarness.task(9), SessionHarness.task(7), .heartbeat(.init()),
            .ack(.init(taskID: 7, trialID: "trial-7", round: 0)), .ack(.init(taskID: 99, trialID: "x", round: 0)),
            .shutdown(.init(mode: .finish, reason: "done")), .shutdown(.init(mode: .drain, reason: "stop")),
            SessionLifecycleTests.chunk(0, of: small, checksum: ref.checksum),
            .cancel(.init(taskID: 7, trialID: "trial-7", reason: "reassigned")),
            .cancel(.init(taskID: 8, trialID: "trial-8", reason: "reassigned")),
            .cancel(.init(taskID: 99, trialID: "x", reason: "x")),
        ] + WireMessage.RejectCode.allCases.map { .reject(.init(code: $0, message: "x")) }

    static func harness(in state: String) -> SessionHarness {
        var harness = SessionHarness(slots: 2)
        _ = harness.connect()
        guard state != "idle" else { return harness }
        harness.receive(SessionHarness.task(7))
        harness.feed(.roundResult(taskID: 7, round: 0, frames: SessionHarness.result(7, round: 0)))
        switch state {
        case "fetching": harness.receive(SessionHarness.task(8, dataset: ref))
        case "ended unacknowledged": harness.feed(.trialDone(taskID: 7, lastRound: 0))
        case "draining": harness.receive(.shutdown(.init(mode: .drain, reason: "stop")))
        case "finishing": harness.receive(.shutdown(.init(mode: .finish, reason: "done")))
        default: break
        }
        _ = harness.take()
        return harness
    }

    @Test(arguments: states, messages)
    func theWorkerAnswersOnlyAsAWorkerAndLeavesOnlyWhenTold(state: String, message: WireMessage) {
        var harness = Self.harness(in: state)
        harness.now = 1.5
        harness.receive(message)
        harness.tick(at: 1.6)
        for sent in harness.take() {
            #expect(sent.type.direction != .coordinatorToWorker, "\(state): sent \(sent.type)")
        }
        var ends = false
        if case .reject(let reject) = message { ends = reject.code == .versionMismatch || reject.code == .refused }
        if ends {
            #expect((try? harness.exit?.get()) == nil && harness.exit != nil)
        } else if case .failure = harness.exit {
            Issue.record("\(state): \(message.type) ended the worker with \(String(describing: harness.exit))")
        }
    }
}
