import Foundation
import LotteryCore
import LotteryWire
import LotteryWorker
import MaskCodec
import Testing
import ZeroMQ

/// A Worker driven in-process against a fake coordinator (ROUTER on loopback TCP) speaking LotteryWire.
@Suite("Worker against a fake coordinator", .serialized)
struct WorkerTests {
    @Test func helloReadyAndRoundsMatchADirectRunBitForBit() throws {
        try withTemporaryDirectory { dir in
            try TinyData.install(in: dir)
            let coordinator = try FakeCoordinator()
            let running = RunningWorker(testConfig(endpoint: coordinator.endpoint, dataDirectory: dir))
            defer { running.shutDown() }

            let (hello, ready) = try coordinator.handshake()
            #expect(hello.workerName == "test-worker" && hello.slots == 1 && hello.cpuKind == "test-cpu")
            #expect(hello.buildID == "test-build" && hello.running.isEmpty && !hello.instanceID.isEmpty)
            #expect(hello.datasets == [TinyData.ref])
            #expect(ready.credit == 1)

            let spec = tinySpec()
            try coordinator.send(
                .task(
                    WireMessage.TaskAssignment(
                        taskID: 17, trialID: spec.trialID, spec: spec, dataset: TinyData.ref)))
            var results: [WireMessage.RoundResult] = []
            for _ in 0..<3 {
                let result = try coordinator.roundResult()
                results.append(result)
                try coordinator.ack(result)
            }
            let done = try coordinator.expect("TRIAL_DONE") { if case .trialDone(let d) = $0 { d } else { nil } }
            #expect(done == WireMessage.TrialDone(taskID: 17, trialID: spec.trialID, lastRound: 2))
            let again = try coordinator.expect("READY") { if case .ready(let r) = $0 { r } else { nil } }
            #expect(again.credit == 1)

            // The same trial run directly gives the same numbers and masks.
            var direct: [RoundOutcome] = []
            try IMPRunner(spec: spec, data: TinyData.splits(for: spec, directory: dir)).run { direct.append($0) }
            #expect(results.map(\.taskID) == [17, 17, 17])
            #expect(results.map { timeless($0.metrics) } == direct.map { timeless($0.metrics) })
            let masks = try decodeChain(results)
            #expect(masks.map(\.mask) == direct.map { codecMask($0.mask) })
            #expect(masks.map(\.next) == direct.map { $0.nextMask.map(codecMask) })
            #expect(results[0].maskParent == nil)  // round 0 is self-contained
            #expect(results[2].maskParent != nil && results[1].nextMaskParent != nil)  // pruned rounds are deltas
            // Round r's mask is sent as the very bytes of round r−1's next mask (what the coordinator's fast path
            // recognises without decoding).
            #expect(results[1].mask == results[0].nextMask && results[2].mask == results[1].nextMask)

            try coordinator.send(.shutdown(WireMessage.Shutdown(mode: .finish, reason: "sweep over")))
            let exit = try #require(running.outcome(within: 10))
            #expect(try exit.get() == .finished)
        }
    }

