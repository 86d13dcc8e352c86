import ArgumentParser

/// Placeholder until its issue lands.
struct MaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mask", abstract: "(not built yet)")

    func run() throws {
        throw ValidationError("lth mask is not built yet")
    }
}
