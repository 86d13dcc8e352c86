import ArgumentParser

/// Placeholder until its issue lands.
struct BenchCodecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "codec", abstract: "(not built yet)")

    func run() throws {
        throw ValidationError("lth codec is not built yet")
    }
}
