import ArgumentParser
import LotteryCLI
import LotteryCore

/// `lth`: the researcher's toolbox. Argument parsing and wiring only; the work lives in the libraries.
@main
struct LTH: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lth",
        abstract: "Lottery Ticket Hypothesis experiments: train, sweep, report.",
        subcommands: [
            SweepCommand.self, StatusCommand.self, ExportCommand.self, TrainCommand.self, ReportCommand.self,
            DataCommand.self, MaskCommand.self,
            KeygenCommand.self, BenchCommand.self,
        ]
    )

    /// ArgumentParser's own entry point, after making sure OpenBLAS runs kernels this CPU can use (``BLASCore``).
    static func main() async {
        BLASCore.restartIfNeeded(preferred: BLAS.preferredCoreType)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// `lth bench …`: measurements, never tests.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training, mask coding, sweep throughput and the results store.",
        subcommands: [BenchTrainCommand.self, BenchCodecCommand.self, BenchSweepCommand.self, BenchStoreCommand.self]
    )
}
