import Foundation
import LotteryCoordinator
import LotteryResults
import LotteryWire
import Testing
import ZeroMQ

/// Issue 17, "when it was last heard of": the coordinator persists heartbeats (throttled), so `lth status` sees a
/// worker that is there but records nothing, and one that fell silent, for what they are.
@Suite(.serialized) struct LastHeardTests {
    /// The worker's "last heard" as `lth status` reads it from the live folder.
    static func lastHeard(_ out: URL, _ name: String) throws -> String? {
        try ResultsReader.open(directory: out).status().workers.first { $0.name == name }?.lastHeard
    }

    /// A worker that said HELLO and then only heartbeats (no READY, so no task, no round, no journal event): its
    /// last-heard time moves on in `results.db`; one that fell silent after HELLO keeps the time of its HELLO, and
    /// its `worker-lost` does not count as heard.
    @Test func heartbeatsMoveLastHeardAndSilenceDoesNot() throws {
        try withTemporaryDirectory { dir in
            var config = CoordinatorFakeWorkerTests.config(dir, spec: try writeSweep(dir))
            config.heardInterval = 0.1
            let (coordinator, endpoint) = try CoordinatorFakeWorkerTests.start(config)
            defer {
                coordinator.stop(reason: "test over")
                _ = coordinator.wait()
            }
            let out = config.outputDirectory
            let context = try ZMQContext()
            let silent = try FakeWorker(context: context, endpoint: endpoint, name: "silent")
            try silent.hello()
            let idle = try FakeWorker(context: context, endpoint: endpoint, name: "idle")
            try idle.hello()

            // Heartbeat (0.3 s at a time) until the folder shows the silent worker lost and the idle one heard
            // after its first look; bounded by a deadline, not timed.
            var first: String?
            var later: String?
            var silentLost = false
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline, later == nil || !silentLost {
                _ = try? idle.wait(seconds: 0.3) { _ -> Int? in nil }
                let status = try ResultsReader.open(directory: out).status()
                silentLost = status.workers.first { $0.name == "silent" }?.left ?? false
                guard let heard = status.workers.first(where: { $0.name == "idle" })?.lastHeard else { continue }
                if first == nil { first = heard } else if heard > first!, silentLost { later = heard }
            }
            #expect(silentLost, "the silent worker was found dead")
            let idleHeard = try #require(later, "heartbeats alone never moved the idle worker's last-heard time")
            let silentHeard = try #require(try Self.lastHeard(out, "silent"))
            #expect(silentHeard < idleHeard)
            // Its last word was its HELLO: before the idle worker's first heartbeat was seen.
            #expect(silentHeard <= first!)
        }
    }
}
