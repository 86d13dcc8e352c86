import ArgumentParser
import Foundation
import LotteryCoordinator
import LotteryResults

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `lth status DIR`: a sweep's state from another shell, read-only (docs/status.md).
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a sweep's progress from its results folder: trials, workers, rate, ETA, events.",
        discussion: """
            Reads DIR/results.db read-only (never writes into DIR, never blocks the coordinator), while the sweep \
            runs or after it ended, and says which: running (a coordinator holds DIR/.lock), finished, or \
            interrupted. --watch redraws every --interval seconds until Ctrl-C. --json prints one JSON document \
            (with --watch: one compact document per line); its fields are documented in docs/status.md.
            """
    )

    @Argument(help: "The results folder (the --out of lth sweep, lth-coordinator or lth train).")
    var directory: String

    @Flag(help: "Redraw in place every --interval seconds until interrupted.")
    var watch = false

    @Option(help: "Seconds between redraws with --watch.")
    var interval: Double = 2

    @Flag(help: "Print JSON (docs/status.md) instead of text.")
    var json = false

    func validate() throws {
        guard interval >= 0.1 else { throw ValidationError("--interval must be at least 0.1 s") }
    }

    func run() throws {
        let folder = URL(fileURLWithPath: directory, isDirectory: true)
        repeat {
            let status: SweepStatus
            do {
                let reader = try ResultsReader.open(directory: folder)
                status = try reader.snapshot { try reader.status(expectedRounds: SweepExpectation.rounds(reader)) }
            } catch let error as ResultsFolderError {
                throw SweepError(error.description)
            }
            if json {
                let encoder = SweepStatus.jsonEncoder
                if watch { encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes] }
                print(String(decoding: try encoder.encode(status), as: UTF8.self))
            } else {
                if watch { print("\u{1B}[H\u{1B}[2J", terminator: "") }  // home, clear screen
                print(status.text(), terminator: "")
            }
            fflush(nil)
            if watch { usleep(useconds_t(interval * 1_000_000)) }
        } while watch
    }
}

/// `lth export DIR`: rebuild trials.csv, rounds.csv and curves.csv from results.db now.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write trials.csv, rounds.csv and curves.csv from a results folder's results.db, at any time.",
        discussion: """
            Safe while the sweep runs: results.db is read on one consistent snapshot, read-only, and each CSV is \
            written to a temporary file and renamed into place, so a reader (pandas, a notebook) never sees half a \
            file. The coordinator rebuilds the same files every few seconds and at the end; this does it now.
            """
    )

    @Argument(help: "The results folder.")
    var directory: String

    func run() throws {
        let folder = URL(fileURLWithPath: directory, isDirectory: true)
        do {
            let reader = try ResultsReader.open(directory: folder)
            let status = try reader.snapshot { try reader.status(expectedRounds: SweepExpectation.rounds(reader)) }
            let summary = try reader.exportCSVs()
            print("sweep '\(status.sweep)' \(status.progressLine)")
            print(
                "wrote \(folder.path)/trials.csv (\(summary.trials) trials), rounds.csv (\(summary.rounds) rounds), "
                    + "curves.csv (\(summary.curvePoints) points)")
        } catch let error as ResultsFolderError {
            throw SweepError(error.description)
        }
    }
}

/// What the spec stored in a results folder expands to, for progress and ETA.
enum SweepExpectation {
    /// Rounds the sweep will record, control branches included: what its newest spec (the last extension, or the
    /// spec as first run) expands to on this folder (``SweepPlan/extending(registered:)``: trials given new controls
    /// keep their ids), plus the rounds recorded by trials of earlier specs that the newest one does not plan. `nil`
    /// when the spec is not a sweep spec (an `lth train` folder holds a trial spec).
    static func rounds(_ reader: ResultsReader) -> Int? {
        guard let text = try? reader.latestSpecText(),
            let written = try? parseSweep(text: text, file: "results.db", maxTrials: .max)
        else { return nil }
        guard
            let registered = try? reader.registeredTopLevelSpecs(
                sweepName: written.name, known: Dictionary(written.trials.map { ($0.id, $0.spec) }) { a, _ in a })
        else {
            return written.expectedRounds
        }
        let plan = written.extending(registered: registered).plan
        let earlier = (try? reader.recordedRounds(outside: Set(plan.trials.map(\.id)))) ?? 0
        return plan.expectedRounds + earlier
    }
}
