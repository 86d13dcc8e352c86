public import Foundation

/// Where the cluster's time went: each worker's recorded rounds as spans on a time axis, the time it was
/// available, and the sweep's efficiency (busy worker-seconds ÷ available worker-seconds).
///
/// Built from `results.db` alone: a round's span ends at its `recorded_at` and lasts its `seconds` (the worker's own
/// measure of the round); a worker is available from each `worker-joined` event to the next `worker-lost` of that
/// worker (or the next join, or the end of the timeline), times its slots. A worker never seen joining (older
/// journals) is available from its first span's start. The end is now while the coordinator runs, else the last
/// recorded round or event. Times are seconds since ``start``.
public struct Timeline: Codable, Sendable, Hashable {
    public struct Span: Codable, Sendable, Hashable {
        public var worker: String
        public var trialID: String
        public var round: Int
        public var start: Double
        public var end: Double
    }

    /// One period a worker was connected, with the slots it offered.
    public struct Availability: Codable, Sendable, Hashable {
        public var worker: String
        public var from: Double
        public var to: Double
        public var slots: Int
    }

    public var start: String
    public var end: String
    /// Length of the timeline in seconds.
    public var seconds: Double
    /// Workers in order of first appearance (one lane each in the figure).
    public var workers: [String]
    public var spans: [Span]
    public var availability: [Availability]
    /// Σ span lengths.
    public var busySeconds: Double
    /// Σ availability length × slots.
    public var availableSeconds: Double
    /// busy ÷ available (0 when nothing was available), at most 1.
    public var efficiency: Double
    /// Per worker: busy seconds, available seconds.
    public var perWorker: [String: [Double]]

    /// Builds the timeline.
    ///
    /// - Parameters:
    ///   - rounds: `(worker, trialID, round, recordedAt, seconds)` of every recorded round.
    ///   - joins: `(worker, time, slots)` of every `worker-joined` event; `losses`: `(worker, time)` of `worker-lost`.
    ///   - end: the end of the timeline (now while running).
    public static func build(
        rounds: [(worker: String, trialID: String, round: Int, recordedAt: Date, seconds: Double)],
        joins: [(worker: String, time: Date, slots: Int)], losses: [(worker: String, time: Date)], end: Date
    ) -> Timeline? {
        guard !rounds.isEmpty || !joins.isEmpty else { return nil }
        let spanStarts = rounds.map { $0.recordedAt.addingTimeInterval(-max(0, $0.seconds.isFinite ? $0.seconds : 0)) }
        let origin = (spanStarts + joins.map(\.time)).min()!
        let finish = max(end, rounds.map(\.recordedAt).max() ?? end)
        func offset(_ date: Date) -> Double { date.timeIntervalSince(origin) }

        var order: [String] = []
        func see(_ worker: String) { if !order.contains(worker) { order.append(worker) } }
        var events: [(worker: String, time: Date, slots: Int?)] = joins.map { ($0.worker, $0.time, $0.slots) }
        events += losses.map { ($0.worker, $0.time, nil) }
        events.sort { $0.time < $1.time }
        for event in events { see(event.worker) }

        var spans: [Span] = []
        for (index, round) in rounds.enumerated() {
            see(round.worker)
            spans.append(
                Span(
                    worker: round.worker, trialID: round.trialID, round: round.round, start: offset(spanStarts[index]),
                    end: offset(round.recordedAt)))
        }
        var availability: [Availability] = []
        var open: [String: (from: Date, slots: Int)] = [:]
        for event in events {
            if let current = open[event.worker] {
                availability.append(
                    Availability(
                        worker: event.worker, from: offset(current.from), to: offset(event.time), slots: current.slots))
                open[event.worker] = nil
            }
            if let slots = event.slots { open[event.worker] = (event.time, max(1, slots)) }
        }
        for (worker, current) in open {
            availability.append(
                Availability(worker: worker, from: offset(current.from), to: offset(finish), slots: current.slots))
        }
        // Workers with spans but no journal of joining: available from their first span to the end.
        for worker in order where !availability.contains(where: { $0.worker == worker }) {
            let first = spans.filter { $0.worker == worker }.map(\.start).min() ?? 0
            availability.append(Availability(worker: worker, from: first, to: offset(finish), slots: 1))
        }
        availability.sort { ($0.from, $0.worker) < ($1.from, $1.worker) }

        var perWorker: [String: [Double]] = [:]
        for worker in order {
            let busy = spans.filter { $0.worker == worker }.reduce(0) { $0 + ($1.end - $1.start) }
            let available = availability.filter { $0.worker == worker }.reduce(0) {
                $0 + max(0, $1.to - $1.from) * Double($1.slots)
            }
            perWorker[worker] = [busy, available]
        }
        let busy = perWorker.values.reduce(0) { $0 + $1[0] }
        let available = perWorker.values.reduce(0) { $0 + $1[1] }
        return Timeline(
            start: ResultsCSV.timestamp(origin), end: ResultsCSV.timestamp(finish), seconds: offset(finish),
            workers: order, spans: spans, availability: availability, busySeconds: busy, availableSeconds: available,
            efficiency: available > 0 ? min(1, busy / available) : 0, perWorker: perWorker)
    }
}
