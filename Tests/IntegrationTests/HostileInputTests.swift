import Foundation
import LotteryCoordinator
import LotteryCore
import LotteryWire
import MaskCodec
import TestPrerequisites
import Testing
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// Hostile and broken input at every door (docs/faults.md): frames, raw TCP bytes, unknown CURVE keys, and bad
/// files and flags on the command line. The coordinator never dies of it and keeps serving honest workers.
@Suite(.serialized) struct HostileInputTests {
    /// Malformed messages, one after the other from one peer (magic, frame counts, JSON, blob checksum): each is
    /// answered with REJECT `bad_message`; an oversize frame (over `ZMQ_MAXMSGSIZE`) costs its sender the
    /// connection; an honest worker then completes the sweep.
    @Test func malformedFramesAreRejectedAndTheSweepCompletes() throws {
        try withTemporaryDirectory { dir in
            let config = CoordinatorFakeWorkerTests.config(dir, spec: try writeSweep(dir))
            let (coordinator, endpoint) = try CoordinatorFakeWorkerTests.start(config)
            let context = try ZMQContext()
            let hostile = try FakeWorker(context: context, endpoint: endpoint, name: "hostile")
            hostile.heartbeats = false

            var spec = TrialSpec()
            spec.model.layers = [20, 10]
            let mask = FakeMasks.mask(spec, trialID: "t0", round: 0)
            let result = WireMessage.RoundResult(
                taskID: 1, metrics: FakeMasks.metrics(trialID: "t0", round: 0, mask: mask), mask: MaskFile.encode(mask))
            var badCRC = try WireMessage.roundResult(result).encode()
            badCRC[2][badCRC[2].count / 2] ^= 0x5A
            let ready = try WireMessage.ready(WireMessage.Ready(credit: 1)).encode()
            let cases: [(String, [[UInt8]])] = [
                ("wrong magic", [Array("XTW1".utf8) + [0, 1, 2], ready[1]]),
                ("header only", [ready[0]]),
                ("nine frames", [ready[0], ready[1]] + Array(repeating: [0], count: 7)),
                ("bad JSON", [ready[0], Array("{\"blobs\": [], \"message\": {\"credit\": ".utf8)]),
                ("wrong type in JSON", [ready[0], Array("{\"blobs\":[],\"message\":{\"credit\":\"many\"}}".utf8)]),
                ("blob checksum", badCRC),
                ("unknown type code", [Wire.magic + [UInt8(Wire.version >> 8), UInt8(Wire.version & 0xFF), 99], ready[1]]),
            ]
            for (name, frames) in cases {
                try hostile.sendRaw(frames)
                let reject = try hostile.wait(seconds: 10) {
                    if case .reject(let r) = $0 { return r } else { return nil }
                }
                #expect(reject.code == .badMessage, "\(name): \(reject)")
                #expect(!reject.message.isEmpty, "\(name): the REJECT says what was wrong")
            }

            // Over ZMQ_MAXMSGSIZE: libzmq drops the sender's connection before the coordinator sees a byte of it.
            let oversize = try FakeWorker(context: context, endpoint: endpoint, name: "oversize")
            oversize.heartbeats = false
            try oversize.sendRaw([ready[0], [UInt8](repeating: 0x20, count: Wire.maxFrameBytes + 1)])
            #expect(throws: TestFailure.self) { _ = try oversize.wait(seconds: 1.5) { $0 } }

            let worker = try FakeWorker(context: context, endpoint: endpoint, name: "honest")
            #expect(try worker.serveUntilShutdown() == 2)
            let summary = try coordinator.wait().get()
            #expect(summary.exitStatus == 0 && summary.trialsDone == 2)
            try CoordinatorFakeWorkerTests.checkResults(config.outputDirectory, trials: 2, rounds: 3)
        }
    }

