import Foundation
import LotteryAnalysis
import LotteryResults
import Testing

/// The report's "Where the time went" figure (issue 17): lanes, connected time, one bar per recorded round.
@Suite("Report: timeline figure")
struct TimelineChartTests {
    static let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    static var timeline: Timeline {
        Timeline.build(
            rounds: [
                ("alpha", "t1", 0, t0.addingTimeInterval(10), 10), ("alpha", "t1", 1, t0.addingTimeInterval(25), 10),
                ("beta", "t2", 0, t0.addingTimeInterval(40), 20),
            ],
            joins: [("alpha", t0, 2), ("beta", t0.addingTimeInterval(5), 1)], losses: [],
            end: t0.addingTimeInterval(60))!
    }

    @Test func oneLanePerWorkerOneBarPerRoundAndTheEfficiency() {
        let svg = TimelineChart(timeline: Self.timeline).svg()
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>"))
        #expect(svg.contains(">alpha ×2</text>") && svg.contains(">beta</text>"))
        #expect(svg.components(separatedBy: "<title>t1 round").count - 1 == 2)
        #expect(svg.components(separatedBy: "<title>t2 round").count - 1 == 1)
        #expect(svg.components(separatedBy: "<title>connected").count - 1 == 2)
        // busy 40 s of 2 × 60 + 55 = 175 available.
        #expect(svg.contains("Worker time: 23% busy"), "\(svg.prefix(400))")
    }

    @Test func lanesBeyondTheLimitAreLeftOut() {
        let svg = TimelineChart(timeline: Self.timeline, maxLanes: 1).svg()
        #expect(svg.contains(">alpha ×2</text>") && !svg.contains(">beta</text>"))
        #expect(!svg.contains("<title>t2 round"))
    }
}
