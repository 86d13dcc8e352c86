import ArgumentParser

/// Placeholder until its issue lands.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "(not built yet)")

    func run() throws {
        throw ValidationError("lth train is not built yet")
    }
}
