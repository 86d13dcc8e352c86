import Foundation
import LotteryCoordinator
import LotterySpecFile
import LotteryCore
import Testing

/// Issue 17, "Bad input and safety": a sweep's size is known (and refused above the limit) before it is expanded.
@Suite("Sweep size: count, cost and --max-trials before expansion")
struct SweepSizeTests {
    /// The typo: 1,000 learning rates × 10 round counts × 1,000 seeds = 10 million trials.
    static var tenMillion: String {
        let rates = (1...1_000).map { "\(Double($0) * 1e-6)" }.joined(separator: ", ")
        return """
            name: typo
            base: {train: {iterations: 1000}}
            grid:
              train.lr: [\(rates)]
              prune.rounds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
            seeds: 1000
            """
    }

    @Test func aSweepAboveTheLimitIsRefusedWithItsSizeAndTheWayOut() throws {
        let error = try #require(throws: SpecFileError.self) {
            try parseSweep(text: Self.tenMillion, file: "typo.yaml")
        }
        let message = error.description
        #expect(message.contains("1000 train.lr × 10 prune.rounds × 1000 seeds"), "\(message)")
        #expect(message.contains("10,000,000 trials"), "\(message)")
        #expect(message.contains("core-hours"), "\(message)")
        #expect(message.contains("limit of 10,000 trials"), "\(message)")
        #expect(message.contains("--max-trials 10000000"), "\(message)")
        #expect(message.hasPrefix("typo.yaml:"), "names the file and line: \(message)")
    }

    @Test func aSeedCountAboveTheLimitIsRefusedBeforeItsListIsMade() throws {
        let error = try #require(throws: SpecFileError.self) {
            try parseSweep(text: "name: s\nseeds: 1000000000000\n", file: "s.yaml")
        }
        #expect(error.description.contains("1,000,000,000,000 seeds"), "\(error)")
        #expect(error.description.contains("--max-trials"), "\(error)")
    }

    @Test func theLimitIsInclusiveAndCanBeRaised() throws {
        let text = GridSpecTests.quick  // 2 × 3 × 2 × 2 seeds = 24 trials
        #expect(throws: SpecFileError.self) { try parseSweep(text: text, file: "q.yaml", maxTrials: 23) }
        let plan = try parseSweep(text: text, file: "q.yaml", maxTrials: 24)
        #expect(plan.trials.count == 24)
        #expect(plan.size.trials == 24 && plan.size.exact)
        #expect(plan.size.shape == "2 reinit × 3 prune.strategy × 2 train.lr × 2 seeds")
    }

    @Test func sizeCountsBranchesRoundsAndCost() throws {
        let plan = try parseSweep(
            text: """
                name: c
                base: {train: {iterations: 1000, eval_every: 100}, prune: {rounds: 4}, controls: [reinit-random]}
                seeds: 3
                """, file: "c.yaml")
        let size = plan.size
        #expect(size.trials == 3)
        #expect(size.branchTrials == 3 * 4)  // one control per pruned round
        #expect(size.rounds == 3 * 5 + 12)
        let perRound = CostEstimate.coreSecondsPerRound(of: plan.trials[0].spec)
        #expect(perRound > 0)
        #expect(abs(size.coreSeconds - perRound * Double(size.rounds)) < 1e-6 * size.coreSeconds)
        #expect(size.description.hasPrefix("3 trials (+ 12 control branches), 27 rounds, ~"), "\(size)")
    }

    /// The estimate agrees with the cost sweeps/conv-paper.yaml states from measured step rates (~1,000 core-hours).
    @Test func theConvPaperEstimateMatchesItsMeasuredRates() throws {
        let plan = try loadSweep(path: repositoryRoot.appendingPathComponent("sweeps/conv-paper.yaml").path)
        let hours = plan.size.coreSeconds / 3600
        #expect(hours > 750 && hours < 1_350, "conv-paper: \(hours) core-hours")
    }

    @Test func theRefusalsFiguresAgreeWithTheExpandedSweeps() throws {
        // Small enough to expand (exact), then refused at a lower limit (figures from grid points scaled by the
        // seeds; 200 points, all in the sample): the two agree.
        let rates = (1...20).map { "\(Double($0) * 1e-5)" }.joined(separator: ", ")
        let text = """
            name: r
            base: {train: {iterations: 1000}}
            grid:
              train.lr: [\(rates)]
              prune.rounds: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
            seeds: 2
            """
        let exact = try parseSweep(text: text, file: "r.yaml").size
        #expect(exact.trials == 400)
        let error = try #require(throws: SpecFileError.self) {
            try parseSweep(text: text, file: "r.yaml", maxTrials: 10)
        }
        #expect(error.description.contains("~\(CostEstimate.grouped(exact.rounds)) rounds"), "\(error) vs \(exact)")
        #expect(
            error.description.contains("~\(CostEstimate.hours(exact.coreSeconds)) core-hours"), "\(error) vs \(exact)")
    }

    @Test func numbersAreGroupedTheSameWayEverywhere() {
        #expect(CostEstimate.grouped(0) == "0")
        #expect(CostEstimate.grouped(999) == "999")
        #expect(CostEstimate.grouped(1_000) == "1,000")
        #expect(CostEstimate.grouped(10_000_000) == "10,000,000")
        #expect(CostEstimate.hours(7_200) == "2.0")
        #expect(CostEstimate.hours(3_600 * 1_980) == "1,980")
    }
}
