import ArgumentParser

/// `lth`: the researcher's toolbox. Argument parsing and wiring only; the work lives in the libraries.
@main
struct LTH: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lth",
        abstract: "Lottery Ticket Hypothesis experiments: train, sweep, report.",
        subcommands: [
            SweepCommand.self, TrainCommand.self, ReportCommand.self, DataCommand.self, MaskCommand.self,
            KeygenCommand.self, BenchCommand.self,
        ]
    )
}

/// `lth bench …`: measurements, never tests.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure training, mask coding and sweep throughput.",
        subcommands: [BenchTrainCommand.self, BenchCodecCommand.self, BenchSweepCommand.self]
    )
}
