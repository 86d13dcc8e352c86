import Foundation
import LotteryCore
import LotteryWire
import MaskCodec
import ZeroMQ

/// Runs `body` with a fresh temporary folder and removes it afterwards (swift-nio's `withTemporaryDirectory`).
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lth-it-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url)
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Deterministic stand-in for IMP masks: round 0 keeps everything, round r drops ~20% of round r−1's kept
/// weights, chosen by a seeded RNG from the trial id and round.
enum FakeMasks {
    static func shapes(_ spec: TrialSpec) -> [(rows: Int, cols: Int)] {
        (try? spec.architecture())?.weightShapes ?? []
    }

    static func prune(_ mask: Mask, trialID: String, round: Int) -> Mask {
        var rng = LotteryRNG(seed: round, stream: "fake-mask-\(trialID)")
        return Mask(
            layers: mask.layers.map { layer in
                MaskLayer(rows: layer.rows, cols: layer.cols, kept: layer.kept.map { $0 && rng.below(5) != 0 })
            })
    }

    static func mask(_ spec: TrialSpec, trialID: String, round: Int) -> Mask {
        var mask = Mask(shapes: shapes(spec))
        if round > 0 { for r in 1...round { mask = prune(mask, trialID: trialID, round: r) } }
        return mask
    }

    static func metrics(trialID: String, round: Int, mask: Mask) -> RoundMetrics {
        let accuracy = 0.9 + 0.01 * Double(round)
        return RoundMetrics(
            trialID: trialID, round: round, density: mask.density, layerDensities: mask.layers.map(\.density),
            keptCounts: mask.layers.map(\.keptCount), earlyStopIteration: 100 * (round + 1), valLossAtES: 0.25,
            valAccAtES: accuracy, testAccAtES: accuracy - 0.005, testAccFinal: accuracy - 0.01, trainAccFinal: 0.99,
            seconds: 0.01,
            curve: [EvalPoint(iteration: 100, valLoss: 0.3, valAcc: accuracy, testAcc: accuracy - 0.005)],
            layers: mask.layers.map { _ in
                LayerSummary(positiveAtInit: 0.5, positiveAfter: 0.5, meanAbsAtInit: 0.1, meanAbsAfter: 0.12)
            })
    }
}

/// A worker played by the test: one DEALER socket speaking the wire protocol, scripted step by step.
final class FakeWorker {
    let socket: ZMQSocket
    let name: String
    var lastSent = Date()
    /// Every message received, in order (heartbeats included).
    var received: [WireMessage] = []
    /// Whether ``wait(seconds:_:)`` sends HEARTBEATs while it waits (off for a peer that never says HELLO).
    var heartbeats = true

    init(context: ZMQContext, endpoint: String, name: String, curve: (CurveKeyPair, CurveKey)? = nil) throws {
        socket = try ZMQSocket(context, type: .dealer)
        try socket.set(.linger, 0)
        if let curve { try socket.configureCurveClient(keyPair: curve.0, serverKey: curve.1) }
        try socket.connect(endpoint)
        self.name = name
    }

    func send(_ message: WireMessage) throws {
        try socket.send(try message.encode())
        lastSent = Date()
    }

    func sendRaw(_ frames: [[UInt8]]) throws { try socket.send(frames) }

    func hello(slots: Int = 1) throws {
        try send(
            .hello(
                WireMessage.Hello(
                    workerName: name, host: "testhost", instanceID: "\(name)-\(UUID().uuidString.prefix(8))",
                    cores: 1, slots: slots, cpuKind: "test", buildID: "test")))
    }

