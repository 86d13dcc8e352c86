import ArgumentParser

/// Placeholder until its issue lands.
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sweep", abstract: "(not built yet)")

    func run() throws {
        throw ValidationError("lth sweep is not built yet")
    }
}
