import LotteryCore
import LotteryWire
import LotteryWorker
import Testing

/// The worker's protocol in memory (``SessionHarness``): frames in, actions out, no socket, no thread, no sleep.
@Suite("Worker session state machine")
struct SessionStateMachineTests {
    /// HELLO (cached datasets, instance id), READY with every slot; a TASK starts its trial; results go out and are
    /// kept until ACKed; the trial's end frees the slot and READY says so.
    @Test func helloReadyTaskResultsAckDone() throws {
        var harness = SessionHarness(slots: 2)
        let cachedRef = WireMessage.DatasetRef(id: "mnist", checksum: "abc")
        let hello = harness.connect(datasets: [cachedRef])
        #expect(hello.types == [.hello, .ready] && hello.readyCredits == [2])
        guard case .hello(let body) = hello.first else { return }
        #expect(body.instanceID == "instance-w" && body.datasets == [cachedRef] && body.running.isEmpty)
        harness.receive(SessionHarness.task(7))
        #expect(harness.started == [7])
        #expect(harness.take().isEmpty)  // credit shrank: no READY
        harness.feed(.roundResult(taskID: 7, round: 0, frames: SessionHarness.result(7, round: 0)))
        harness.feed(.roundResult(taskID: 7, round: 1, frames: SessionHarness.result(7, round: 1)))
        #expect(harness.take().resultRounds == [0, 1])
        // ACKs out of order, and one repeated: both rounds settle.
        harness.receive(.ack(.init(taskID: 7, trialID: "trial-7", round: 1)))
        harness.receive(.ack(.init(taskID: 7, trialID: "trial-7", round: 0, status: .duplicate)))
        harness.receive(.ack(.init(taskID: 7, trialID: "trial-7", round: 0)))
        harness.feed(.trialDone(taskID: 7, lastRound: 1))
        let end = harness.take()
        #expect(end.types == [.trialDone, .ready] && end.readyCredits == [2])
        // Nothing is held any more: a reconnect's HELLO runs nothing and resends nothing.
        let again = harness.connect(datasets: [cachedRef])
        #expect(again.types == [.hello, .ready])
    }

    /// What a coordinator never sends (worker-to-coordinator kinds), garbage, stale ACKs and CANCELs, a repeated
    /// TASK, a DATA_CHUNK nobody asked for: each is ignored, nothing is sent, the worker stays.
    @Test(
        arguments: [
            CoordinatorKinds.hello, .ready(.init(credit: 1)), .giveBack(.init(trials: [], reason: "x")),
            .trialDone(.init(taskID: 7, trialID: "trial-7", lastRound: 0)),
            .trialFailed(.init(taskID: 7, trialID: "trial-7", error: "x")),
            .dataRequest(.init(datasetID: "mnist", offset: 0, length: 1)),
            .ack(.init(taskID: 99, trialID: "other", round: 0)),
            .cancel(.init(taskID: 99, trialID: "other", reason: "x")),
            .heartbeat(.init()), SessionHarness.task(7),
            .dataChunk(.init(datasetID: "mnist", offset: 0, totalSize: 3, checksum: "abc", bytes: [1, 2, 3])),
            .reject(.init(code: .badMessage, message: "x")), .reject(.init(code: .unknownTask, message: "x")),
        ] as [WireMessage])
    func messagesThatAskNothingChangeNothing(message: WireMessage) {
        var harness = SessionHarness()
        _ = harness.connect()
        harness.receive(SessionHarness.task(7))
        harness.receive(message)
        harness.feed(.received([[1, 2, 3], [4]]))
        #expect(harness.take().isEmpty)
        #expect(harness.started == [7] && harness.cancelled.isEmpty && harness.exit == nil)
    }

    /// Protocol-version negotiation, worker side: another version in any header, or REJECT `version_mismatch`, ends
    /// the worker with one message naming both versions; REJECT `refused` ends it too. Nothing is sent after.
    @Test func anotherVersionOrARefusalEndsTheWorkerNamingBothVersions() throws {
        var future = SessionHarness()
        _ = future.connect()
        future.receive(SessionHarness.task(7))
        future.receive(.reject(.init(code: .versionMismatch, message: "x")), version: Wire.version + 1)
        guard case .failure(let error) = future.exit else {
            Issue.record("no failure: \(String(describing: future.exit))")
            return
        }
        #expect(
            error.message == "coordinator at tcp://coordinator:5555 speaks protocol version \(Wire.version + 1), this "
                + "worker speaks \(Wire.version): run the same LotteryTickets release on coordinator and workers")
        #expect(future.cancelled == [7])
        #expect(future.take().isEmpty)
        #expect(future.feed(.tick(positions: [:])).isEmpty)  // ended: no HELLO loop, no reconnect
        var decodable = SessionHarness()
        _ = decodable.connect()
        decodable.receive(.reject(.init(code: .versionMismatch, message: "x", minVersion: 5, maxVersion: 6)))
        #expect((try? decodable.exit?.get()) == nil)
        if case .failure(let error) = decodable.exit { #expect(error.message.contains("speaks protocol version 5…6")) }
        var refused = SessionHarness()
        _ = refused.connect()
        refused.receive(.reject(.init(code: .refused, message: "connection not authenticated by CURVE")))
        if case .failure(let error) = refused.exit {
            #expect(error.message.contains("refused this worker"))
        } else {
            Issue.record("not refused")
        }
    }

