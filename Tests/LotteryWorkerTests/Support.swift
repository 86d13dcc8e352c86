import Foundation
import LotteryCore
import LotteryWire
import LotteryWorker
import MaskCodec
import Synchronization
import Testing
import ZeroMQ

/// Runs `body` with a fresh temporary directory, removed afterwards.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("worker-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}

/// A tiny MNIST-shaped dataset (28×28, 10 classes): each class lights its own band of rows, plus seeded noise.
enum TinyData {
    static let trainCount = 240
    static let testCount = 80

    static func files() -> [(name: String, bytes: [UInt8])] {
        func images(_ count: Int, seed: Int) -> (IDX.Images, [UInt8]) {
            var rng = LotteryRNG(seed: seed)
            var pixels: [UInt8] = []
            var labels: [UInt8] = []
            for index in 0..<count {
                let label = index % 10
                for row in 0..<28 {
                    for _ in 0..<28 {
                        let lit = row / 3 == label
                        pixels.append(UInt8(min(255, (lit ? 160 : 0) + Int(rng.below(60)))))
                    }
                }
                labels.append(UInt8(label))
            }
            return (IDX.Images(count: count, rows: 28, cols: 28, pixels: pixels), labels)
        }
        let (trainImages, trainLabels) = images(trainCount, seed: 1)
        let (testImages, testLabels) = images(testCount, seed: 2)
        return [
            ("train-images-idx3-ubyte", IDX.encode(trainImages)),
            ("train-labels-idx1-ubyte", IDX.encode(labels: trainLabels)),
            ("t10k-images-idx3-ubyte", IDX.encode(testImages)),
            ("t10k-labels-idx1-ubyte", IDX.encode(labels: testLabels)),
        ]
    }

    static let bundle: [UInt8] = DatasetBundle.pack(files: files())
    static let ref = WireMessage.DatasetRef(id: "mnist", checksum: DatasetBundle.checksum(bundle))

    /// Installs the dataset as a worker would have after a fetch (`<dir>/mnist/` + `.bundle-sha256`).
    static func install(in directory: String) throws {
        let folder = URL(fileURLWithPath: directory).appendingPathComponent("mnist")
        _ = try DatasetBundle.unpack(bundle, into: folder)
        try Data((ref.checksum + "\n").utf8).write(to: folder.appendingPathComponent(".bundle-sha256"))
    }

    /// The splits a worker computes for `spec`.
    static func splits(for spec: TrialSpec, directory: String) throws -> DataSplits {
        let (train, test) = try DataStore.load("mnist", directory: directory)
        return DataSplits(train: train, test: test, validationCount: spec.data.validation, seed: spec.splitSeed)
    }
}

/// 784-16-8-10, 40 iterations of batch 20 per round, rounds 0…2.
func tinySpec(seed: Int = 7, iterations: Int = 40) -> TrialSpec {
    var spec = TrialSpec()
    spec.model.layers = [16, 8]
    spec.train.batch = 20
    spec.train.iterations = iterations
    spec.train.evalEvery = 20
    spec.train.lr = 1e-2
    spec.data.validation = 40
    spec.seed = seed
    spec.prune.rates = [0.3, 0.3, 0.2]
    spec.prune.rounds = 2
    return spec
}

/// Metrics without wall time, for bit-identity comparisons.
func timeless(_ metrics: RoundMetrics) -> RoundMetrics {
    var copy = metrics
    copy.seconds = 0
    return copy
}

func codecMask(_ layers: [LayerMask]) -> Mask {
    Mask(layers: layers.map { MaskLayer(rows: $0.rows, cols: $0.cols, kept: $0.kept) })
}

/// A worker configuration for tests: one slot, fast timers, long liveness unless a test wants reconnects.
func testConfig(endpoint: String, dataDirectory: String, slots: Int = 1, liveness: Int = 400) -> WorkerConfig {
    var config = WorkerConfig(endpoint: endpoint, dataDirectory: dataDirectory)
    config.slots = slots
    config.name = "test-worker"
    config.cores = 2
    config.cpuKind = "test-cpu"
    config.buildID = "test-build"
    config.heartbeatMilliseconds = 50
    config.liveness = liveness
    config.reconnectMinMilliseconds = 50
    config.reconnectMaxMilliseconds = 200
    config.flushMilliseconds = 200
    config.drainAckMilliseconds = 2000
    return config
}

/// A worker running `run()` on its own thread; `outcome(within:)` waits (bounded) for it to return.
final class RunningWorker: Sendable {
    let worker: Worker
    private let result = LockedBox<Result<WorkerExit, any Error>?>(nil)

    init(_ config: WorkerConfig) {
        worker = Worker(config: config)
        let worker = self.worker
        let result = self.result
        let thread = Thread {
            do { result.set(.success(try worker.run())) } catch { result.set(.failure(error)) }
        }
        thread.name = "test-worker-io"
        thread.start()
    }

    /// The worker's exit, or `nil` if it is still running after `seconds`.
    func outcome(within seconds: Double) -> Result<WorkerExit, any Error>? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let value = result.get() { return value }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return result.get()
    }

    /// Makes sure the worker thread ends (stop, then a bounded wait); call at the end of every test.
    func shutDown() {
        worker.stop(reason: "test over")
        _ = outcome(within: 10)
    }
}

