import Foundation

/// A status line on stderr: rewritten in place on a terminal, one line per `update(force: true)` otherwise.
///
/// Not thread-safe: use from one thread.
final class ProgressLine {
    let isTerminal = isatty(STDERR_FILENO) == 1
    private var lastDraw = Date.distantPast
    private var drawn = false

    /// Shows `text`. On a terminal, redraws at most 10 times a second unless `force`; elsewhere, prints a line
    /// only when `force` (callers force at milestones such as evaluations).
    func update(_ text: String, force: Bool = false) {
        if isTerminal {
            let now = Date()
            guard force || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
            lastDraw = now
            FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
            drawn = true
        } else if force {
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }

    /// Ends the line (on a terminal) so the next output starts fresh.
    func finish(_ text: String? = nil) {
        if let text { update(text, force: true) }
        if isTerminal, drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        drawn = false
    }
}

/// Writes one line to stderr.
func printError(_ text: String) {
    FileHandle.standardError.write(Data("\(text)\n".utf8))
}

/// `12.3 s`, `4 min 05 s`, `1 h 02 min`.
func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    if seconds < 60 { return String(format: "%.1f s", seconds) }
    let total = Int(seconds.rounded())
    if total < 3600 { return String(format: "%d min %02d s", total / 60, total % 60) }
    return String(format: "%d h %02d min", total / 3600, total % 3600 / 60)
}
