import Foundation
import LotteryCore
import LotteryResults
import Testing

/// Registration in bounded pieces (issue 17, "Bad input and safety"): a lazy sequence of trials is read once, in
/// transactions of a few thousand, never collected into one array by the store.
@Suite("Results store: registering many trials")
struct RegistrationTests {
    /// A sequence that makes its registrations on demand and counts how many were asked for.
    final class Counter: @unchecked Sendable {  // used on one thread
        var pulled = 0
    }

    static func trials(_ count: Int, counter: Counter) -> some Sequence<TrialRegistration> {
        (0..<count).lazy.map { seed in
            counter.pulled += 1
            var spec = TrialSpec()
            spec.seed = seed
            return TrialRegistration(id: spec.trialID, spec: spec, expectedRounds: 21)
        }
    }

    @Test func moreThanOneChunkIsRegisteredInOrderOnceAndIdempotently() throws {
        try withTemporaryDirectory { dir in
            let store = try StoreFixture.open(dir)
            let count = 5_000 + 3  // crosses a transaction boundary
            let counter = Counter()
            try store.registerTrials(Self.trials(count, counter: counter))
            #expect(counter.pulled == count)
            let state = try store.recoveredState()
            #expect(state.trials.count == count)
            #expect(state.trials.map(\.spec.seed) == Array(0..<count))
            #expect(state.trials.allSatisfy { $0.status == .queued && $0.expectedRounds == 21 })
            // A restarted coordinator registers the same list again: nothing changes.
            try store.registerTrials(Self.trials(count, counter: Counter()))
            #expect(try store.recoveredState() == state)
        }
    }
}
