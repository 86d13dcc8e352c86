import ArgumentParser
import LotteryCore

/// `--data-dir DIR`, shared by every command that reads data; defaults to `$LTH_DATA_DIR`, else `./data`.
struct DataDirOption: ParsableArguments {
    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp("Data directory (default: $LTH_DATA_DIR, else ./data).", valueName: "DIR"))
    var dataDir: String?

    /// The directory to use.
    var directory: String { dataDir ?? DataStore.defaultDirectory() }
}
