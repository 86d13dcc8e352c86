import ArgumentParser

/// Placeholder until its issue lands.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "data", abstract: "(not built yet)")

    func run() throws {
        throw ValidationError("lth data is not built yet")
    }
}
