import Foundation
import LotteryCore
import LotteryWire
import Testing

/// Each kind of `WireError`, produced by a realistic corruption of a valid message.
@Suite struct ErrorTests {
    /// ROUND_RESULT with `mask` (frame 2) and `next_mask` (frame 3).
    static var result: [[UInt8]] { try! Fixtures.all[9].encode() }

    static func kind(_ frames: [[UInt8]]) -> WireError.Kind? {
        do {
            _ = try WireMessage.decode(frames)
            return nil
        } catch {
            #expect(!error.description.isEmpty)
            return error.kind
        }
    }

    /// Rewrites the JSON body with `edit` applied to its `message` object.
    static func editBody(_ frames: [[UInt8]], _ edit: (inout [String: Any]) -> Void) throws -> [[UInt8]] {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(frames[1])) as? [String: Any])
        var message = try #require(object["message"] as? [String: Any])
        edit(&message)
        object["message"] = message
        var copy = frames
        copy[1] = Array(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
        return copy
    }

    @Test func wrongFrameCount() throws {
        #expect(Self.kind([]) == .frameCount(actual: 0, expected: "at least 2 (header, body)"))
        guard case .frameCount(let actual, _) = Self.kind([Self.result[0]]) else {
            Issue.record("header alone must be a frame-count error")
            return
        }
        #expect(actual == 1)
        // A dropped blob: the manifest names two.
        guard case .frameCount(3, _) = Self.kind(Array(Self.result.prefix(3))) else {
            Issue.record("a dropped blob must be a frame-count error")
            return
        }
        let tooMany = Self.result + Array(repeating: [UInt8](), count: Wire.maxFrames)
        guard case .frameCount(let count, _) = Self.kind(tooMany) else {
            Issue.record("too many frames must be a frame-count error")
            return
        }
        #expect(count == Self.result.count + Wire.maxFrames)
    }

    @Test func wrongMagic() throws {
        var frames = Self.result
        frames[0] = Array("ZMTP".utf8) + [0, 1, 5]
        #expect(Self.kind(frames) == .badMagic(found: Array("ZMTP".utf8)))
        frames[0] = [0x4C]
        #expect(Self.kind(frames) == .badMagic(found: [0x4C]))
    }

    @Test func unsupportedVersionCarriesThePeersVersion() throws {
        var frames = Self.result
        let other = Wire.version + 1
        frames[0] = Wire.header(.roundResult, version: other)
        #expect(Self.kind(frames) == .unsupportedVersion(peer: other, supported: Wire.supportedVersions))
        // Checked before the header length, so a future longer header still reports its version.
        frames[0] = Wire.magic + [0x01, 0x00, 5, 0, 0]
        #expect(Self.kind(frames) == .unsupportedVersion(peer: 256, supported: Wire.supportedVersions))
        let error = WireError(.unsupportedVersion(peer: other, supported: Wire.supportedVersions))
        #expect(error.rejectCode == .versionMismatch)
        #expect(error.description.contains("version \(other)"))
    }

    /// This build's version as the header's two big-endian bytes.
    static let versionBytes = [UInt8(Wire.version >> 8), UInt8(Wire.version & 0xFF)]

    /// The negotiation's REJECT names both versions, carries the coordinator's range, and is sent in this build's
    /// version: a peer of another version reads only the header, which is enough to learn the version.
    @Test func versionMismatchRejectNamesBothVersions() throws {
        let reject = WireMessage.Reject.versionMismatch(peerVersion: 7, supported: 2...3)
        #expect(reject.code == .versionMismatch && reject.minVersion == 2 && reject.maxVersion == 3)
        #expect(reject.message.hasPrefix("this coordinator speaks protocol version 2…3, the worker speaks 7: "))
        let frames = try WireMessage.reject(reject).encode()
        #expect(Array(frames[0][4...5]) == [UInt8(Wire.version >> 8), UInt8(Wire.version & 0xFF)])
        #expect(try WireMessage.decode(frames) == .reject(reject))
        #expect(Wire.describe(2...2) == "2" && Wire.describe(1...4) == "1…4")
    }

    @Test func badHeaderLength() {
        var frames = Self.result
        frames[0] = Wire.magic + Self.versionBytes + [5, 0]
        #expect(Self.kind(frames) == .badHeader(length: 8))
        frames[0] = Wire.magic + [0]
        #expect(Self.kind(frames) == .badHeader(length: 5))
    }

    @Test func unknownType() {
        var frames = Self.result
        frames[0] = Wire.magic + Self.versionBytes + [200]
        #expect(Self.kind(frames) == .unknownType(code: 200))
        frames[0] = Wire.magic + Self.versionBytes + [0]
        #expect(Self.kind(frames) == .unknownType(code: 0))
    }

    @Test func badJSON() throws {
        var frames = Self.result
        frames[1] = Array(#"{"blobs": [}"#.utf8)
        guard case .badJSON(let detail) = Self.kind(frames) else {
            Issue.record("expected badJSON")
            return
        }
        #expect(!detail.isEmpty)
        // Right syntax, wrong type: the detail names the field.
        let wrongType = try Self.editBody(Self.result) { $0["task_id"] = "seventeen" }
        guard case .badJSON(let typeDetail) = Self.kind(wrongType) else {
            Issue.record("expected badJSON for a type mismatch")
            return
        }
        #expect(typeDetail.contains("message.task_id"))
        // A bad enum value inside the trial spec.
        let task = try WireMessage.task(.init(taskID: 1, trialID: "t", spec: TrialSpec(), dataset: Fixtures.dataset))
            .encode()
        let badSpec = try Self.editBody(task) { message in
            var spec = message["spec"] as! [String: Any]
            spec["reinit"] = "sometimes"
            message["spec"] = spec
        }
        guard case .badJSON(let specDetail) = Self.kind(badSpec) else {
            Issue.record("expected badJSON for a bad reinit rule")
            return
        }
        #expect(specDetail.contains("message.spec.reinit"))
    }

    @Test func deeplyNestedJSONIsAnErrorNotACrash() {
        var frames = Self.result
        frames[1] = Array(repeating: UInt8(ascii: "["), count: Wire.maxBodyBytes)
        guard case .badJSON = Self.kind(frames) else {
            Issue.record("expected badJSON")
            return
        }
    }

    @Test func missingField() throws {
        let frames = try Self.editBody(Self.result) { $0["task_id"] = nil }
        #expect(Self.kind(frames) == .missingField(field: "message.task_id"))
        let nested = try Self.editBody(Self.result) { message in
            var metrics = message["metrics"] as! [String: Any]
            metrics["early_stop_iteration"] = nil
            message["metrics"] = metrics
        }
        #expect(Self.kind(nested) == .missingField(field: "message.metrics.early_stop_iteration"))
        var noManifest = Self.result
        noManifest[1] = Array(#"{"message":{}}"#.utf8)
        #expect(Self.kind(noManifest) == .missingField(field: "blobs"))
    }

    @Test func checksumMismatchNamesTheBlob() throws {
        var frames = Self.result
        frames[3][100] ^= 0x10
        guard case .checksumMismatch(let role, let frame, let declared, let actual) = Self.kind(frames) else {
            Issue.record("expected a checksum mismatch")
            return
        }
        #expect(role == "next_mask" && frame == 3 && declared != actual)
    }

    @Test func blobLengthMismatch() {
        var frames = Self.result
        frames[2].removeLast()
        guard case .blobLength("mask", 2, let declared, let actual) = Self.kind(frames) else {
            Issue.record("expected a blob length error")
            return
        }
        #expect(declared == actual + 1)
    }

    @Test func badManifest() throws {
        // Blobs swapped in the manifest's eyes: a TASK may not carry a `mask`.
        let task = try WireMessage.task(
            .init(
                taskID: 1, trialID: "t", spec: TrialSpec(), startRound: 2,
                dataset: Fixtures.dataset, resumeMask: [1, 2, 3])
        ).encode()
        var object = try #require(try JSONSerialization.jsonObject(with: Data(task[1])) as? [String: Any])
        var blobs = try #require(object["blobs"] as? [[String: Any]])
        blobs[0]["role"] = "mask"
        object["blobs"] = blobs
        var frames = task
        frames[1] = Array(try JSONSerialization.data(withJSONObject: object))
        #expect(Self.kind(frames) == .badManifest(detail: "TASK carries no 'mask' blob"))
        // A resumed task without its mask.
        let noMask = try Self.editBody(
            try WireMessage.task(
                .init(
                    taskID: 1, trialID: "t", spec: TrialSpec(),
                    dataset: Fixtures.dataset)
            ).encode()
        ) { $0["start_round"] = 3 }
        #expect(Self.kind(noMask) == .badManifest(detail: "start_round 3 needs a 'resume_mask' blob"))
        // Encoding checks the same rule.
        #expect(throws: WireError.self) {
            try WireMessage.task(
                .init(taskID: 1, trialID: "t", spec: TrialSpec(), startRound: 3, dataset: Fixtures.dataset)
            ).encode()
        }
    }

    @Test func oversize() throws {
        // A body over 1 MiB is refused before it is parsed.
        var frames = Self.result
        frames[1] = Array(repeating: UInt8(ascii: " "), count: Wire.maxBodyBytes + 1)
        #expect(
            Self.kind(frames)
                == .oversize(frame: 1, what: "JSON body", size: Wire.maxBodyBytes + 1, limit: Wire.maxBodyBytes))
        // Any frame over the ZMQ_MAXMSGSIZE bound.
        frames = Self.result
        frames[2] = [UInt8](repeating: 0, count: Wire.maxFrameBytes + 1)
        #expect(
            Self.kind(frames)
                == .oversize(frame: 2, what: "blob", size: Wire.maxFrameBytes + 1, limit: Wire.maxFrameBytes))
        // A dataset chunk over its own 1 MiB limit (but under the frame bound), with a matching manifest.
        let big = [UInt8](repeating: 7, count: Wire.maxChunkBytes + 1)
        let chunk = WireMessage.dataChunk(
            .init(datasetID: "d", offset: 0, totalSize: big.count, checksum: "c", bytes: big))
        #expect(
            throws: WireError(
                .oversize(frame: 2, what: "blob 'chunk'", size: big.count, limit: Wire.maxChunkBytes),
                messageType: .dataChunk)
        ) { try chunk.encode() }
        // A learning curve too long for one body: the worker gets the error at encode time.
        var metrics = Fixtures.metrics(round: 1)
        metrics.curve = Array(repeating: metrics.curve[0], count: 20_000)
        do {
            _ = try WireMessage.roundResult(.init(taskID: 1, metrics: metrics, mask: [1])).encode()
            Issue.record("a 20,000-point curve must not fit in one body")
        } catch {
            guard case .oversize(1, "JSON body", let size, Wire.maxBodyBytes) = error.kind else {
                Issue.record("expected a body oversize, got \(error)")
                return
            }
            #expect(size > Wire.maxBodyBytes)
            #expect(error.messageType == .roundResult)
        }
    }

    @Test func valuesOutOfRange() throws {
        let negativeRound = try Self.editBody(try WireMessage.ack(.init(taskID: 1, trialID: "t", round: 1)).encode()) {
            $0["round"] = -1
        }
        #expect(Self.kind(negativeRound) == .outOfRange(field: "message.round", detail: "is -1, must be ≥ 0"))
        let emptyTrial = try Self.editBody(Self.result) { message in
            var metrics = message["metrics"] as! [String: Any]
            metrics["trial_id"] = ""
            message["metrics"] = metrics
        }
        #expect(Self.kind(emptyTrial) == .outOfRange(field: "message.metrics.trial_id", detail: "is empty"))
        let hugeOffset = try Self.editBody(try Fixtures.all[24].encode()) { $0["offset"] = Int.max }
        guard case .outOfRange("message.offset", _) = Self.kind(hugeOffset) else {
            Issue.record("an offset past the end must be out of range (without overflowing)")
            return
        }
        #expect(
            throws: WireError(
                .outOfRange(field: "message.length", detail: "is 0, must be 1…\(Wire.maxChunkBytes)"),
                messageType: .dataRequest)
        ) { try WireMessage.dataRequest(.init(datasetID: "d", offset: 0, length: 0)).encode() }
        let badHex = try Self.editBody(try Fixtures.all[10].encode()) { $0["mask_parent"] = "FEDCBA9876543210" }
        guard case .badJSON(let detail) = Self.kind(badHex) else {
            Issue.record("upper-case hex must be refused")
            return
        }
        #expect(detail.contains("mask_parent"))
    }

    @Test func taskSpecIsCheckedKeyByKey() throws {
        let task = try WireMessage.task(.init(taskID: 1, trialID: "t", spec: TrialSpec(), dataset: Fixtures.dataset))
            .encode()
        let zeroBatch = try Self.editBody(task) { message in
            var spec = message["spec"] as! [String: Any]
            var train = spec["train"] as! [String: Any]
            train["batch"] = 0
            spec["train"] = train
            message["spec"] = spec
        }
        guard case .outOfRange("message.spec.train.batch", let detail) = Self.kind(zeroBatch) else {
            Issue.record("a zero batch must be refused before it reaches the trainer")
            return
        }
        #expect(detail.contains("minimum 1"))
        var spec = TrialSpec()
        spec.prune.rates = [0.2, 0.2]  // three weight layers: inconsistent
        #expect(throws: WireError.self) {
            try WireMessage.task(.init(taskID: 1, trialID: "t", spec: spec, dataset: Fixtures.dataset)).encode()
        }
    }

    @Test func errorsNameTheMessageType() throws {
        var frames = Self.result
        frames[2][0] ^= 1
        do {
            _ = try WireMessage.decode(frames)
            Issue.record("a flipped bit must not decode")
        } catch {
            #expect(error.messageType == .roundResult)
            #expect(error.description.hasPrefix("bad ROUND_RESULT message: blob 'mask' (frame 2)"))
            #expect(error.rejectCode == .badMessage)
        }
    }
}
