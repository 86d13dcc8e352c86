import Foundation

/// The coordinator's one-line status display (on a terminal): trials done/running/queued/failed, rounds
/// done/expected, workers alive by host, throughput and ETA (``ETAEstimator``). Redrawn at most twice a second.
struct CoordinatorProgress {
    let sweepName: String
    /// Whether a status line is drawn (stderr is a terminal); otherwise this only feeds the ETA.
    let statusLine: Bool
    var eta = ETAEstimator(window: 300)
    var lastDraw: Double = -1
    var drawn = false

    init(sweepName: String, statusLine: Bool) {
        self.sweepName = sweepName
        self.statusLine = statusLine
    }

    mutating func roundRecorded(now: Double) {}

    mutating func refresh(scheduler: SchedulerStateMachine, now: Double, event: String?) {
        guard now - lastDraw >= 0.5 else { return }
        lastDraw = now
        let counts = scheduler.progress
        eta.record(roundsDone: counts.roundsDone, now: now)
        guard statusLine else { return }
        let line = Self.line(
            sweepName: sweepName, counts: counts, hosts: Self.hosts(scheduler), eta: eta)
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        drawn = true
    }

    /// Erases the status line so a log line can be printed cleanly (it is redrawn on the next refresh).
    mutating func clear() {
        guard statusLine, drawn else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        drawn = false
        lastDraw = -1
    }

    static func hosts(_ scheduler: SchedulerStateMachine) -> [String: Int] {
        var hosts: [String: Int] = [:]
        for worker in scheduler.workers.values where worker.alive { hosts[worker.host, default: 0] += 1 }
        return hosts
    }

    static func line(sweepName: String, counts: SchedulerProgress, hosts: [String: Int], eta: ETAEstimator) -> String {
        let hostText = hosts.sorted { $0.key < $1.key }.map { $0.value > 1 ? "\($0.key)×\($0.value)" : $0.key }
            .joined(separator: ", ")
        var parts = [
            "\(sweepName): trials \(counts.trialsDone) done · \(counts.trialsRunning) running · \(counts.trialsQueued) queued · \(counts.trialsFailed) failed",
            "rounds \(counts.roundsDone)/\(counts.roundsExpected)",
            "workers \(counts.workersAlive)" + (hostText.isEmpty ? "" : " (\(hostText))"),
        ]
        if let rate = eta.roundsPerSecond {
            parts.append(String(format: "%.1f rounds/min", rate * 60))
        }
        if let seconds = eta.secondsRemaining(roundsRemaining: counts.roundsRemaining), seconds > 0 {
            parts.append("ETA " + Self.duration(seconds))
        }
        return parts.joined(separator: " | ")
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        if total >= 3600 { return "\(total / 3600)h\(String(format: "%02d", total % 3600 / 60))m" }
        if total >= 60 { return "\(total / 60)m\(String(format: "%02d", total % 60))s" }
        return "\(total)s"
    }
}
