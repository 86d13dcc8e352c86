public import Foundation

/// What `lth status DIR` shows, and `lth status --json` prints: one read of a results folder (docs/status.md).
///
/// Built by ``ResultsReader/status(now:expectedRounds:)`` from `results.db` and the folder's lock; a value, so it
/// is rendered (``text(width:)``) and encoded (`JSONEncoder`, keys in snake_case as documented) apart from the read.
public struct SweepStatus: Codable, Sendable, Hashable {
    /// Whether a coordinator is working on the folder.
    public enum State: String, Codable, Sendable, Hashable {
        /// A coordinator holds the folder's lock (`DIR/.lock`).
        case running
        /// No coordinator, and every trial ended (done or failed).
        case finished
        /// No coordinator, and some trials are not finished: run the same command again to resume.
        case interrupted
    }

    public struct Counts: Codable, Sendable, Hashable {
        public var total = 0
        public var done = 0
        public var running = 0
        public var queued = 0
        public var failed = 0

        public init(total: Int = 0, done: Int = 0, running: Int = 0, queued: Int = 0, failed: Int = 0) {
            self.total = total
            self.done = done
            self.running = running
            self.queued = queued
            self.failed = failed
        }
    }

    /// A trial a worker is on (state `running`), or was on when the sweep was interrupted.
    public struct RunningTrial: Codable, Sendable, Hashable {
        public var trialID: String
        public var worker: String?
        public var host: String?
        /// The round being trained: the number of rounds recorded so far.
        public var round: Int
        public var expectedRounds: Int?
        /// Density and test accuracy at early stop of the last recorded round (`nil` before round 0 is recorded).
        public var lastDensity: Double?
        public var lastTestAcc: Double?
        /// Seconds since the last recorded round of the trial (or since it started, before its first round).
        public var secondsInRound: Double?
    }

    public struct FailedTrial: Codable, Sendable, Hashable {
        public var trialID: String
        public var reason: String
        public var roundsDone: Int
    }

    /// One recorded round of a worker, most recent first.
    public struct RecentResult: Codable, Sendable, Hashable {
        public var trialID: String
        public var round: Int
        public var testAcc: Double?
        public var seconds: Double?
        public var recordedAt: String
    }

    /// A worker seen in the journal (`worker-joined` events) or in recorded rounds.
    public struct Worker: Codable, Sendable, Hashable {
        public var name: String
        public var host: String?
        public var slots: Int?
        public var roundsRecorded: Int
        /// When the coordinator last heard from it (any message, heartbeats included, persisted every 10 s or so; on
        /// databases before schema version 5, its last recorded round or journal event), and how long before
        /// ``SweepStatus/now`` that was.
        public var lastHeard: String?
        public var secondsSinceHeard: Double?
        /// Whether its last journal event says it left (`worker-lost`).
        public var left: Bool
        public var recent: [RecentResult]
    }

    /// One version of the sweep's spec (docs/results.md, "Extending a sweep").
    public struct SpecVersion: Codable, Sendable, Hashable {
        public var version: Int
        public var createdAt: String
        public var trialsReused: Int
        public var trialsAdded: Int
        public var trialsLeftOut: Int
        /// Reused trials this version gave control branches they did not have (0 before schema version 5).
        public var trialsNewControls: Int = 0
    }

    /// A journal line worth a person's attention (requeues, failures, lost workers, rejected results, cleanups).
    public struct Event: Codable, Sendable, Hashable {
        public var time: String
        public var kind: String
        public var worker: String?
        public var trialID: String?
        public var message: String
    }

    public var folder: String
    public var sweep: String
    public var createdAt: String
    /// The spec as first run (`sweep.spec_text`).
    public var spec: String
    public var state: State
    /// "pid P on host H since T" of the running coordinator (from `DIR/.lock`), else `nil`.
    public var coordinator: String?
    /// When this was read (ISO 8601 UTC).
    public var now: String
    public var trials: Counts
    public var roundsRecorded: Int
    /// Rounds the sweep will record in all, when known (the spec's expansion, or the registered trials' counts).
    public var roundsExpected: Int?
    /// Rounds per minute over the last ``rateWindow`` seconds of recorded rounds (`nil` with fewer than 2 rounds).
    public var roundsPerMinute: Double?
    /// Seconds the rate was measured over: the window asked for (10 minutes by default), or less when the rounds
    /// recorded so far span less.
    public var rateWindow: Double
    /// Seconds to completion at ``roundsPerMinute`` (only while running).
    public var etaSeconds: Double?
    public var running: [RunningTrial]
    public var failed: [FailedTrial]
    public var workers: [Worker]
    public var events: [Event]
    /// Where the cluster's time went (``Timeline``), or `nil` before any round is recorded.
    public var timeline: Timeline?
    /// The spec history, oldest first (one entry unless the sweep was extended; empty before schema version 4).
    public var specVersions: [SpecVersion] = []
}

extension SweepStatus {
    /// A JSON encoder for `--json`: snake_case keys, sorted, pretty-printed; NaN and infinities as strings.
    public static var jsonEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    /// One line: "running: 12/41 trials done, 3 running, 25 queued, 1 failed; 130 of 420 rounds recorded".
    public var progressLine: String {
        var line = "\(state.rawValue): \(trials.done)/\(trials.total) trials done"
        line += ", \(trials.running) \(runningLabel), \(trials.queued) queued, \(trials.failed) failed"
        line += "; \(roundsRecorded)\(roundsExpected.map { " of \($0)" } ?? "") rounds recorded"
        return line
    }

