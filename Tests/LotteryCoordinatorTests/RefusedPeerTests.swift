import Foundation
import LotteryCoordinator
import LotteryCore
import LotteryWire
import Testing

/// Refused peers as journal events (issue 17: `lth status` lists rejected connections): what the machine reports,
/// and the rate at which ``RefusalJournal`` lets them into `results.db`.
@Suite("Refused peers")
struct RefusedPeerTests {
    static func refusal(_ peer: String = "10.0.0.7 with public key K", _ kind: PeerRefusal.Kind = .keyNotAllowed)
        -> PeerRefusal
    {
        PeerRefusal(peer: peer, kind: kind, reason: "client key not allowed")
    }

    // MARK: The rate

    @Test func theFirstRefusalIsWrittenAtOnceAndItsRepeatsAsOneCountedLine() {
        var journal = RefusalJournal(window: 60, maxPeers: 20)
        #expect(
            journal.refused(Self.refusal(), now: 0) == ["refused 10.0.0.7 with public key K: client key not allowed"])
        for second in 1...9 { #expect(journal.refused(Self.refusal(), now: Double(second)).isEmpty) }
        #expect(journal.tick(now: 59.9).isEmpty)
        #expect(
            journal.tick(now: 60) == [
                "refused 10.0.0.7 with public key K again 9 time(s) in the last 60 s (key-not-allowed; the first: "
                    + "client key not allowed)"
            ])
        // It stopped: the next window ends with nothing to say, and a later refusal is news again.
        #expect(journal.tick(now: 200).isEmpty)
        #expect(journal.refused(Self.refusal(), now: 300).count == 1)
    }

    /// A peer refused every second for an hour: one line a minute, each with its count, however long it goes on.
    @Test func aPeerRetryingInALoopCostsOneLineAMinute() {
        var journal = RefusalJournal(window: 60, maxPeers: 20)
        var lines: [String] = []
        for second in 0..<3600 {
            lines += journal.refused(Self.refusal(), now: Double(second))
            lines += journal.tick(now: Double(second) + 0.5)
        }
        lines += journal.flush()
        #expect(lines.count <= 61, "\(lines.count) lines")
        #expect(lines.first?.hasSuffix("client key not allowed") == true)
        #expect(lines.dropFirst().allSatisfy { $0.contains(" again ") })
        // Every refusal is accounted for: the first line, then the counts.
        let counted = lines.dropFirst().compactMap { line -> Int? in
            guard let range = line.range(of: " again ") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        #expect(counted.reduce(1, +) == 3600)
    }

    /// Kinds count apart for the same peer: a version mismatch is not a repeat of a bad message.
    @Test func eachKindOfRefusalOfAPeerIsItsOwnLine() {
        var journal = RefusalJournal()
        #expect(journal.refused(Self.refusal("10.0.0.7", .versionMismatch), now: 0).count == 1)
        #expect(journal.refused(Self.refusal("10.0.0.7", .badMessage), now: 1).count == 1)
        #expect(journal.refused(Self.refusal("10.0.0.8", .badMessage), now: 2).count == 1)
        #expect(journal.refused(Self.refusal("10.0.0.8", .badMessage), now: 3).isEmpty)
    }

    /// A flood of fresh keys (each one a new peer): the first `maxPeers` are listed, the rest counted in one line.
    @Test func aFloodOfFreshPeersIsCountedNotListed() {
        var journal = RefusalJournal(window: 60, maxPeers: 20)
        var lines: [String] = []
        for index in 0..<5000 {
            lines += journal.refused(Self.refusal("10.0.0.7 with public key K\(index)"), now: Double(index) / 100)
        }
        #expect(lines.count == 20)
        lines = journal.tick(now: 61)
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.first?.hasPrefix("refused 4980 more connection(s) or message(s) from 200+ other peer(s)") == true)
        #expect(journal.flush().isEmpty)
    }

    @Test func repeatsNotYetWrittenAreWrittenWhenTheCoordinatorStops() {
        var journal = RefusalJournal()
        _ = journal.refused(Self.refusal(), now: 0)
        _ = journal.refused(Self.refusal(), now: 1)
        #expect(
            journal.flush() == [
                "refused 10.0.0.7 with public key K again 1 time(s) before the coordinator stopped (key-not-allowed; "
                    + "the first: client key not allowed)"
            ])
        #expect(journal.flush().isEmpty)
    }

    @Test(arguments: [
        ("10.0.0.7:5555", "10.0.0.7"), ("10.0.0.7", "10.0.0.7"), ("[::1]:5555", "[::1]"), ("::1", "::1"), ("?", "?"),
    ])
    func addressesLoseTheirPort(address: String, peer: String) {
        #expect(PeerRefusal.withoutPort(address) == peer)
    }

    // MARK: What the machine reports

    /// A worker of another protocol version: REJECT `version_mismatch`, and a refusal naming its address (no port).
    @Test func aVersionMismatchIsReportedAsARefusedPeer() {
        var harness = CoordinatorHarness(trials: plannedTrials(1))
        harness.receive(CoordinatorHarness.hello("old"), from: "old", version: Wire.version + 1)
        #expect(harness.take("old").rejects.map(\.code) == [.versionMismatch])
        #expect(harness.refusals.map(\.kind) == [.versionMismatch])
        #expect(harness.refusals.first?.peer == "10.0.0.9")
        #expect(harness.refusals.first?.reason.contains("speaks protocol version \(Wire.version)") == true)
    }

    /// Garbage and HELLOs refused under CURVE are reported; an honest HELLO and a message before HELLO are not.
    @Test func badMessagesAndRefusedHellosAreReportedAndOrdinaryTrafficIsNot() {
        var harness = CoordinatorHarness(trials: plannedTrials(1), curve: true)
        harness.receive(frames: [Array("x".utf8), Array("not a header".utf8), [1, 2]], userID: "node7")
        #expect(harness.refusals.map(\.kind) == [.badMessage])
        #expect(harness.refusals.last?.peer == "node7@10.0.0.9")
        harness.receive(CoordinatorHarness.hello("anon"), from: "anon")
        #expect(harness.refusals.map(\.kind) == [.badMessage, .helloRefused])
        harness.receive(.heartbeat(.init()), from: "stranger")  // unknown worker: says HELLO again, not refused
        harness.receive(CoordinatorHarness.hello("w1"), from: "k", userID: "node7")
        harness.receive(.ready(.init(credit: 1)), from: "k", userID: "node7")
        #expect(harness.refusals.count == 2)
    }
}
