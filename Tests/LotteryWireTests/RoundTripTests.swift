import Foundation
import LotteryCore
import LotteryWire
import Testing

@Suite struct RoundTripTests {
    @Test func fixturesCoverEveryMessageType() {
        #expect(Set(Fixtures.all.map(\.type)) == Set(MessageType.allCases))
    }

    @Test(arguments: Fixtures.samples)
    func roundTrip(_ sample: Sample) throws {
        let message = sample.message
        let frames = try message.encode()
        #expect(frames.count >= 2 && frames.count <= Wire.maxFrames)
        #expect(frames[0] == Wire.magic + [0, 2, message.type.rawValue])  // protocol version 2
        let decoded = try WireMessage.decode(frames)
        #expect(decoded == message)
        // Deterministic: equal messages give equal bytes.
        #expect(try decoded.encode() == frames)
    }

    /// Conv specs — a preset and a custom stack with per-kind rates — survive the TASK message's checks.
    @Test(arguments: ["conv6", "custom"])
    func convTaskRoundTrips(model: String) throws {
        var spec = TrialSpec()
        try spec.set("dataset", to: .string("cifar10"))
        if model == "custom" {
            try spec.set("model.layers", to: .list([.string("conv16"), .string("pool"), .int(32)]))
            try spec.set("prune.rates.conv", to: .double(0.3))
        } else {
            try spec.set("model", to: .string(model))
        }
        let message = WireMessage.task(
            .init(taskID: 3, trialID: spec.trialID, spec: spec, dataset: WireMessage.DatasetRef(id: "cifar10", checksum: String(repeating: "a", count: 64))))
        let decoded = try WireMessage.decode(try message.encode())
        #expect(decoded == message)
        guard case .task(let task) = decoded else { Issue.record("not a TASK"); return }
        #expect(task.spec.resolvedRates.first == (model == "custom" ? 0.3 : 0.15))
    }

    @Test func bodyIsSortedSnakeCaseJSON() throws {
        let frames = try Fixtures.all[9].encode()  // ROUND_RESULT with two blobs
        let text = try #require(String(bytes: frames[1], encoding: .utf8))
        #expect(text.hasPrefix(#"{"blobs":[{"crc32":"#))
        #expect(text.contains(#""role":"mask""#) && text.contains(#""role":"next_mask""#))
        #expect(text.contains(#""early_stop_iteration":3400"#))
        #expect(text.contains(#""task_id":17"#))
        #expect(!text.contains("taskID"))
        #expect(frames.count == 4)
    }

