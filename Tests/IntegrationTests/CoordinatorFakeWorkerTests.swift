import Foundation
import Logging
import LotteryCoordinator
import LotteryCore
import LotteryWire
import MaskCodec
import Testing
import ZeroMQ

/// The coordinator runtime in this process, driven by workers the test plays over real sockets (tcp loopback).
@Suite(.serialized) struct CoordinatorFakeWorkerTests {
    static let logger: Logger = {
        var logger = Logger(label: "test.coordinator")
        logger.logLevel = .warning
        return logger
    }()

    /// Heartbeats every 0.3 s (a worker is dead after 0.9 s of silence): at 0.1 s a fake worker starved of CPU by
    /// the process tests running alongside was declared dead mid-sweep and REJECTed (seen in release runs).
    static func config(_ dir: URL, spec: String, keys: URL? = nil) -> CoordinatorConfig {
        CoordinatorConfig(
            specPath: spec, bind: "tcp://127.0.0.1:0", outputDirectory: dir.appendingPathComponent("out"),
            keysDirectory: keys, dataDirectory: dir.appendingPathComponent("data"), heartbeatInterval: 0.3,
            exportInterval: 0.5, progressStyle: .logLines)
    }

    static func start(_ config: CoordinatorConfig) throws -> (Coordinator, String) {
        let data = config.dataDirectory
        if !FileManager.default.fileExists(atPath: data.path) { try writeTinyMNIST(data, train: 100, test: 20) }
        let coordinator = Coordinator.start(config, logger: logger)
        let endpoint = try coordinator.waitUntilListening().get()
        return (coordinator, endpoint)
    }

    /// Every (trial, round) of the sweep appears exactly once in rounds.csv, and every mask file resolves.
    static func checkResults(_ out: URL, trials: Int, rounds: Int) throws {
        let rows = try readCSV(out.appendingPathComponent("rounds.csv"))
        #expect(rows.count == trials * rounds)
        let keys = rows.map { "\($0["trial_id"]!)#\($0["round"]!)" }
        #expect(Set(keys).count == keys.count)
        for row in rows {
            let trialID = row["trial_id"]!
            let round = Int(row["round"]!)!
            let folder = out.appendingPathComponent("masks/\(trialID)")
            let file = { (r: Int) in folder.appendingPathComponent(String(format: "round-%02d.ltmask", r)) }
            let bytes = Array(try Data(contentsOf: file(round)))
            let mask = try MaskFile.decodeChain(bytes) { depth, _ in
                (try? Data(contentsOf: file(round - depth))).map(Array.init)
            }
            var spec = TrialSpec()
            spec.model.layers = [20, 10]
            #expect(mask == FakeMasks.mask(spec, trialID: trialID, round: round))
            #expect(row["test_acc_at_es"] == CSV.number(0.9 + 0.01 * Double(round) - 0.005))
        }
    }