    /// Waits for the first message `match` accepts (others are recorded and skipped), heartbeating meanwhile.
    func wait<T>(seconds: Double = 20, _ match: (WireMessage) -> T?) throws -> T {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if heartbeats, Date().timeIntervalSince(lastSent) > 0.05 {
                try send(.heartbeat(WireMessage.Heartbeat()))
            }
            guard let frames = try socket.receive(timeoutMilliseconds: 20) else { continue }
            let message = try WireMessage.decode(frames)
            received.append(message)
            if let value = match(message) { return value }
        }
        throw TestFailure("\(name): timed out; received \(received.map(\.type))")
    }

    func nextTask() throws -> WireMessage.TaskAssignment {
        try wait { if case .task(let task) = $0 { return task } else { return nil } }
    }

    /// Sends one round's result (mask as a delta against the previous round) and returns the ACK.
    func sendRound(
        _ task: WireMessage.TaskAssignment, round: Int, mask: Mask, previous: Mask?, maskOverride: [UInt8]? = nil,
        nextOverride: [UInt8]? = nil
    ) throws -> WireMessage.Ack? {
        let last = task.spec.prune.rounds
        let next = round < last ? FakeMasks.prune(mask, trialID: task.trialID, round: round + 1) : nil
        let maskBytes = maskOverride ?? MaskFile.encode(mask, parent: previous)
        let nextBytes = nextOverride ?? next.map { MaskFile.encode($0, parent: mask) }
        try send(
            .roundResult(
                WireMessage.RoundResult(
                    taskID: task.taskID, metrics: FakeMasks.metrics(trialID: task.trialID, round: round, mask: mask),
                    mask: maskBytes, nextMask: nextBytes,
                    maskParent: (try? MaskFile.info(maskBytes))?.parentChecksum ?? nil,
                    nextMaskParent: try nextBytes.map { try MaskFile.info($0).parentChecksum } ?? nil)))
        return try wait { message -> WireMessage.Ack?? in
            switch message {
            case .ack(let ack) where ack.trialID == task.trialID && ack.round == round: return .some(ack)
            case .cancel(let cancel) where cancel.taskID == task.taskID: return .some(nil)
            default: return nil
            }
        }
    }

    /// Runs a task to its end: every round from `startRound`, then TRIAL_DONE. Checks the resume mask.
    func run(_ task: WireMessage.TaskAssignment) throws {
        var mask: Mask
        if task.startRound > 0 {
            guard let resume = task.resumeMask else {
                throw TestFailure("TASK at round \(task.startRound) without resume_mask")
            }
            mask = try MaskFile.decode(resume)
            guard mask == FakeMasks.mask(task.spec, trialID: task.trialID, round: task.startRound) else {
                throw TestFailure("resume_mask of \(task.trialID) is not the next mask of round \(task.startRound - 1)")
            }
        } else {
            mask = FakeMasks.mask(task.spec, trialID: task.trialID, round: 0)
        }
        var previous: Mask? =
            task.startRound > 0 ? FakeMasks.mask(task.spec, trialID: task.trialID, round: task.startRound - 1) : nil
        for round in task.startRound...task.spec.prune.rounds {
            guard let ack = try sendRound(task, round: round, mask: mask, previous: previous) else {
                throw TestFailure("round \(round) of \(task.trialID) was cancelled")
            }
            guard ack.status == .recorded || ack.status == .duplicate else { throw TestFailure("bad ack") }
            previous = mask
            mask = FakeMasks.prune(mask, trialID: task.trialID, round: round + 1)
        }
        try send(
            .trialDone(
                WireMessage.TrialDone(taskID: task.taskID, trialID: task.trialID, lastRound: task.spec.prune.rounds)))
    }

    /// HELLO, READY, then runs tasks until SHUTDOWN.
    func serveUntilShutdown(seconds: Double = 30) throws -> Int {
        try hello()
        try send(.ready(WireMessage.Ready(credit: 1)))
        var tasks = 0
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let next: WireMessage = try wait(seconds: deadline.timeIntervalSinceNow) { message in
                switch message {
                case .task, .shutdown: return message
                default: return nil
                }
            }
            if case .task(let task) = next {
                try run(task)
                tasks += 1
                try send(.ready(WireMessage.Ready(credit: 1)))
            } else {
                return tasks
            }
        }
        throw TestFailure("\(name): no SHUTDOWN")
    }
}

/// A tiny synthetic sweep: LeNet-shaped but small ([784, 20, 10, 10]), `rounds` pruning rounds, `seeds` trials.
func writeSweep(_ directory: URL, name: String = "fake", rounds: Int = 2, seeds: Int = 2) throws -> String {
    let path = directory.appendingPathComponent("\(name).yaml").path
    let text = """
        name: \(name)
        base:
          dataset: mnist
          model:
            layers: [20, 10]
          train:
            iterations: 200
          prune:
            rounds: \(rounds)
          synthetic:
            round_ms: 1
        seeds: \(seeds)

        """
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// Data rows of a CSV file as dictionaries keyed by the header (no quoted commas in the columns we read).
func readCSV(_ url: URL) throws -> [[String: String]] {
    let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
    guard let header = lines.first else { return [] }
    let names = splitCSVLine(header)
    return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(names, splitCSVLine($0))) }
}

func splitCSVLine(_ line: String) -> [String] {
    var cells: [String] = []
    var cell = ""
    var quoted = false
    for character in line {
        if character == "\"" {
            quoted.toggle()
        } else if character == ",", !quoted {
            cells.append(cell)
            cell = ""
        } else {
            cell.append(character)
        }
    }
    cells.append(cell)
    return cells
}
