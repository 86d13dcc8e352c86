import Foundation
import LotteryWorker
import Testing
import ZeroMQ

/// A worker whose CURVE key is not on the coordinator's allow-list stops with one line saying so (issue 15), instead
/// of reconnecting forever; an allow-listed one is not stopped by that path.
@Suite("Worker: refused key", .serialized)
struct RefusedKeyTests {
    @Test func aWorkerWhoseKeyIsRefusedStopsNamingItsKeyFileAndTheWorkersFolder() throws {
        try withTemporaryDirectory { dir in
            let context = try ZMQContext()
            let server = try CurveKeyPair.generate()
            let allowList = (dir as NSString).appendingPathComponent("allow")
            try FileManager.default.createDirectory(atPath: allowList, withIntermediateDirectories: true)
            try CurveKeyPair.generate().save(directory: allowList, name: "someone-else")
            let authenticator = try ZAPAuthenticator(context: context, allowListDirectory: allowList)
            defer { authenticator.stop() }
            let router = try ZMQSocket(context, type: .router)
            try router.set(.linger, 0)
            try router.configureCurveServer(keyPair: server)
            try router.bind("tcp://127.0.0.1:*")

            // The worker's folder as `lth keygen` and cluster/README.md leave it.
            let keys = (dir as NSString).appendingPathComponent("keys")
            try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
            let pair = try CurveKeyPair.generate()
            let paths = try pair.save(directory: keys, name: "node9")
            try server.save(directory: keys, name: "server")
            var config = testConfig(endpoint: try router.lastEndpoint, dataDirectory: dir)
            config.curve = try WorkerConfig.Curve.load(directory: keys, name: "node9")
            #expect(config.curve?.publicKeyFile == paths.publicKey)

            let running = RunningWorker(config)
            defer { running.shutDown() }
            let outcome = try #require(running.outcome(within: 20), "the refused worker is still running")
            guard case .failure(let error) = outcome else {
                Issue.record("the refused worker ended without an error: \(outcome)")
                return
            }
            let message = "\(error)"
            #expect(message.contains("refused this worker's key"), "\(message)")
            #expect(message.contains(paths.publicKey), "names the public key file: \(message)")
            #expect(message.contains(pair.publicKey.z85), "names the key as the coordinator logs it: \(message)")
            #expect(message.contains("workers/"), "says where it must go: \(message)")
            #expect(!message.contains("\n"))
            #expect(try router.receive(timeoutMilliseconds: 100) == nil, "nothing got through")
        }
    }
}