    @Test func resumedTaskAndBranchReproduceTheDirectRun() throws {
        try withTemporaryDirectory { dir in
            try TinyData.install(in: dir)
            let spec = tinySpec(seed: 11)
            let splits = try TinyData.splits(for: spec, directory: dir)
            var direct: [RoundOutcome] = []
            try IMPRunner(spec: spec, data: splits).run { direct.append($0) }
            let branchSpec = spec.branch(.reinitRandom, round: 1, index: 0)
            let directBranch = try IMPRunner(spec: branchSpec, data: splits).runBranch(
                spec: branchSpec, mask: direct[1].mask)

            let coordinator = try FakeCoordinator()
            let running = RunningWorker(testConfig(endpoint: coordinator.endpoint, dataDirectory: dir, slots: 2))
            defer { running.shutDown() }
            _ = try coordinator.handshake()
            let resume = MaskFile.encode(codecMask(try #require(direct[0].nextMask)))
            try coordinator.send(
                .task(
                    WireMessage.TaskAssignment(
                        taskID: 1, trialID: spec.trialID, spec: spec, startRound: 1, dataset: TinyData.ref,
                        resumeMask: resume)))
            try coordinator.send(
                .task(
                    WireMessage.TaskAssignment(
                        taskID: 2, trialID: branchSpec.trialID, spec: branchSpec, dataset: TinyData.ref,
                        parentMask: MaskFile.encode(codecMask(direct[1].mask)))))

            var byTask: [Int: [WireMessage.RoundResult]] = [:]
            var done: Set<Int> = []
            while done.count < 2 {
                let message = try coordinator.expect("results of both tasks") { message -> WireMessage? in
                    switch message {
                    case .roundResult, .trialDone, .trialFailed: return message
                    default: return nil
                    }
                }
                switch message {
                case .roundResult(let result):
                    byTask[result.taskID, default: []].append(result)
                    try coordinator.ack(result)
                case .trialDone(let d): done.insert(d.taskID)
                case .trialFailed(let f): Issue.record("trial failed: \(f.error)"); return
                default: break
                }
            }
            let resumed = try #require(byTask[1])
            #expect(resumed.map(\.round) == [1, 2])
            #expect(resumed.map { timeless($0.metrics) } == direct[1...].map { timeless($0.metrics) })
            #expect(resumed[0].maskParent == nil)  // the first reported mask of a resumed trial is self-contained
            let masks = try decodeChain(resumed)
            #expect(masks.map(\.mask) == direct[1...].map { codecMask($0.mask) })

            let branch = try #require(byTask[2]?.first)
            #expect(byTask[2]?.count == 1 && branch.round == 0 && branch.nextMask == nil)
            #expect(timeless(branch.metrics) == timeless(directBranch.metrics))
            #expect(try MaskFile.decode(branch.mask) == codecMask(direct[1].mask))
        }
    }

    @Test func unacknowledgedResultsAreResentAfterAReconnect() throws {
        try withTemporaryDirectory { dir in
            try TinyData.install(in: dir)
            let coordinator = try FakeCoordinator()
            // Liveness 4 × 50 ms: a silent coordinator makes the worker reconnect within ~0.3 s.
            let running = RunningWorker(testConfig(endpoint: coordinator.endpoint, dataDirectory: dir, liveness: 4))
            defer { running.shutDown() }
            _ = try coordinator.handshake()
            let firstIdentity = coordinator.identity
            let spec = tinySpec(seed: 3)
            try coordinator.send(
                .task(
                    WireMessage.TaskAssignment(
                        taskID: 5, trialID: spec.trialID, spec: spec, dataset: TinyData.ref)))
            // Heartbeats keep the worker connected while it trains; only round 0 is ACKed.
            let first = try coordinator.roundResult()
            try coordinator.ack(first)
            let original = [first] + (try (0..<2).map { _ in try coordinator.roundResult() })
            #expect(original.map(\.round) == [0, 1, 2])
            _ = try coordinator.expect("TRIAL_DONE") { if case .trialDone(let d) = $0 { d } else { nil } }
            #expect(coordinator.identity == firstIdentity)  // no reconnect while heartbeats flow
            // Now the coordinator falls silent: no ACKs, no heartbeats.
            coordinator.heartbeats = false

            let hello = try coordinator.expect("HELLO after the reconnect") {
                if case .hello(let h) = $0 { h } else { nil }
            }
            #expect(coordinator.identity != firstIdentity)  // a new socket
            var resent: [WireMessage.RoundResult] = []
            while resent.count < 2 {
                resent.append(try coordinator.roundResult())
            }
            #expect(resent == Array(original[1...]))  // oldest first, byte-identical, round 0 (ACKed) not resent
            _ = try coordinator.expect("resent TRIAL_DONE") { if case .trialDone(let d) = $0 { d } else { nil } }
            #expect(hello.instanceID.isEmpty == false)
            for result in resent { try coordinator.ack(result) }

            // Once everything is acknowledged, SHUTDOWN finish lets the worker exit.
            try coordinator.send(.shutdown(WireMessage.Shutdown(mode: .finish, reason: "done")))
            let exit = try #require(running.outcome(within: 10))
            #expect(try exit.get() == .finished)
        }
    }

    @Test func rejectUnknownWorkerMakesTheWorkerSayHelloAgainWithItsRunningTrial() throws {
        try withConnectedWorker { coordinator, running, dir in
            let spec = tinySpec(seed: 4, iterations: 400)
            try coordinator.send(
                .task(
                    WireMessage.TaskAssignment(
                        taskID: 8, trialID: spec.trialID, spec: spec, dataset: TinyData.ref)))
            let first = try coordinator.roundResult()
            Thread.sleep(forTimeInterval: 0.1)  // HELLO is re-sent at most once per heartbeat interval
            try coordinator.send(.reject(WireMessage.Reject(code: .unknownWorker, message: "coordinator restarted")))
            let hello = try coordinator.expect("HELLO again") { if case .hello(let h) = $0 { h } else { nil } }
            #expect(hello.running.map(\.taskID) == [8])
            let resent = try coordinator.roundResult()
            #expect(resent == first)
        }
    }

    /// SHUTDOWN finish means the sweep is recorded: a worker still holding a trial and unacknowledged results
    /// (a stale task) leaves at once instead of reconnecting for ever to a coordinator that has exited.
    @Test func shutdownFinishLeavesEvenWithUnacknowledgedResults() throws {
        try withTemporaryDirectory { dir in
            let coordinator = try FakeCoordinator()
            let running = RunningWorker(testConfig(endpoint: coordinator.endpoint, dataDirectory: dir))
            defer { running.shutDown() }
            _ = try coordinator.handshake()
            var spec = tinySpec(seed: 21)
            spec.synthetic = TrialSpec.Synthetic(roundMilliseconds: 300)
            try coordinator.send(.task(WireMessage.TaskAssignment(
                taskID: 90, trialID: spec.trialID, spec: spec, dataset: TinyData.ref)))
            let first = try coordinator.roundResult(within: 30)
            #expect(first.round == 0)  // never acknowledged
            try coordinator.send(.shutdown(WireMessage.Shutdown(mode: .finish, reason: "the sweep is complete")))
            let exit = try #require(running.outcome(within: 10))
            #expect(try exit.get() == .finished)
        }
    }

    @Test func cancelStopsTheTrialAndFreesItsSlot() throws {
        try withConnectedWorker { coordinator, running, dir in
            let spec = tinySpec(seed: 5, iterations: 200)
            try coordinator.send(
                .task(
                    WireMessage.TaskAssignment(
                        taskID: 9, trialID: spec.trialID, spec: spec, dataset: TinyData.ref)))
            let first = try coordinator.roundResult()
            try coordinator.send(.cancel(WireMessage.Cancel(taskID: 9, trialID: spec.trialID, reason: "reassigned")))
            let ready = try coordinator.expect("READY after CANCEL") { if case .ready(let r) = $0 { r } else { nil } }
            #expect(ready.credit == 1)
            // Nothing more about task 9: no later round, no TRIAL_DONE (at most the round already in flight).
            let start = coordinator.received.count
            let quietUntil = Date().addingTimeInterval(0.5)
            while Date() < quietUntil { _ = try coordinator.next(within: quietUntil.timeIntervalSinceNow) }
            let later = coordinator.received[start...].map(\.message)
            #expect(!later.contains { if case .trialDone = $0 { true } else { false } })
            #expect(!later.contains { if case .roundResult(let r) = $0 { r.round > first.round + 1 } else { false } })
        }
    }

    @Test func heartbeatsCarryTheTrainingThreadsPosition() throws {
        try withConnectedWorker { coordinator, running, dir in
            let spec = tinySpec(seed: 6, iterations: 3000)
            try coordinator.send(
                .task(
                    WireMessage.TaskAssignment(
                        taskID: 21, trialID: spec.trialID, spec: spec, dataset: TinyData.ref)))
            let progress = try coordinator.expect("a HEARTBEAT with training progress") { message in
                if case .heartbeat(let h) = message, let p = h.progress.first, p.iteration > 0 { p } else { nil }
            }
            #expect(progress.taskID == 21 && progress.trialID == spec.trialID && progress.round == 0)
            #expect(progress.iteration % 20 == 0 && progress.iteration < 3000)  // reported every 100 iterations and every evaluation (20)
            let later = try coordinator.expect("a later HEARTBEAT") { message in
                if case .heartbeat(let h) = message, let p = h.progress.first,
                    p.iteration > progress.iteration || p.round > 0
                {
                    p
                } else {
                    nil
                }
            }
            #expect(later.taskID == 21)
        }
    }

    @Test func datasetIsFetchedInChunksAfterALostChunk() throws {
        try withTemporaryDirectory { dir in
            let coordinator = try FakeCoordinator()
            // Liveness 10 × 50 ms: an unanswered DATA_REQUEST is repeated after ~0.5 s.
            let running = RunningWorker(testConfig(endpoint: coordinator.endpoint, dataDirectory: dir, liveness: 10))
            defer { running.shutDown() }
            let (hello, _) = try coordinator.handshake()
            #expect(hello.datasets.isEmpty)
            let spec = tinySpec(seed: 8)
            try coordinator.send(
                .task(
                    WireMessage.TaskAssignment(
                        taskID: 30, trialID: spec.trialID, spec: spec, dataset: TinyData.ref)))

            let bundle = TinyData.bundle
            let chunkSize = 100_000
            var requests: [WireMessage.DataRequest] = []
            var damagedOnce = false
            while true {
                let request = try coordinator.expect("DATA_REQUEST") {
                    if case .dataRequest(let r) = $0 { r } else { nil }
                }
                requests.append(request)
                #expect(request.datasetID == "mnist" && request.length <= Wire.maxChunkBytes)
                let end = min(bundle.count, request.offset + min(request.length, chunkSize))
                var frames = try WireMessage.dataChunk(
                    WireMessage.DataChunk(
                        datasetID: "mnist", offset: request.offset, totalSize: bundle.count,
                        checksum: TinyData.ref.checksum, bytes: Array(bundle[request.offset..<end]))
                ).encode()
                if request.offset == chunkSize && !damagedOnce {
                    // A chunk damaged in transit: its CRC no longer matches, the worker must ignore it and ask again.
                    frames[2][10] ^= 0xFF
                    damagedOnce = true
                }
                try coordinator.sendRaw(frames)
                if end == bundle.count { break }
            }
            #expect(requests.map(\.offset).filter { $0 == chunkSize }.count == 2)  // asked again after the damage
            for result in try (0..<3).map({ _ in try coordinator.roundResult() }) { try coordinator.ack(result) }
            _ = try coordinator.expect("TRIAL_DONE") { if case .trialDone(let d) = $0 { d } else { nil } }

            let marker = try String(contentsOfFile: dir + "/mnist/.bundle-sha256", encoding: .utf8)
            #expect(marker.trimmingCharacters(in: .whitespacesAndNewlines) == TinyData.ref.checksum)
            let installed = try DatasetBundle.packDirectory(URL(fileURLWithPath: dir), dataset: "mnist")
            #expect(installed == bundle)
            // No partial download, staging or old folder is left; only the (empty) lock file installs take turns on.
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }
            #expect(leftovers == [".install-mnist.lock"])
        }
    }

    /// A worker that died mid-transfer left `.fetch-<id>-<checksum>.part`; the next one on the host resumes from it
    /// (less the last byte), unless another live worker holds it locked, when it starts a private file from 0.
    @Test(arguments: [false, true])
    func aDownloadResumesFromThePartialFileADeadWorkerLeft(lockedByAnother: Bool) throws {
        try withTemporaryDirectory { dir in
            let bundle = TinyData.bundle
            let partial = dir + "/.fetch-mnist-\(TinyData.ref.checksum.prefix(16)).part"
            try Data(bundle[0..<150_000]).write(to: URL(fileURLWithPath: partial))
            var holder: Int32 = -1
            if lockedByAnother {
                holder = open(partial, O_RDWR)
                #expect(flock(holder, LOCK_EX | LOCK_NB) == 0)
            }
            defer { if holder >= 0 { close(holder) } }
            let coordinator = try FakeCoordinator()
            let running = RunningWorker(testConfig(endpoint: coordinator.endpoint, dataDirectory: dir))
            defer { running.shutDown() }
            _ = try coordinator.handshake()
            let spec = tinySpec(seed: 12)
            try coordinator.send(
                .task(WireMessage.TaskAssignment(taskID: 50, trialID: spec.trialID, spec: spec, dataset: TinyData.ref)))
            var offsets: [Int] = []
            while true {
                let request = try coordinator.expect("DATA_REQUEST") {
                    if case .dataRequest(let r) = $0 { r } else { nil }
                }
                offsets.append(request.offset)
                let end = min(bundle.count, request.offset + request.length)
                try coordinator.send(
                    .dataChunk(
                        WireMessage.DataChunk(
                            datasetID: "mnist", offset: request.offset, totalSize: bundle.count,
                            checksum: TinyData.ref.checksum, bytes: Array(bundle[request.offset..<end]))))
                if end == bundle.count { break }
            }
            #expect(offsets.first == (lockedByAnother ? 0 : 149_999))
            for result in try (0..<3).map({ _ in try coordinator.roundResult() }) { try coordinator.ack(result) }
            _ = try coordinator.expect("TRIAL_DONE") { if case .trialDone(let d) = $0 { d } else { nil } }
            let installed = try DatasetBundle.packDirectory(URL(fileURLWithPath: dir), dataset: "mnist")
            #expect(installed == bundle)
            // Done: the worker's own download file is gone; a file another worker holds is left to it.
            #expect(FileManager.default.fileExists(atPath: partial) == lockedByAnother)
        }
    }

    @Test func aDatasetWithTheWrongChecksumFailsTheTrialAndIsFetchedAfresh() throws {
        try withTemporaryDirectory { dir in
            let coordinator = try FakeCoordinator()
            let running = RunningWorker(testConfig(endpoint: coordinator.endpoint, dataDirectory: dir))
            defer { running.shutDown() }
            _ = try coordinator.handshake()
            let spec = tinySpec(seed: 9)
            var corrupted = TinyData.bundle
            corrupted[5000] ^= 0x01  // well-formed frames, wrong content: only the SHA-256 can tell
            for taskID in [40, 41] {
                try coordinator.send(
                    .task(
                        WireMessage.TaskAssignment(
                            taskID: taskID, trialID: spec.trialID, spec: spec, dataset: TinyData.ref)))
                var offset = -1
                while offset + Wire.maxChunkBytes < corrupted.count || offset < 0 {
                    let request = try coordinator.expect("DATA_REQUEST") {
                        if case .dataRequest(let r) = $0 { r } else { nil }
                    }
                    offset = request.offset
                    let end = min(corrupted.count, request.offset + request.length)
                    try coordinator.send(
                        .dataChunk(
                            WireMessage.DataChunk(
                                datasetID: "mnist", offset: request.offset, totalSize: corrupted.count,
                                checksum: TinyData.ref.checksum, bytes: Array(corrupted[request.offset..<end]))))
                    if end == corrupted.count { break }
                }
                let failed = try coordinator.expect("TRIAL_FAILED") {
                    if case .trialFailed(let f) = $0 { f } else { nil }
                }
                #expect(failed.taskID == taskID && failed.error.contains("SHA-256"))
                let ready = try coordinator.expect("READY") { if case .ready(let r) = $0 { r } else { nil } }
                #expect(ready.credit == 1)
            }
            #expect(!FileManager.default.fileExists(atPath: dir + "/mnist/.bundle-sha256"))
        }
    }

    @Test func garbageFromTheCoordinatorIsIgnored() throws {
        try withConnectedWorker { coordinator, running, dir in
            var rng = LotteryRNG(seed: 99)
            let ackFrames = try WireMessage.ack(WireMessage.Ack(taskID: 1, trialID: "t", round: 0)).encode()
            var garbage: [[[UInt8]]] = [
                [[]], [[1, 2, 3]], [Wire.magic + [UInt8(Wire.version >> 8), UInt8(Wire.version & 0xFF), 99], Array("{}".utf8)],
                [ackFrames[0], Array("{\"blobs\":[],\"message\":{\"task_id\":-1}}".utf8)],
                [ackFrames[0], Array("not json".utf8)],
            ]
            for _ in 0..<40 {
                garbage.append(
                    (0..<(1 + Int(rng.below(4)))).map { _ in (0..<Int(rng.below(40))).map { _ in UInt8(rng.below(256)) }
                    })
                var mutated = ackFrames
                mutated[1][Int(rng.below(mutated[1].count))] ^= UInt8(1 + rng.below(255))
                garbage.append(mutated)
            }
            for frames in garbage { try coordinator.sendRaw(frames) }
            // Valid but wrong-direction or stale messages are ignored too.
            try coordinator.send(.ready(WireMessage.Ready(credit: 3)))
            try coordinator.send(.ack(WireMessage.Ack(taskID: 999, trialID: "gone", round: 4)))
            try coordinator.send(.cancel(WireMessage.Cancel(taskID: 999, trialID: "gone", reason: "stale")))
            try coordinator.send(
                .dataChunk(
                    WireMessage.DataChunk(
                        datasetID: "mnist", offset: 0, totalSize: 3, checksum: "00", bytes: [1, 2, 3])))

            // Still alive and working: a task runs to the end.
            let spec = tinySpec(seed: 12)
            try coordinator.send(
                .task(
                    WireMessage.TaskAssignment(
                        taskID: 50, trialID: spec.trialID, spec: spec, dataset: TinyData.ref)))
            for result in try (0..<3).map({ _ in try coordinator.roundResult() }) { try coordinator.ack(result) }
            _ = try coordinator.expect("TRIAL_DONE") { if case .trialDone(let d) = $0 { d } else { nil } }
            #expect(running.outcome(within: 0) == nil)
        }
    }

    @Test func anotherProtocolVersionEndsTheWorkerWithAClearMessage() throws {
        try withTemporaryDirectory { dir in
            let coordinator = try FakeCoordinator()
            let running = RunningWorker(testConfig(endpoint: coordinator.endpoint, dataDirectory: dir))
            defer { running.shutDown() }
            _ = try coordinator.handshake()
            var frames = try WireMessage.heartbeat(WireMessage.Heartbeat()).encode()
            frames[0] = Wire.header(.heartbeat, version: Wire.version + 1)
            try coordinator.sendRaw(frames)
            let exit = try #require(running.outcome(within: 10))
            #expect(throws: WorkerError.self) { try exit.get() }
            if case .failure(let error) = exit {
                #expect("\(error)".contains("protocol version \(Wire.version + 1)"))
            }
        }
    }

    @Test func stopGivesBackRunningTrialsWithTheirLastAcknowledgedRound() throws {
        try withConnectedWorker { coordinator, running, dir in
            // Synthetic rounds of 1.5 s: the same worker code path, but a round lasts the same in debug and release
            // and under any load, so a heartbeat surely lands in round 1 before the stop.
            var spec = tinySpec(seed: 13)
            spec.synthetic = TrialSpec.Synthetic(roundMilliseconds: 1_500)
            try coordinator.send(
                .task(
                    WireMessage.TaskAssignment(
                        taskID: 60, trialID: spec.trialID, spec: spec, dataset: TinyData.ref)))
            try coordinator.ack(try coordinator.roundResult(within: 30))
            _ = try coordinator.expect("ACK processed (a HEARTBEAT in round 1)") { message in
                if case .heartbeat(let h) = message, h.progress.first?.round == 1 { true } else { nil }
            }
            running.worker.stop(reason: "SIGTERM")
            let giveBack = try coordinator.expect("GIVE_BACK") { if case .giveBack(let g) = $0 { g } else { nil } }
            #expect(giveBack.trials == [WireMessage.ReturnedTrial(taskID: 60, trialID: spec.trialID, lastRound: 0)])
            #expect(giveBack.reason == "SIGTERM")
            let exit = try #require(running.outcome(within: 10))
            #expect(try exit.get() == .stopped)
        }
    }

    /// SHUTDOWN drain stops training at once, mid-round (the progress callback throws): the round in progress is
    /// never reported, and GIVE_BACK returns the trial with its last acknowledged round.
    @Test func drainStopsMidRoundAndGivesTheTrialBackWithItsLastAcknowledgedRound() throws {
        try withConnectedWorker { coordinator, running, dir in
            // Rounds of 200,000 iterations: only a mid-round stop lets the worker leave within the test's bound.
            var spec = tinySpec(seed: 14, iterations: 200_000)
            spec.train.evalEvery = 50_000
            try coordinator.send(
                .task(
                    WireMessage.TaskAssignment(
                        taskID: 70, trialID: spec.trialID, spec: spec, dataset: TinyData.ref)))
            _ = try coordinator.expect("HEARTBEAT in round 0 past iteration 100") { message in
                if case .heartbeat(let h) = message, let p = h.progress.first, p.round == 0, p.iteration >= 100 {
                    true
                } else {
                    nil
                }
            }
            try coordinator.send(.shutdown(WireMessage.Shutdown(mode: .drain, reason: "coordinator stopping")))
            let giveBack = try coordinator.expect("GIVE_BACK") { if case .giveBack(let g) = $0 { g } else { nil } }
            #expect(giveBack.trials == [WireMessage.ReturnedTrial(taskID: 70, trialID: spec.trialID, lastRound: nil)])
            #expect(!coordinator.received.contains { if case .roundResult = $0.message { true } else { false } })
            let exit = try #require(running.outcome(within: 10))
            #expect(try exit.get() == .drained)
        }
    }
}
