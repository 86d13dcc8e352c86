import ArgumentParser

/// Placeholder until its issue lands.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keygen", abstract: "(not built yet)")

    func run() throws {
        throw ValidationError("lth keygen is not built yet")
    }
}
