import LotteryCoordinator
import MaskCodec
import Testing

/// The coordinator's mask audit threads, fed the jobs the coordinator's fast path gives it (one lane, and three
/// lanes, where a trial's jobs must still run in order on its own lane).
@Suite struct MaskAuditTests {
    static let shapes: [(rows: Int, cols: Int)] = [(400, 100), (100, 10)]

    /// A nested ladder: round 0 dense, each later round drops a random third of the survivors (random, so a
    /// delta against the previous round is smaller than a self-contained file, as with real masks).
    static func ladder(_ rounds: Int) -> [Mask] {
        var masks = [Mask(shapes: shapes)]
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        for round in 1..<rounds {
            var layers = masks[round - 1].layers
            for l in layers.indices {
                var kept = layers[l].kept
                for i in kept.indices where kept[i] {
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    if (state >> 33) % 3 == 0 { kept[i] = false }
                }
                layers[l] = MaskLayer(rows: layers[l].rows, cols: layers[l].cols, kept: kept)
            }
            masks.append(Mask(layers: layers))
        }
        return masks
    }

    static func finish(_ audit: MaskAudit) -> [MaskAudit.Failure] {
        audit.waitIdle()
        defer { audit.stop() }
        return audit.takeFailures()
    }

    @Test(arguments: [1, 3]) func aHonestChainPassesFromRoundZero(lanes: Int) {
        let masks = Self.ladder(4)
        let audit = MaskAudit(lanes: lanes)
        audit.submit(
            .verify(
                trialID: "t1", round: 0, mask: MaskFile.encode(masks[0]),
                next: MaskFile.encode(masks[1], parent: masks[0])))
        for round in 1..<3 {
            audit.submit(
                .verify(trialID: "t1", round: round, mask: nil, next: MaskFile.encode(masks[round + 1], parent: masks[round])))
        }
        // A self-contained next mask is fine too, and a seeded trial continues from its seed.
        audit.submit(.seed(trialID: "t2", round: 2, mask: masks[2]))
        audit.submit(.verify(trialID: "t2", round: 2, mask: nil, next: MaskFile.encode(masks[3])))
        #expect(Self.finish(audit).isEmpty)
        #expect(audit.counters.verified == 4)
    }

    /// Ten trials' jobs interleaved round by round, as the coordinator accepts them: each lane keeps its trials'
    /// order, so every chain checks out.
    @Test(arguments: [1, 3]) func interleavedTrialsKeepTheirOrderOnEveryLane(lanes: Int) {
        let masks = Self.ladder(5)
        let audit = MaskAudit(lanes: lanes)
        let trials = (0..<10).map { "t\($0)" }
        for trial in trials {
            audit.submit(
                .verify(
                    trialID: trial, round: 0, mask: MaskFile.encode(masks[0]),
                    next: MaskFile.encode(masks[1], parent: masks[0])))
        }
        for round in 1..<4 {
            for trial in trials {
                audit.submit(
                    .verify(
                        trialID: trial, round: round, mask: nil, next: MaskFile.encode(masks[round + 1], parent: masks[round])))
            }
        }
        for trial in trials { audit.submit(.forget(trialID: trial)) }
        #expect(Self.finish(audit).isEmpty)
        #expect(audit.counters.verified == 40)
        #expect(audit.lanes == lanes)
    }

    @Test(arguments: [1, 3]) func aDeltaAgainstAnyOtherMaskFailsTheTrialOnce(lanes: Int) {
        let masks = Self.ladder(4)
        let audit = MaskAudit(lanes: lanes)
        audit.submit(.seed(trialID: "t1", round: 2, mask: masks[2]))
        // Round 3's mask against round 1's: decodable through the folder, but not against round 2's mask.
        let wrongParent = MaskFile.encode(masks[3], parent: masks[1])
        #expect((try? MaskFile.info(wrongParent))?.parentChecksum == masks[1].checksum)
        audit.submit(.verify(trialID: "t1", round: 2, mask: nil, next: wrongParent))
        audit.submit(.verify(trialID: "t1", round: 3, mask: nil, next: MaskFile.encode(masks[3])))
        audit.submit(.seed(trialID: "t2", round: 1, mask: masks[1]))
        audit.submit(.verify(trialID: "t2", round: 1, mask: nil, next: MaskFile.encode(masks[2], parent: masks[1])))
        let failures = Self.finish(audit)
        #expect(failures.map(\.trialID) == ["t1"])
        #expect(failures.first?.round == 2)
        #expect(failures.first?.reason.contains("delta against mask") == true)
    }

    @Test(arguments: [1, 3]) func aNextMaskWithoutItsRoundsMaskIsAFailureNotASilentPass(lanes: Int) {
        let masks = Self.ladder(3)
        let audit = MaskAudit(lanes: lanes)
        audit.submit(.verify(trialID: "t1", round: 1, mask: nil, next: MaskFile.encode(masks[2], parent: masks[1])))
        // Forgetting a trial drops its mask: the next verify for it has nothing to check against.
        audit.submit(.seed(trialID: "t2", round: 1, mask: masks[1]))
        audit.submit(.forget(trialID: "t2"))
        audit.submit(.verify(trialID: "t2", round: 1, mask: nil, next: MaskFile.encode(masks[2], parent: masks[1])))
        let failures = Self.finish(audit)
        #expect(Set(failures.map(\.trialID)) == ["t1", "t2"])
        #expect(failures.allSatisfy { $0.reason.contains("no checked mask of round 1") })
    }

    @Test(arguments: [1, 3]) func aRoundZeroMaskThatIsADeltaOrCorruptFails(lanes: Int) {
        let masks = Self.ladder(4)
        let audit = MaskAudit(lanes: lanes)
        var corrupt = MaskFile.encode(masks[0])
        corrupt[corrupt.count - 1] ^= 0x55
        audit.submit(.verify(trialID: "t1", round: 0, mask: corrupt, next: MaskFile.encode(masks[1], parent: masks[0])))
        let delta = MaskFile.encode(masks[2], parent: masks[1])
        #expect((try? MaskFile.info(delta))?.isDelta == true)
        audit.submit(.verify(trialID: "t2", round: 0, mask: delta, next: MaskFile.encode(masks[3], parent: masks[2])))
        let failures = Self.finish(audit)
        #expect(Set(failures.map(\.trialID)) == ["t1", "t2"])
        #expect(failures.allSatisfy { $0.reason.contains("mask of round 0 does not decode") })
    }
}