    /// REJECT `unknown_worker` (the coordinator restarted): HELLO again with the trial it runs, its unacknowledged
    /// results oldest first, at most once per heartbeat interval however many rejects arrive.
    @Test func unknownWorkerMeansHelloAgainOncePerIntervalWithTheUnackedResults() throws {
        var harness = SessionHarness()
        _ = harness.connect()
        harness.receive(SessionHarness.task(7))
        harness.feed(.roundResult(taskID: 7, round: 0, frames: SessionHarness.result(7, round: 0)))
        harness.feed(.roundResult(taskID: 7, round: 1, frames: SessionHarness.result(7, round: 1)))
        _ = harness.take()
        harness.now = 1
        harness.receive(.reject(.init(code: .unknownWorker, message: "say HELLO")))
        harness.receive(.reject(.init(code: .unknownWorker, message: "say HELLO")))
        let again = harness.take()
        #expect(again.types == [.hello, .roundResult, .roundResult, .ready])
        #expect(again.last == .ready(.init(credit: 0)), "trial 7 still holds the only slot")
        #expect(again.resultRounds == [0, 1])
        guard case .hello(let hello) = again.first else { return }
        #expect(hello.running.map(\.taskID) == [7])
        harness.now = 2.5
        harness.receive(.reject(.init(code: .unknownWorker, message: "say HELLO")))
        #expect(harness.take().types.first == .hello)
    }

    /// A coordinator silent for `liveness` intervals: reconnect with a doubling back-off; after the reconnect the
    /// HELLO, the unacknowledged result and the TRIAL_DONE that followed it go out again, in that order, and only
    /// then READY with the slot the trial freed. (READY first: the coordinator still counted the trial as running,
    /// capped the credit to 0, and never heard it again from this idle worker; a chaos sweep hung so.)
    @Test func silenceMeansReconnectWithBackOffAndEverythingUnackedIsResent() throws {
        var harness = SessionHarness()
        _ = harness.connect()
        harness.receive(SessionHarness.task(7))
        harness.feed(.roundResult(taskID: 7, round: 0, frames: SessionHarness.result(7, round: 0)))
        harness.tick(at: 1, positions: [7: TrialPosition(round: 0, iteration: 300)])
        let heartbeat = harness.take().last
        #expect(
            heartbeat == .heartbeat(.init(progress: [.init(taskID: 7, trialID: "trial-7", round: 0, iteration: 300)])))
        harness.tick(at: 2.9)
        #expect(harness.reconnects.isEmpty)
        harness.tick(at: 3.1)  // 3.1 s without a message > 3 intervals
        #expect(harness.reconnects == [100])
        _ = harness.take()
        harness.feed(.trialDone(taskID: 7, lastRound: 0))  // ended while disconnected: kept, not sent
        #expect(!harness.take().contains { $0.type == .trialDone })
        harness.tick(at: 5)  // disconnected: no heartbeat, no second reconnect
        #expect(harness.reconnects == [100] && harness.take().isEmpty)
        harness.now = 5
        let resent = harness.connect()
        #expect(resent.types == [.hello, .roundResult, .trialDone, .ready])
        #expect(resent.last == .ready(.init(credit: 1)))
        harness.tick(at: 9.2)
        #expect(harness.reconnects == [100, 200])
        harness.now = 9.3
        _ = harness.connect()
        harness.tick(at: 13.4)
        harness.now = 13.5
        _ = harness.connect()
        harness.tick(at: 17.6)
        #expect(harness.reconnects == [100, 200, 400, 400])
    }

    /// CANCEL stops the trial and drops what it has not delivered; its slot frees when the thread stops.
    @Test func cancelStopsTheTrialDropsItsResultsAndFreesTheSlotWhenItStops() throws {
        var harness = SessionHarness()
        _ = harness.connect()
        harness.receive(SessionHarness.task(7))
        harness.feed(.roundResult(taskID: 7, round: 0, frames: SessionHarness.result(7, round: 0)))
        _ = harness.take()
        harness.receive(.cancel(.init(taskID: 7, trialID: "trial-7", reason: "reassigned")))
        #expect(harness.cancelled == [7])
        #expect(harness.take().isEmpty)  // the slot is still busy until the thread stops
        harness.feed(.roundResult(taskID: 7, round: 1, frames: SessionHarness.result(7, round: 1)))
        #expect(harness.take().isEmpty)
        harness.feed(.trialStopped(taskID: 7))
        #expect(harness.take().readyCredits == [1])
        #expect(harness.connect().types == [.hello, .ready])  // nothing resent
    }

    /// TASKs beyond the free slots (absolute READYs racing) wait for a slot.
    @Test func tasksBeyondTheSlotsWaitForOne() {
        var harness = SessionHarness()
        _ = harness.connect()
        harness.receive(SessionHarness.task(7))
        harness.receive(SessionHarness.task(8))
        #expect(harness.started == [7])
        harness.feed(.trialFailed(taskID: 7, round: 0, error: "loss is NaN"))
        #expect(harness.started == [7, 8])
        #expect(harness.take().types == [.trialFailed])
    }
}

enum CoordinatorKinds {
    static let hello = WireMessage.hello(
        .init(workerName: "x", host: "x", instanceID: "x", cores: 1, slots: 1, cpuKind: "x", buildID: "x"))
}