    /// Trials in state `running` are running only while a coordinator is; after it stopped they were cut short.
    var runningLabel: String { state == .running ? "running" : "cut short" }

    /// The status as text for a terminal (what `lth status` prints).
    public func text() -> String {
        var lines: [String] = []
        let head: String
        switch state {
        case .running: head = "running (coordinator \(coordinator ?? "?"))"
        case .finished: head = "finished"
        case .interrupted: head = "interrupted (no coordinator; run the same command again to resume)"
        }
        lines.append("sweep '\(sweep)' — \(head)")
        lines.append("folder   \(folder) · created \(createdAt) · read \(now)")
        lines.append(
            "trials   \(trials.done) done · \(trials.running) \(runningLabel) · \(trials.queued) queued · \(trials.failed) failed"
                + "  (of \(trials.total))")
        if specVersions.count > 1 {
            let history = specVersions.map { spec in
                spec.version == 1
                    ? "v1 \(spec.createdAt) (\(spec.trialsAdded) trials)"
                    : "v\(spec.version) \(spec.createdAt) (\(spec.trialsReused) reused, +\(spec.trialsAdded)"
                        + (spec.trialsNewControls > 0 ? ", \(spec.trialsNewControls) given new controls" : "")
                        + (spec.trialsLeftOut > 0 ? ", \(spec.trialsLeftOut) earlier not in it" : "") + ")"
            }
            lines.append("specs    " + history.joined(separator: " · "))
        }
        var rounds = "rounds   \(roundsRecorded)\(roundsExpected.map { " of \($0)" } ?? "") recorded"
        if let roundsPerMinute {
            rounds += String(format: " · %.1f rounds/min (last %@)", roundsPerMinute, Self.duration(rateWindow))
        }
        if let etaSeconds { rounds += " · ETA \(Self.duration(etaSeconds))" }
        lines.append(rounds)
        if let timeline {
            lines.append(
                String(
                    format: "time     %@ busy of %@ available worker-time: efficiency %.0f%%",
                    Self.duration(timeline.busySeconds), Self.duration(timeline.availableSeconds),
                    timeline.efficiency * 100))
        }
        if !running.isEmpty {
            lines.append(state == .running ? "running" : "unfinished (were running when it stopped)")
            let header = ["trial", "worker", "host", "round", "density", "test acc", "in round"]
            lines.append(Self.table([header] + running.map(Self.cells)))
        }
        if !workers.isEmpty {
            lines.append("workers")
            let header = ["name", "host", "slots", "rounds", "last heard", "recent results (trial round test acc)"]
            lines.append(Self.table([header] + workers.map(Self.cells)))
        }
        if !failed.isEmpty {
            lines.append("failed")
            for trial in failed {
                lines.append("  \(trial.trialID) after \(trial.roundsDone) round(s): \(trial.reason)")
            }
        }
        if !events.isEmpty {
            lines.append("events (latest \(events.count))")
            for event in events {
                let subject = [event.worker, event.trialID.map { "trial \($0)" }].compactMap { $0 }
                lines.append(
                    "  \(event.time)  \(event.kind)  \(subject.joined(separator: " "))\(subject.isEmpty ? "" : ": ")"
                        + event.message)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func cells(_ trial: RunningTrial) -> [String] {
        let round = "\(trial.round)" + (trial.expectedRounds.map { "/\($0 - 1)" } ?? "")
        let density = trial.lastDensity.map { String(format: "%.1f%%", $0 * 100) } ?? "-"
        let accuracy = trial.lastTestAcc.map { String(format: "%.4f", $0) } ?? "-"
        let age = trial.secondsInRound.map(duration) ?? "-"
        return [trial.trialID, trial.worker ?? "-", trial.host ?? "-", round, density, accuracy, age]
    }

    static func cells(_ worker: Worker) -> [String] {
        var heard = worker.secondsSinceHeard.map { duration($0) + " ago" } ?? "-"
        if worker.left { heard += " (left)" }
        var recent: [String] = []
        for result in worker.recent.prefix(3) {
            let accuracy = result.testAcc.map { String(format: "%.4f", $0) } ?? "-"
            recent.append("\(result.trialID.prefix(8)) r\(result.round) \(accuracy)")
        }
        let slots = worker.slots.map(String.init) ?? "-"
        return [
            worker.name, worker.host ?? "-", slots, String(worker.roundsRecorded), heard,
            recent.joined(separator: ", "),
        ]
    }

    /// "42s", "12m05s", "3h07m", "2d04h".
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total)s" }
        if total < 3600 { return String(format: "%dm%02ds", total / 60, total % 60) }
        if total < 86_400 { return String(format: "%dh%02dm", total / 3600, (total % 3600) / 60) }
        return String(format: "%dd%02dh", total / 86_400, (total % 86_400) / 3600)
    }

    /// Columns padded to their widest cell, two spaces apart, indented by two.
    static func table(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        var widths = Array(repeating: 0, count: first.count)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        func line(_ row: [String]) -> String {
            var cells: [String] = []
            for (index, cell) in row.enumerated() {
                let padding = index == row.count - 1 ? 0 : widths[index] - cell.count
                cells.append(cell + String(repeating: " ", count: padding))
            }
            return "  " + cells.joined(separator: "  ")
        }
        return rows.map(line).joined(separator: "\n")
    }
}