    /// With CURVE, a client whose key is not allow-listed cannot get a single message to the coordinator (so it
    /// cannot start a multipart message libzmq would buffer either): no REJECT, no TASK, nothing; an allow-listed
    /// worker completes the sweep meanwhile and its rows carry its key name.
    @Test func unknownCurveKeyNeverReachesTheCoordinator() throws {
        try withTemporaryDirectory { dir in
            let keyDir = dir.appendingPathComponent("keys")
            try FileManager.default.createDirectory(
                at: keyDir.appendingPathComponent("workers"), withIntermediateDirectories: true)
            let server = try CurveKeyPair.generate()
            _ = try server.save(directory: keyDir.path, name: "server")
            let alice = try CurveKeyPair.generate()
            _ = try alice.save(directory: keyDir.appendingPathComponent("workers").path, name: "alice")
            let config = CoordinatorFakeWorkerTests.config(dir, spec: try writeSweep(dir), keys: keyDir)
            let (coordinator, endpoint) = try CoordinatorFakeWorkerTests.start(config)
            let context = try ZMQContext()

            let mallory = try FakeWorker(
                context: context, endpoint: endpoint, name: "mallory",
                curve: (try CurveKeyPair.generate(), server.publicKey))
            mallory.heartbeats = false
            try mallory.hello()
            try mallory.send(.ready(WireMessage.Ready(credit: 4)))
            try mallory.sendRaw([[UInt8](repeating: 0xAB, count: 1000)])
            #expect(throws: TestFailure.self) { _ = try mallory.wait(seconds: 1.5) { $0 } }
            #expect(mallory.received.isEmpty, "not even a REJECT: \(mallory.received.map(\.type))")

            let worker = try FakeWorker(
                context: context, endpoint: endpoint, name: "w", curve: (alice, server.publicKey))
            #expect(try worker.serveUntilShutdown() == 2)
            #expect(try coordinator.wait().get().exitStatus == 0)
            let rows = try readCSV(config.outputDirectory.appendingPathComponent("rounds.csv"))
            #expect(rows.count == 6 && rows.allSatisfy { $0["worker"] == "alice/w" })
        }
    }

