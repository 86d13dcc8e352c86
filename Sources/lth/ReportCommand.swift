import ArgumentParser

/// Placeholder until its issue lands.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "(not built yet)")

    func run() throws {
        throw ValidationError("lth report is not built yet")
    }
}
