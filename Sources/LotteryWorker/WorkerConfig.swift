import Foundation
import LotteryWire
public import ZeroMQ

/// Everything a ``Worker`` needs to know: where the coordinator is, how to authenticate, how many trials to
/// run at once, where datasets are cached, and how it presents itself in HELLO.
public struct WorkerConfig: Sendable {
    /// CURVE client keys: the worker's own pair and the coordinator's public key.
    public struct Curve: Sendable, Hashable {
        public var keyPair: CurveKeyPair
        public var serverKey: CurveKey
        /// This worker's public key file (`DIR/NAME.key`), named when the coordinator refuses the key.
        public var publicKeyFile: String?

        public init(keyPair: CurveKeyPair, serverKey: CurveKey, publicKeyFile: String? = nil) {
            self.keyPair = keyPair
            self.serverKey = serverKey
            self.publicKeyFile = publicKeyFile
        }
    }

    /// The coordinator's endpoint, e.g. `tcp://head-node:5555`.
    public var endpoint: String
    /// CURVE keys, or `nil` for a plain connection (the coordinator must then run `--insecure` or on loopback).
    public var curve: Curve?
    /// Trials trained at once, each on its own thread with single-threaded BLAS (≥ 1).
    public var slots: Int
    /// Name shown in the coordinator's progress and recorded per trial (HELLO `worker_name`).
    public var name: String
    /// Dataset cache: `<dataDirectory>/<dataset>/` holds the IDX files, `.bundle-sha256` the checksum they came with.
    public var dataDirectory: String
    /// Interval between HEARTBEATs, and the unit of every other timeout, in milliseconds.
    public var heartbeatMilliseconds: Int
    /// Heartbeat intervals without any message from the coordinator before the worker reconnects
    /// (Paranoid Pirate's "liveness").
    public var liveness: Int
    /// First and longest wait before reconnecting, in milliseconds; the wait doubles after every failed attempt.
    public var reconnectMinMilliseconds: Int
    public var reconnectMaxMilliseconds: Int
    /// How long the socket may keep sending queued messages (GIVE_BACK, results) when the worker exits.
    public var flushMilliseconds: Int
    /// After a drain, how long to wait for the ACKs of the last results before GIVE_BACK and exit.
    public var drainAckMilliseconds: Int
    /// How many in-memory train/validation splits to keep across tasks (each MNIST split is ~190 MB).
    public var cachedSplits: Int

    /// Testing hook: a trial this worker crashes on (`abort()`) as soon as it would start training it — a trial
    /// id, or `seed=N` for every trial with `seed: N`. `nil` (the default) disables it. `lth-worker` sets it from
    /// the environment variable `LTH_FAULT_CRASH_TRIAL`; the fault tests use it to make a poison trial.
    public var faultCrashTrial: String?
    /// Threads each trial with convolutions trains on (a LeNet trial uses one whatever this says). The numbers
    /// do not depend on it (docs/conv.md); default 1.
    public var trialThreads = 1

    /// HELLO fields describing the host and build.
    public var host: String
    public var instanceID: String
    public var cores: Int
    public var cpuKind: String
    public var buildID: String

    /// A configuration with the defaults of `lth-worker` (one slot per core, 1 s heartbeats, liveness 3,
    /// reconnect back-off 1…30 s), host facts read from this machine (``HostFacts``).
    ///
    /// - Parameters:
    ///   - endpoint: the coordinator, e.g. `tcp://head-node:5555`.
    ///   - dataDirectory: the dataset cache folder.
    public init(endpoint: String, dataDirectory: String) {
        self.endpoint = endpoint
        self.curve = nil
        self.cores = HostFacts.cores
        self.slots = max(1, HostFacts.cores)
        self.host = HostFacts.hostName
        self.name = HostFacts.hostName
        self.dataDirectory = dataDirectory
        self.heartbeatMilliseconds = 1000
        self.liveness = 3
        self.reconnectMinMilliseconds = 1000
        self.reconnectMaxMilliseconds = 30_000
        self.flushMilliseconds = 2000
        self.drainAckMilliseconds = 10_000
        self.cachedSplits = 2
        self.instanceID = HostFacts.randomInstanceID()
        self.cpuKind = HostFacts.cpuKind
        self.buildID = "unknown"
    }

    /// The HELLO this configuration announces (datasets and running trials filled in by the worker).
    func hello(datasets: [WireMessage.DatasetRef], running: [WireMessage.TrialProgress]) -> WireMessage.Hello {
        WireMessage.Hello(
            workerName: name, host: host, instanceID: instanceID, cores: cores, slots: slots, cpuKind: cpuKind,
            buildID: buildID, datasets: datasets, running: running)
    }
}

extension WorkerConfig.Curve {
    /// Loads a worker's CURVE keys from a folder made with `lth keygen`.
    ///
    /// The worker's own pair is `DIR/NAME.key_secret` (NAME = `name`, the worker's `--name`), or else
    /// `DIR/worker.key_secret`, or else the only `*.key_secret` in `DIR` — so one folder made by `cluster/keys-init`
    /// (`KEYS/worker-keys`, every worker's pair) serves every worker; the coordinator's public key is
    /// `DIR/server.key`, or else `DIR/coordinator.key`.
    ///
    /// - Parameters:
    ///   - directory: the keys folder.
    ///   - name: the worker's name, if it has a pair of that name in `directory`.
    /// - Throws: ``WorkerError`` saying which file is missing or ambiguous; `CurveKeyError` (with path and line)
    ///   for a malformed key file.
    public static func load(directory: String, name: String? = nil) throws -> Self {
        let fileManager = FileManager.default
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        guard let names = try? fileManager.contentsOfDirectory(atPath: directory) else {
            throw WorkerError(
                "--keys \(directory): no such folder (create one with `lth keygen \(directory) --name worker`)")
        }
        let secretFile: String
        if let name, names.contains("\(name).key_secret") {
            secretFile = "\(name).key_secret"
        } else if names.contains("worker.key_secret") {
            secretFile = "worker.key_secret"
        } else {
            let secrets = names.filter { $0.hasSuffix(".key_secret") }.sorted()
            guard secrets.count == 1 else {
                throw WorkerError(
                    secrets.isEmpty
                        ? "--keys \(directory): no *.key_secret file (create one with `lth keygen \(directory) --name worker`)"
                        : "--keys \(directory): several secret keys (\(secrets.joined(separator: ", "))) and none is "
                            + (name.map { "\($0).key_secret (--name)" } ?? "named by --name")
                            + ": pass the --name of one of them")
            }
            secretFile = secrets[0]
        }
        guard let serverFile = ["server.key", "coordinator.key"].first(where: names.contains) else {
            throw WorkerError(
                "--keys \(directory): no server.key: copy the coordinator's public key file there as server.key")
        }
        return Self(
            keyPair: try CurveKeyPair.load(secretKeyFile: path(secretFile)),
            serverKey: try CurveKey.load(publicKeyFile: path(serverFile)),
            publicKeyFile: path(String(secretFile.dropLast("_secret".count))))
    }
}