    /// The HELLO, byte for byte: the worker's identity is `instance_id` (issue 15); a rename of a field on either
    /// side would change these bytes and must bump the protocol version. Header: version 2 (issue 16 bumped it for
    /// TASK and ROUND_RESULT fields; HELLO's body is unchanged).
    @Test func helloBytesArePinned() throws {
        let frames = try Fixtures.all[1].encode()
        #expect(frames[0] == [0x4C, 0x54, 0x57, 0x31, 0x00, 0x02, 0x01])
        let body = try #require(String(bytes: frames[1], encoding: .utf8))
        #expect(
            body
                == #"{"blobs":[],"message":{"build_id":"dev","cores":2,"cpu_kind":"arm64","datasets":[],"host":"laptop","instance_id":"1","running":[],"slots":1,"worker_name":"laptop"}}"#
        )
        // Two processes under one name differ only in their instance id, and decode as different workers.
        var other = try #require({ if case .hello(let hello) = Fixtures.all[1] { hello } else { nil } }())
        other.instanceID = "2"
        let decoded = try WireMessage.decode(try WireMessage.hello(other).encode())
        #expect(decoded != Fixtures.all[1])
    }

    @Test func maskParentsTravelAsHex() throws {
        let frames = try Fixtures.all[10].encode()
        let text = try #require(String(bytes: frames[1], encoding: .utf8))
        #expect(text.contains(#""mask_parent":"fedcba9876543210""#))
        #expect(text.contains(#""next_mask_parent":"00000000000000ff""#))
    }

    /// Supermask accuracies travel in `metrics` under their CSV names, and are simply absent when not measured.
    @Test func supermaskAccuraciesTravelAndAreOmittedWhenAbsent() throws {
        for round in [0, 5] {
            let metrics = Fixtures.metrics(round: round)
            let frames = try WireMessage.roundResult(.init(taskID: 1, metrics: metrics, mask: [1, 2, 3])).encode()
            let body = String(decoding: frames[1], as: UTF8.self)
            #expect(body.contains("\"supermask_test_acc\"") == (metrics.supermaskTestAcc != nil))
            #expect(
                body.contains("\"supermask_signed_constant_test_acc\"")
                    == (metrics.supermaskSignedConstantTestAcc != nil))
            guard case .roundResult(let result) = try WireMessage.decode(frames) else {
                Issue.record("decoded to another type")
                return
            }
            #expect(result.metrics.supermaskTestAcc == metrics.supermaskTestAcc)
            #expect(result.metrics.supermaskSignedConstantTestAcc == metrics.supermaskSignedConstantTestAcc)
        }
        #expect(Fixtures.metrics(round: 5).supermaskTestAcc != nil && Fixtures.metrics(round: 0).supermaskTestAcc == nil)
    }

    @Test func nonFiniteMetricsSurvive() throws {
        var metrics = Fixtures.metrics(round: 1)
        metrics.valLossAtES = .nan
        metrics.curve[3].valLoss = .infinity
        metrics.curve[4].valLoss = -.infinity
        let frames = try WireMessage.roundResult(.init(taskID: 1, metrics: metrics, mask: [1, 2, 3])).encode()
        guard case .roundResult(let result) = try WireMessage.decode(frames) else {
            Issue.record("decoded to another type")
            return
        }
        #expect(result.metrics.valLossAtES.isNaN)
        #expect(result.metrics.curve[3].valLoss == .infinity)
        #expect(result.metrics.curve[4].valLoss == -.infinity)
        #expect(result.metrics.curve[5] == metrics.curve[5])
    }

    @Test func routerEnvelopeSplitsIdentity() throws {
        let payload = try WireMessage.ready(.init(credit: 2)).encode()
        let identity: [UInt8] = [0, 0x6B, 0x8B, 0x45, 0x67]
        let routed = Wire.routerFrames(to: identity, payload)
        #expect(routed.count == payload.count + 1)
        let split = try Wire.splitRouterFrames(routed)
        #expect(split.identity == identity)
        #expect(try WireMessage.decode(split.payload) == .ready(.init(credit: 2)))
        #expect(throws: WireError.self) { try Wire.splitRouterFrames([identity, payload[0]]) }
        #expect(throws: WireError(.badIdentity(length: 0))) { try Wire.splitRouterFrames([[]] + payload) }
    }

    @Test func rejectFromErrorCarriesCodeAndVersions() throws {
        let error = WireError(.unsupportedVersion(peer: 9, supported: 1...1), messageType: nil)
        let reject = WireMessage.Reject(error)
        #expect(reject.code == .versionMismatch)
        #expect(
            reject.minVersion == Wire.supportedVersions.lowerBound && reject.maxVersion == Wire.supportedVersions.upperBound)
        #expect(reject.message.contains("version 9"))
        #expect(WireMessage.Reject(WireError(.badJSON(detail: "x"))).code == .badMessage)
    }

    @Test func limitsAreConsistent() {
        #expect(Wire.maxFrameBytes == 4 << 20)
        #expect(Wire.maxBodyBytes <= Wire.maxFrameBytes && Wire.maxChunkBytes <= Wire.maxFrameBytes)
        #expect(Wire.maxFrames >= 4)  // header, body and the two masks of a ROUND_RESULT
        #expect(Wire.header(.hello).count == Wire.headerBytes)
    }

    @Test func directionsMatchTheProtocol() {
        #expect(MessageType.hello.direction == .workerToCoordinator)
        #expect(MessageType.task.direction == .coordinatorToWorker)
        #expect(MessageType.heartbeat.direction == .both)
        #expect(MessageType.roundResult.description == "ROUND_RESULT")
    }
}