    /// A client that is not ZeroMQ at all writes raw bytes to the coordinator's TCP port (an HTTP request, a fake
    /// ZMTP greeting, random bytes): the coordinator logs the peer and drops it, and a real sweep completes.
    @Test(.requires(.binaries)) func rawTCPBytesAreDroppedWhileARealSweepCompletes() throws {
        let bin = try Binaries.require()
        try withTemporaryDirectory { dir in
            let cluster = try FaultCluster(dir, bin: bin)
            defer { cluster.stopAll() }
            let coordinator = try cluster.coordinator()
            #expect(coordinator.waitForOutput("listening on", seconds: 30), "\(cluster.logs)")
            guard let port = Int(cluster.endpoint.split(separator: ":").last ?? "") else { return }
            var random = LotteryRNG(seed: 7, stream: "raw-tcp")
            let payloads: [[UInt8]] = [
                Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8),
                [0xFF] + [UInt8](repeating: 0, count: 8) + [0x7F, 3, 0] + Array("NULL".utf8)
                    + [UInt8](repeating: 0, count: 16) + [0] + [UInt8](repeating: 0, count: 31) + [4, 0xFF, 1, 2, 3],
                (0..<4096).map { _ in UInt8(random.below(256)) },
            ]
            // All raw connections are open (and have spoken) before the honest worker starts and while it works.
            let raw = try payloads.map { try RawTCPClient(port: port, $0) }
            let worker = try cluster.worker("honest")
            usleep(300_000)  // let libzmq read the bytes; then hang up mid-handshake
            for client in raw { client.close() }
            let ports = raw.compactMap(\.localPort)
            #expect(ports.count == payloads.count)
            #expect(coordinator.wait(seconds: 240) == 0, "\(cluster.logs)")
            #expect(worker.wait(seconds: 30) == 0)
            let log = coordinator.output
            let named = ports.filter { log.contains("dropped the connection from 127.0.0.1:\($0)") }
            #expect(!named.isEmpty, "the coordinator names the raw peers it dropped (ports \(ports)):\n\(log)")
            let rows = try readCSV(cluster.out.appendingPathComponent("rounds.csv"))
            #expect(rows.count == FaultSweep.trials * FaultSweep.roundsPerTrial)
            #expect(Set(rows.map { $0["worker"] ?? "" }) == ["honest"])
        }
    }

    /// CURVE end to end with real processes and `lth keygen`: an allow-listed worker's rows carry its key name; a
    /// worker whose key is not allow-listed never gets a task and the coordinator logs the refusal.
    @Test(.requires(.binaries)) func onlyAllowListedWorkersGetThrough() throws {
        let bin = try Binaries.require()
        try withTemporaryDirectory { dir in
            let cluster = try FaultCluster(dir, bin: bin)
            defer { cluster.stopAll() }
            let lth = bin.appendingPathComponent("lth")
            let keys = dir.appendingPathComponent("keys")
            let good = dir.appendingPathComponent("good")
            let bad = dir.appendingPathComponent("bad")
            // The cluster/README.md steps: server pair on the coordinator, a pair per worker, publics exchanged.
            // `good` holds two workers' pairs, as cluster/keys-init's shared KEYS/worker-keys does: --name picks one.
            for (folder, name) in [(keys, "server"), (good, "node1"), (good, "node2"), (bad, "intruder")] {
                let keygen = try Child(
                    lth, ["keygen", folder.path, "--name", name], log: dir.appendingPathComponent("keygen-\(name).log"))
                #expect(keygen.wait(seconds: 30) == 0, "\(keygen.output)")
            }
            try FileManager.default.createDirectory(
                at: keys.appendingPathComponent("workers"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(
                at: good.appendingPathComponent("node1.key"), to: keys.appendingPathComponent("workers/node1.key"))
            for folder in [good, bad] {
                try FileManager.default.copyItem(
                    at: keys.appendingPathComponent("server.key"), to: folder.appendingPathComponent("server.key"))
            }
            let coordinator = try Child(
                bin.appendingPathComponent("lth-coordinator"),
                [
                    cluster.spec.path, "--bind", cluster.endpoint, "--out", cluster.out.path, "--keys", keys.path,
                    "--heartbeat-ms", "200", "--data-dir", cluster.data.path,
                ],
                log: dir.appendingPathComponent("coordinator-curve.log"))
            #expect(coordinator.waitForOutput("listening on", seconds: 30), "\(coordinator.output)")
            func worker(_ keyDir: URL, _ name: String) throws -> Child {
                try Child(
                    bin.appendingPathComponent("lth-worker"),
                    [
                        "--connect", cluster.endpoint, "--keys", keyDir.path, "--name", name, "--slots", "1",
                        "--heartbeat-ms", "200", "--data-dir", dir.appendingPathComponent("cache-\(name)").path,
                    ],
                    log: dir.appendingPathComponent("worker-\(name).log"))
            }
            let intruder = try worker(bad, "intruder")
            #expect(coordinator.waitForOutput("refused a connection", seconds: 30), "\(coordinator.output)")
            // The coordinator names the refused key as its NAME.key file holds it, so an admin can allow it.
            let intruderKey = try CurveKey.load(publicKeyFile: bad.appendingPathComponent("intruder.key").path)
            #expect(coordinator.output.contains("with public key \(intruderKey.z85)"), "\(coordinator.output)")
            // The intruder learns it was refused and stops with one line saying what to do (no endless reconnects).
            #expect(intruder.wait(seconds: 30) == 1, "\(intruder.output)")
            let last = intruder.output.split(separator: "\n").last.map(String.init) ?? ""
            #expect(
                last.hasPrefix("lth-worker: the coordinator at \(cluster.endpoint) refused this worker's key"),
                "\(last)")
            #expect(
                last.contains(bad.appendingPathComponent("intruder.key").path) && last.contains("workers/"), "\(last)")
            #expect(!intruder.output.contains("reconnecting"), "\(intruder.output)")
            let honest = try worker(good, "node1")
            #expect(coordinator.wait(seconds: 240) == 0, "\(coordinator.output)")
            #expect(honest.wait(seconds: 30) == 0)
            #expect(!intruder.output.contains("trial starts"), "the intruder never got a task: \(intruder.output)")
            #expect(!coordinator.output.contains("intruder"), "nothing the intruder said reached the coordinator")
            let rows = try readCSV(cluster.out.appendingPathComponent("rounds.csv"))
            #expect(rows.count == FaultSweep.trials * FaultSweep.roundsPerTrial)
            #expect(rows.allSatisfy { $0["worker"] == "node1" }, "\(Set(rows.map { $0["worker"] ?? "" }))")
            let trials = try readCSV(cluster.out.appendingPathComponent("trials.csv"))
            #expect(trials.allSatisfy { $0["worker"] == "node1" })
            // `lth status` lists the refusal among the events, with the key, so an admin sees it without the log.
            let (code, json) = try WatchSweepProcessTests.lth(
                bin, ["status", cluster.out.path, "--json"], in: dir, name: "status.json")
            #expect(code == 0, "\(json)")
            let events = WatchSweepProcessTests.json(json)?["events"] as? [[String: Any]] ?? []
            let refused = events.filter { $0["kind"] as? String == "peer-refused" }
            #expect(!refused.isEmpty, "\(json)")
            // Its first refusal, then at most a count of libzmq's retries before the worker gave up.
            #expect(refused.count <= 2, "\(json)")
            let messages = refused.map { $0["message"] as? String ?? "" }
            #expect(messages.allSatisfy { $0.contains("with public key \(intruderKey.z85)") }, "\(messages)")
            #expect(messages.first?.contains("client key not allowed") == true, "\(messages)")
        }
    }

    /// Bad files and flags for the three executables: a short error that says what and where, a non-zero exit
    /// status, and never a stack trace.
    @Test(.requires(.binaries)) func badCommandLinesGiveAShortErrorAndNoStackTrace() throws {
        let bin = try Binaries.require()
        try withTemporaryDirectory { dir in
            let cluster = try FaultCluster(dir, bin: bin)
            func spec(_ name: String, _ text: String) throws -> String {
                let url = dir.appendingPathComponent(name)
                try text.write(to: url, atomically: true, encoding: .utf8)
                return url.path
            }
            let unknownKey = try spec(
                "unknown-key.yaml", FaultSweep.yaml.replacingOccurrences(of: "seeds: 2", with: "seeds: 2\nbogus_key: 3")
            )
            let badValue = try spec(
                "bad-value.yaml", FaultSweep.yaml.replacingOccurrences(of: "iterations: 1000", with: "iterations: -5"))
            let notYAML = try spec("broken.yaml", "name: [unclosed\n  - : :\n")
            let missing = dir.appendingPathComponent("missing.yaml").path
            let data = ["--data-dir", cluster.data.path]
            let out = ["--out", dir.appendingPathComponent("out").path]
            let port = try freePort()
            // (binary, arguments, text the error must contain)
            let cases: [(String, [String], String)] = [
                ("lth-coordinator", [missing, "--bind", "tcp://127.0.0.1:\(port)"] + out + data, "missing.yaml"),
                ("lth-coordinator", [unknownKey, "--bind", "tcp://127.0.0.1:\(port)"] + out + data, "bogus_key"),
                ("lth-coordinator", [badValue, "--bind", "tcp://127.0.0.1:\(port)"] + out + data, "iterations"),
                ("lth-coordinator", [notYAML, "--bind", "tcp://127.0.0.1:\(port)"] + out + data, "broken.yaml"),
                (
                    "lth-coordinator", [cluster.spec.path, "--bind", "tcp://127.0.0.1:\(port)", "--frobnicate"],
                    "frobnicate"
                ),
                ("lth-coordinator", [cluster.spec.path, "--bind", "127.0.0.1:\(port)"] + out + data, "--bind"),
                (
                    "lth-coordinator", [cluster.spec.path, "--bind", "tcp://127.0.0.1:notaport"] + out + data,
                    "notaport"
                ),
                ("lth-coordinator", [cluster.spec.path, "--bind", "tcp://0.0.0.0:\(port)"] + out + data, "--insecure"),
                (
                    "lth-coordinator", [cluster.spec.path, "--bind", "tcp://127.0.0.1:\(port)", "--heartbeat-ms", "x"],
                    "heartbeat-ms"
                ),
                (
                    "lth-coordinator",
                    [cluster.spec.path, "--bind", "tcp://127.0.0.1:\(port)", "--keys", "/nonexistent-keys"] + out
                        + data, "/nonexistent-keys"
                ),
                ("lth-worker", ["--connect", "localhost:5555"], "--connect"),
                ("lth-worker", ["--connect", "tcp://127.0.0.1:\(port)", "--slots", "0"], "--slots"),
                ("lth-worker", ["--connect", "tcp://127.0.0.1:\(port)", "--frobnicate"], "frobnicate"),
                (
                    "lth-worker", ["--connect", "tcp://127.0.0.1:\(port)", "--keys", "/nonexistent-keys"],
                    "/nonexistent-keys"
                ),
                ("lth-worker", ["--connect", "bogus://nowhere"], "bogus://nowhere"),

                ("lth", ["sweep", missing] + data, "missing.yaml"),
                ("lth", ["sweep", unknownKey] + out + data, "bogus_key"),
                ("lth", ["sweep", badValue] + out + data, "iterations"),
                ("lth", ["sweep", cluster.spec.path, "--workers", "0"] + out + data, "--workers"),
                ("lth", ["frobnicate"], "frobnicate"),
                ("lth", ["train", missing], "missing.yaml"),
            ]
            // No arguments at all prints the usage (long, on purpose), still without a trace and with status 64.
            let bare = try Child(
                bin.appendingPathComponent("lth-worker"), [], log: dir.appendingPathComponent("bare.log"))
            #expect(bare.wait(seconds: 60).map { $0 != 0 } == true && bare.output.contains("--connect"))
            #expect(!bare.output.contains("Stack dump") && !bare.output.contains("Fatal error"))
            for (index, (binary, arguments, expected)) in cases.enumerated() {
                let child = try Child(
                    bin.appendingPathComponent(binary), arguments, log: dir.appendingPathComponent("cli-\(index).log"))
                let status = child.wait(seconds: 60)
                if status == nil { child.terminate() }
                let output = child.output
                let lines = output.split(separator: "\n", omittingEmptySubsequences: true)
                let what = "\(binary) \(arguments.joined(separator: " "))"
                #expect(status != nil && status != 0, "\(what): exit status \(String(describing: status))\n\(output)")
                #expect(output.contains(expected), "\(what): the error names '\(expected)':\n\(output)")
                #expect(lines.count <= 6, "\(what): a short error, not \(lines.count) lines:\n\(output)")
                for marker in ["Stack dump", "Fatal error", "#0 ", "Current stack trace"] {
                    #expect(!output.contains(marker), "\(what): no stack trace:\n\(output)")
                }
            }
        }
    }
}

/// A plain TCP client (not ZeroMQ) on 127.0.0.1: connects and writes its bytes at once; ``close()`` hangs up.
final class RawTCPClient {
    let fd: Int32
    /// The local port (how the coordinator's log names this peer), or nil if the connection failed.
    private(set) var localPort: Int?

    init(port: Int, _ bytes: [UInt8]) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        localPort = Int(UInt16(bigEndian: local.sin_port))
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Closes the connection (the coordinator sees it end mid-handshake).
    func close() {
        Glibc.close(fd)
    }
}
