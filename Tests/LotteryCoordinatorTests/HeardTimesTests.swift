import LotteryCoordinator
import Testing

/// When the coordinator persists each worker's last-heard time (``HeardTimes``): throttled while it lives, at once
/// when it is found dead, everything when the coordinator stops.
@Suite("Heard times")
struct HeardTimesTests {
    typealias Worker = HeardTimes.Worker

    /// One heartbeating worker and one silent since t = 5, polled every 0.1 s for two minutes as the loop does.
    @Test func aHeartbeatingWorkerIsWrittenOnceAnIntervalAndASilentOneKeepsItsOldTime() {
        var times = HeardTimes(interval: 10)
        var writes: [String: [Double]] = [:]
        for tick in 0...1200 {
            let now = Double(tick) / 10
            let workers = [
                Worker(id: "busy", lastSeen: now.rounded(.down), alive: true),  // a heartbeat every second
                Worker(id: "quiet", lastSeen: min(now, 5).rounded(.down), alive: true),
            ]
            for (worker, lastSeen) in times.due(workers, now: now) { writes[worker, default: []].append(lastSeen) }
        }
        let busy = writes["busy"] ?? []
        #expect(busy.count == 13, "\(busy)")  // t = 0, 10, …, 120
        #expect(zip(busy, busy.dropFirst()).allSatisfy { $1 - $0 >= 10 })
        #expect(busy.last == 120)
        #expect(writes["quiet"] == [0, 5], "its time stops where it fell silent")
    }

    @Test func aWorkerFoundDeadIsWrittenAtOnceAndOnlyOnce() {
        var times = HeardTimes(interval: 10)
        #expect(times.due([Worker(id: "w", lastSeen: 0, alive: true)], now: 0).map(\.lastSeen) == [0])
        #expect(times.due([Worker(id: "w", lastSeen: 3, alive: true)], now: 3).isEmpty)  // throttled
        #expect(times.due([Worker(id: "w", lastSeen: 3.5, alive: false)], now: 6.5).map(\.lastSeen) == [3.5])
        #expect(times.due([Worker(id: "w", lastSeen: 3.5, alive: false)], now: 30).isEmpty)
    }

    @Test func stoppingWritesEveryTimeNotYetWritten() {
        var times = HeardTimes(interval: 10)
        _ = times.due([Worker(id: "a", lastSeen: 0, alive: true), Worker(id: "b", lastSeen: 0, alive: true)], now: 0)
        let last = [Worker(id: "a", lastSeen: 4, alive: true), Worker(id: "b", lastSeen: 0, alive: true)]
        #expect(times.due(last, now: 4).isEmpty)
        #expect(times.due(last, now: 4.1, final: true).map(\.worker) == ["a"])
    }
}
