/// A mistake in a spec file (or a `--set` override): which file, which line, which key, what is allowed.
///
/// `description` is the one line shown to the user, compiler style:
/// `sweeps/x.yaml:7: grid.prune.strategy: 'magnitude' is not one of layerwise-magnitude, global-magnitude, random`.
public struct SpecFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file as the user named it (or `--set` for a command-line override).
    public var file: String
    /// 1-based line of the offending node, when known.
    public var line: Int?
    /// The dotted key as written in the file, with its section (`grid.train.lr`, `base.seed`, `seeds`), or empty.
    public var key: String
    /// What was wrong and what is allowed.
    public var message: String

    public init(file: String, line: Int?, key: String, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        text += ": "
        if !key.isEmpty { text += "\(key): " }
        return text + message
    }
}
