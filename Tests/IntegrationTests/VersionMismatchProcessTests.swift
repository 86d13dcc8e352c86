import Foundation
import LotteryWire
import TestPrerequisites
import Testing
import ZeroMQ

/// Protocol-version negotiation with a real `lth-worker` process: a coordinator of another version answers its
/// HELLO with REJECT `version_mismatch` in its own version (docs/protocol.md, "Versions"). The in-memory side is
/// `CoordinatorStateMachineTests.anotherProtocolVersionIsRejectedNamingBothVersions`.
@Suite("Version mismatch (processes)", .serialized)
struct VersionMismatchProcessTests {
    /// The worker exits with status 1 and one line naming both versions; it said HELLO once, not in a loop.
    @Test(.requires(.binaries))
    func aWorkerOfAnotherVersionExitsWithOneLineAndNoHelloLoop() throws {
        let folder = try Binaries.require()
        try withTemporaryDirectory { dir in
            let context = try ZMQContext()
            defer { context.shutdown() }
            let router = try ZMQSocket(context, type: .router)
            try router.set(.linger, 0)
            try router.bind("tcp://127.0.0.1:*")
            let endpoint = try router.lastEndpoint
            let worker = try Child(
                folder.appendingPathComponent("lth-worker"),
                ["--connect", endpoint, "--slots", "1", "--heartbeat-ms", "200", "--data-dir", dir.path],
                log: dir.appendingPathComponent("worker.log"))
            // Its HELLO, answered by a coordinator one version ahead.
            var hellos = 0
            let deadline = Date().addingTimeInterval(20)
            while hellos == 0, Date() < deadline {
                guard let frames = try router.receive(timeoutMilliseconds: 100) else { continue }
                let split = try Wire.splitRouterFrames(frames)
                guard case .hello = try WireMessage.decode(split.payload) else { continue }
                hellos += 1
                let future = Wire.version + 1
                var reject = try WireMessage.reject(
                    WireMessage.Reject(
                        code: .versionMismatch, message: "this coordinator speaks protocol version \(future)",
                        minVersion: future, maxVersion: future)
                ).encode()
                reject[0] = Wire.header(.reject, version: future)
                try router.send(Wire.routerFrames(to: split.identity, reject))
            }
            #expect(hellos == 1)
            let status = worker.wait(seconds: 20)
            // Whatever it sent until it exited: no second HELLO.
            while let frames = try router.receive(timeoutMilliseconds: 0) {
                let split = try Wire.splitRouterFrames(frames)
                if case .hello = try? WireMessage.decode(split.payload) { hellos += 1 }
            }
            #expect(status == 1)
            #expect(hellos == 1)
            let lines = worker.output.split(separator: "\n")
            let about = lines.filter { $0.contains("protocol version") }
            #expect(about.count == 1, "\(worker.output)")
            #expect(lines.last.map(String.init) == about.first.map(String.init))
            #expect(
                about.first?.hasPrefix(
                    "lth-worker: coordinator at \(endpoint) speaks protocol version \(Wire.version + 1), "
                        + "this worker speaks \(Wire.version)") == true, "\(worker.output)")
            #expect(!worker.output.contains("reconnecting"))
        }
    }
}