    @Test(arguments: [false, true])
    func sweepCompletesWithOneWorker(curve: Bool) throws {
        try withTemporaryDirectory { dir in
            let spec = try writeSweep(dir)
            var keys: URL?
            var clientKeys: (CurveKeyPair, CurveKey)?
            if curve {
                let keyDir = dir.appendingPathComponent("keys")
                try FileManager.default.createDirectory(
                    at: keyDir.appendingPathComponent("workers"), withIntermediateDirectories: true)
                let server = try CurveKeyPair.generate()
                _ = try server.save(directory: keyDir.path, name: "server")
                let worker = try CurveKeyPair.generate()
                _ = try worker.save(directory: keyDir.appendingPathComponent("workers").path, name: "alice")
                keys = keyDir
                clientKeys = (worker, server.publicKey)
            }
            let config = Self.config(dir, spec: spec, keys: keys)
            let (coordinator, endpoint) = try Self.start(config)
            let context = try ZMQContext()
            let worker = try FakeWorker(context: context, endpoint: endpoint, name: "fake-1", curve: clientKeys)
            let tasks = try worker.serveUntilShutdown()
            let summary = try coordinator.wait().get()
            #expect(tasks == 2)
            #expect(summary.trialsDone == 2 && summary.trialsFailed == 0 && summary.exitStatus == 0)
            #expect(summary.roundsRecorded == 6)
            try Self.checkResults(config.outputDirectory, trials: 2, rounds: 3)
            let rows = try readCSV(config.outputDirectory.appendingPathComponent("rounds.csv"))
            // With CURVE the worker is named by its authenticated key first.
            #expect(rows.allSatisfy { $0["worker"] == (curve ? "alice/fake-1" : "fake-1") })
            #expect(
                FileManager.default.fileExists(atPath: config.outputDirectory.appendingPathComponent("sweep.yaml").path)
            )

            // A restart on the same folder finds everything recorded and ends without any worker.
            let again = try Self.start(config).0.wait().get()
            #expect(again.trialsDone == 2 && again.roundsRecorded == 6 && again.exitStatus == 0)
        }
    }

    @Test func hostilePeersAreRejectedWhileTheSweepCompletes() throws {
        try withTemporaryDirectory { dir in
            let config = Self.config(dir, spec: try writeSweep(dir))
            let (coordinator, endpoint) = try Self.start(config)
            let context = try ZMQContext()
            let hostile = try FakeWorker(context: context, endpoint: endpoint, name: "hostile")
            hostile.heartbeats = false
            // Garbage frames: REJECT bad_message.
            try hostile.sendRaw([[0xde, 0xad], [0xbe, 0xef]])
            let first = try hostile.wait { if case .reject(let r) = $0 { return r } else { return nil } }
            #expect(first.code == .badMessage)
            // A future protocol version: REJECT version_mismatch, in this build's version.
            try hostile.sendRaw([Wire.header(.hello, version: 9), Array("{}".utf8)])
            let second = try hostile.wait { if case .reject(let r) = $0 { return r } else { return nil } }
            #expect(second.code == .versionMismatch)
            // A result before HELLO: unknown worker.
            try hostile.send(.ready(WireMessage.Ready(credit: 1)))
            let third = try hostile.wait { if case .reject(let r) = $0 { return r } else { return nil } }
            #expect(third.code == .unknownWorker)
            // A coordinator-only message: unexpected.
            try hostile.send(.shutdown(WireMessage.Shutdown(mode: .finish, reason: "ha")))
            let fourth = try hostile.wait { if case .reject(let r) = $0 { return r } else { return nil } }
            #expect(fourth.code == .unexpectedMessage)

            let worker = try FakeWorker(context: context, endpoint: endpoint, name: "honest")
            #expect(try worker.serveUntilShutdown() == 2)
            let summary = try coordinator.wait().get()
            #expect(summary.exitStatus == 0 && summary.trialsDone == 2)
            try Self.checkResults(config.outputDirectory, trials: 2, rounds: 3)
        }
    }

    @Test func badMaskIsRejectedNeverStoredAndTheTrialRequeued() throws {
        try withTemporaryDirectory { dir in
            let config = Self.config(dir, spec: try writeSweep(dir, seeds: 1))
            let (coordinator, endpoint) = try Self.start(config)
            let context = try ZMQContext()
            let worker = try FakeWorker(context: context, endpoint: endpoint, name: "sloppy")
            try worker.hello()
            try worker.send(.ready(WireMessage.Ready(credit: 1)))
            let task = try worker.nextTask()
            // A mask of the wrong shape ([784, 30] first layer): CANCEL, no ACK.
            let wrong = Mask(shapes: [(784, 30), (30, 10), (10, 10)])
            let ack = try worker.sendRound(
                task, round: 0, mask: FakeMasks.mask(task.spec, trialID: task.trialID, round: 0), previous: nil,
                maskOverride: MaskFile.encode(wrong))
            #expect(ack == nil)
            // A corrupted mask (CRC) on the retry is rejected too.
            try worker.send(.ready(WireMessage.Ready(credit: 1)))
            let retry = try worker.nextTask()
            #expect(retry.trialID == task.trialID && retry.startRound == 0 && retry.taskID != task.taskID)
            var corrupt = MaskFile.encode(FakeMasks.mask(task.spec, trialID: task.trialID, round: 0))
            corrupt[corrupt.count - 1] ^= 0xFF
            #expect(
                try worker.sendRound(
                    retry, round: 0, mask: FakeMasks.mask(task.spec, trialID: task.trialID, round: 0), previous: nil,
                    maskOverride: corrupt) == nil)
            // Nothing was stored for round 0.
            #expect(
                !FileManager.default.fileExists(
                    atPath: config.outputDirectory.appendingPathComponent("masks/\(task.trialID)/round-00.ltmask").path)
            )
            // The third try is clean and completes the sweep (3 bad ends would have failed the trial).
            try worker.send(.ready(WireMessage.Ready(credit: 1)))
            try worker.run(try worker.nextTask())
            try worker.send(.ready(WireMessage.Ready(credit: 1)))
            _ = try worker.wait { if case .shutdown = $0 { return true } else { return nil } }
            let summary = try coordinator.wait().get()
            #expect(summary.trialsDone == 1 && summary.exitStatus == 0)
            try Self.checkResults(config.outputDirectory, trials: 1, rounds: 3)
        }
    }

    /// The fast path records a round whose `mask` is the recorded next mask without decoding anything; its
    /// `next_mask` is decoded by the audit thread, which fails the trial when that file is a delta against any mask
    /// but the round's own (here: against the round before, which a sloppy worker might do).
    @Test func aNextMaskAgainstTheWrongParentFailsTheTrialInTheAudit() throws {
        try withTemporaryDirectory { dir in
            let config = Self.config(dir, spec: try writeSweep(dir, rounds: 3, seeds: 1))
            let (coordinator, endpoint) = try Self.start(config)
            let context = try ZMQContext()
            let worker = try FakeWorker(context: context, endpoint: endpoint, name: "sloppy")
            try worker.hello()
            try worker.send(.ready(WireMessage.Ready(credit: 1)))
            let task = try worker.nextTask()
            let masks = (0...3).map { FakeMasks.mask(task.spec, trialID: task.trialID, round: $0) }
            for round in 0...1 {
                #expect(
                    try worker.sendRound(task, round: round, mask: masks[round], previous: round > 0 ? masks[round - 1] : nil)?
                        .status == .recorded)
            }
            let wrong = MaskFile.encode(masks[3], parent: masks[1])
            #expect((try? MaskFile.info(wrong))?.parentChecksum == masks[1].checksum)
            // Recorded (structure and chain of `mask` are fine), then the audit fails the trial and cancels it.
            #expect(
                try worker.sendRound(task, round: 2, mask: masks[2], previous: masks[1], nextOverride: wrong)?.status
                    == .recorded)
            let cancel = try worker.wait { message -> WireMessage.Cancel? in
                if case .cancel(let cancel) = message { return cancel } else { return nil }
            }
            #expect(cancel.trialID == task.trialID)
            _ = try worker.wait { if case .shutdown = $0 { return true } else { return nil } }
            let summary = try coordinator.wait().get()
            #expect(summary.trialsDone == 0 && summary.exitStatus != 0)
            let trials = try readCSV(config.outputDirectory.appendingPathComponent("trials.csv"))
            #expect(trials.first?["status"] == "failed")
            #expect(trials.first?["reason"]?.contains("mask audit") == true)
        }
    }

    @Test func deadWorkersTrialResumesFromTheRecordedNextMask() throws {
        try withTemporaryDirectory { dir in
            let config = Self.config(dir, spec: try writeSweep(dir, rounds: 3, seeds: 1))
            let (coordinator, endpoint) = try Self.start(config)
            let context = try ZMQContext()
            do {
                let first = try FakeWorker(context: context, endpoint: endpoint, name: "doomed")
                try first.hello()
                try first.send(.ready(WireMessage.Ready(credit: 1)))
                let task = try first.nextTask()
                var previous: Mask?
                for round in 0...1 {
                    let mask = FakeMasks.mask(task.spec, trialID: task.trialID, round: round)
                    #expect(
                        try first.sendRound(task, round: round, mask: mask, previous: previous)?.status == .recorded)
                    previous = mask
                }
                // Then it goes silent (its socket closes here): 3 missed heartbeats later the trial is requeued.
            }
            let second = try FakeWorker(context: context, endpoint: endpoint, name: "rescuer")
            try second.hello()
            try second.send(.ready(WireMessage.Ready(credit: 1)))
            let task = try second.nextTask()
            #expect(task.startRound == 2)
            #expect(task.resumeMask.map { try? MaskFile.info($0).isDelta } == false)
            try second.run(task)  // checks resume_mask == the mask of round 2
            try second.send(.ready(WireMessage.Ready(credit: 1)))
            _ = try second.wait { if case .shutdown = $0 { return true } else { return nil } }
            let summary = try coordinator.wait().get()
            #expect(summary.trialsDone == 1 && summary.roundsRecorded == 4)
            try Self.checkResults(config.outputDirectory, trials: 1, rounds: 4)
        }
    }

    @Test func nonLoopbackBindWithoutKeysIsRefused() throws {
        try withTemporaryDirectory { dir in
            var config = Self.config(dir, spec: try writeSweep(dir))
            config.bind = "tcp://*:0"
            let result = Coordinator.start(config, logger: Self.logger).wait()
            guard case .failure(let error) = result else {
                Issue.record("a non-loopback bind without keys started")
                return
            }
            #expect(error.description.contains("--insecure"))
            #expect(CoordinatorConfig.isLoopback("tcp://127.0.0.1:5555"))
            #expect(!CoordinatorConfig.isLoopback("tcp://0.0.0.0:5555"))
        }
    }

    @Test func anotherSweepOnTheSameFolderIsRefused() throws {
        try withTemporaryDirectory { dir in
            let config = Self.config(dir, spec: try writeSweep(dir, seeds: 1))
            let (coordinator, endpoint) = try Self.start(config)
            let context = try ZMQContext()
            _ = try FakeWorker(context: context, endpoint: endpoint, name: "w").serveUntilShutdown()
            _ = try coordinator.wait().get()
            let other = Self.config(dir, spec: try writeSweep(dir, name: "other", seeds: 3))
            let result = Coordinator.start(other, logger: Self.logger).wait()
            guard case .failure(let error) = result else {
                Issue.record("another sweep was accepted on the same folder")
                return
            }
            #expect(error.description.contains("already holds sweep 'fake'"))
        }
    }

    /// A results folder that stops being writable: the coordinator records nothing more, does not acknowledge the
    /// result it could not record, tells the worker to drain, keeps what is recorded and ends with status 1.
    /// (Tests run as root, so a file where the trial's mask folder must go stands in for an unwritable folder.)
    @Test func storeWriteErrorStopsTheSweepAndKeepsWhatIsRecorded() throws {
        try withTemporaryDirectory { dir in
            let config = Self.config(dir, spec: try writeSweep(dir, seeds: 1))
            let (coordinator, endpoint) = try Self.start(config)
            let context = try ZMQContext()
            let worker = try FakeWorker(context: context, endpoint: endpoint, name: "w")
            try worker.hello()
            try worker.send(.ready(WireMessage.Ready(credit: 1)))
            let task = try worker.nextTask()
            let mask0 = FakeMasks.mask(task.spec, trialID: task.trialID, round: 0)
            #expect(try worker.sendRound(task, round: 0, mask: mask0, previous: nil)?.status == .recorded)
            let folder = config.outputDirectory.appendingPathComponent("masks/\(task.trialID)")
            try FileManager.default.removeItem(at: folder)
            try Data("in the way".utf8).write(to: folder)
            let mask1 = FakeMasks.mask(task.spec, trialID: task.trialID, round: 1)
            let next = FakeMasks.prune(mask1, trialID: task.trialID, round: 2)
            try worker.send(
                .roundResult(
                    WireMessage.RoundResult(
                        taskID: task.taskID, metrics: FakeMasks.metrics(trialID: task.trialID, round: 1, mask: mask1),
                        mask: MaskFile.encode(mask1), nextMask: MaskFile.encode(next))))
            let shutdown = try worker.wait { message -> WireMessage.Shutdown? in
                if case .ack(let ack) = message, ack.round == 1 { Issue.record("round 1 was acknowledged") }
                if case .shutdown(let shutdown) = message { return shutdown }
                return nil
            }
            #expect(shutdown.mode == .drain && shutdown.reason.contains("cannot record round 1"))
            let summary = try coordinator.wait().get()
            #expect(summary.exitStatus == 1 && summary.roundsRecorded == 1)
            #expect(summary.stoppedEarly?.contains("cannot record round 1") == true)
            // Round 0 is intact: a restart on a repaired folder resumes at round 1.
            try FileManager.default.removeItem(at: folder)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let (again, endpoint2) = try Self.start(config)
            let rescuer = try FakeWorker(context: context, endpoint: endpoint2, name: "w2")
            try rescuer.hello()
            try rescuer.send(.ready(WireMessage.Ready(credit: 1)))
            let resumed = try rescuer.nextTask()
            #expect(resumed.startRound == 1)
            again.stop(reason: "test over")
            _ = again.wait()
        }
    }
}