final class LockedBox<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func get() -> Value { value.withLock { $0 } }
    func set(_ newValue: Value) { value.withLock { $0 = newValue } }
}

/// The coordinator's side in a test: one ROUTER on tcp://127.0.0.1:<random>, speaking LotteryWire.
///
/// Every wait has a deadline; a missing message fails the test through `#require` instead of hanging.
final class FakeCoordinator {
    let socket: ZMQSocket
    let endpoint: String
    /// Everything received so far, in order, with the sender's routing id.
    private(set) var received: [(identity: [UInt8], message: WireMessage)] = []
    /// The routing id of the worker's current connection (the last HELLO's).
    var identity: [UInt8] = []
    /// While true, waiting sends a HEARTBEAT to the worker every 50 ms, so it never thinks the coordinator died.
    var heartbeats = true
    private var lastBeat = Date.distantPast

    init() throws {
        let context = try ZMQContext()
        socket = try ZMQSocket(context, type: .router)
        try socket.set(.maxMessageSize, Wire.maxFrameBytes)
        try socket.bind("tcp://127.0.0.1:*")
        endpoint = try socket.lastEndpoint
    }

    /// The next message, or `nil` after `seconds`; undecodable frames are a test failure.
    func next(within seconds: Double = 10) throws -> WireMessage? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if heartbeats, !identity.isEmpty, Date().timeIntervalSince(lastBeat) >= 0.05 {
                try send(.heartbeat(WireMessage.Heartbeat()))
                lastBeat = Date()
            }
            let remaining = max(1, Int(deadline.timeIntervalSinceNow * 1000))
            guard let frames = try socket.receive(timeoutMilliseconds: min(remaining, heartbeats ? 20 : 100)) else {
                continue
            }
            let (identity, payload) = try Wire.splitRouterFrames(frames)
            let message = try WireMessage.decode(payload)
            if case .hello = message { self.identity = identity }
            received.append((identity, message))
            return message
        }
        return nil
    }

    /// Waits for the first message that `match` accepts (others are skipped but kept in `received`).
    func expect<T>(
        _ what: String, within seconds: Double = 20, sourceLocation: SourceLocation = #_sourceLocation,
        _ match: (WireMessage) -> T?
    ) throws -> T {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard let message = try next(within: deadline.timeIntervalSinceNow) else { break }
            if let value = match(message) { return value }
        }
        Issue.record("no \(what) within \(seconds) s", sourceLocation: sourceLocation)
        throw TestTimeout(what: what)
    }

    func send(_ message: WireMessage) throws {
        try socket.send(Wire.routerFrames(to: identity, try message.encode()))
    }

    func sendRaw(_ frames: [[UInt8]]) throws {
        try socket.send([identity] + frames)
    }

    /// HELLO then READY from a new connection; returns them.
    func handshake() throws -> (WireMessage.Hello, WireMessage.Ready) {
        let hello = try expect("HELLO") { if case .hello(let h) = $0 { h } else { nil } }
        let ready = try expect("READY") { if case .ready(let r) = $0 { r } else { nil } }
        return (hello, ready)
    }

    func roundResult(within seconds: Double = 30) throws -> WireMessage.RoundResult {
        try expect("ROUND_RESULT", within: seconds) { if case .roundResult(let r) = $0 { r } else { nil } }
    }

    func ack(_ result: WireMessage.RoundResult) throws {
        try send(.ack(WireMessage.Ack(taskID: result.taskID, trialID: result.trialID, round: result.round)))
    }
}

struct TestTimeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Decodes the masks of a trial's results along their delta chain: `mask` against the previous round's `mask`
/// (or self-contained), `next_mask` against `mask`, checking the `*_parent` fields against the file headers.
func decodeChain(_ results: [WireMessage.RoundResult]) throws -> [(mask: Mask, next: Mask?)] {
    var previous: Mask? = nil
    var out: [(Mask, Mask?)] = []
    for result in results {
        let info = try MaskFile.info(result.mask)
        #expect(result.maskParent == info.parentChecksum)
        let mask = try MaskFile.decode(result.mask, parent: info.isDelta ? previous : nil)
        var next: Mask? = nil
        if let bytes = result.nextMask {
            let nextInfo = try MaskFile.info(bytes)
            #expect(result.nextMaskParent == nextInfo.parentChecksum)
            next = try MaskFile.decode(bytes, parent: nextInfo.isDelta ? mask : nil)
        }
        out.append((mask, next))
        previous = mask
    }
    return out
}

/// The setup most worker tests share: a temporary data folder with the tiny data set, a fake coordinator, a worker
/// connected to it past HELLO/READY; the worker is shut down afterwards.
func withConnectedWorker(_ body: (FakeCoordinator, RunningWorker, String) throws -> Void) throws {
    try withTemporaryDirectory { dir in
        try TinyData.install(in: dir)
        let coordinator = try FakeCoordinator()
        let running = RunningWorker(testConfig(endpoint: coordinator.endpoint, dataDirectory: dir))
        defer { running.shutDown() }
        _ = try coordinator.handshake()
        try body(coordinator, running, dir)
    }
}
